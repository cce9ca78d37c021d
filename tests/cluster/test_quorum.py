"""The quorum core: each node's streak, and the verdict the leader makes from the nodes' reports
(monitord.cluster.quorum). Pure: the clock is a value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from monitord.cluster.quorum import (
    QUORUM_FRESH_INTERVALS,
    QUORUM_MESSAGE_MAX_CHARS,
    NodeReport,
    NodeStatus,
    NodeStreak,
    Outcome,
    describe_locations,
    node_step,
    verdict,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(seconds=60)

# ---------------------------------------------------------------- node_step


def run(results: str, failure_threshold: int = 3, success_threshold: int = 2) -> NodeStreak:
    """Fold ``results`` (``x`` a failure, ``.`` a success) from a fresh streak."""
    s = NodeStreak()
    for c in results:
        s = node_step(
            s, c == ".", failure_threshold=failure_threshold, success_threshold=success_threshold
        )
    return s


STEPS: list[tuple[str, int, int, NodeStreak]] = [
    ("", 3, 2, NodeStreak()),
    (".", 3, 2, NodeStreak("unknown", 0, 1)),
    ("..", 3, 2, NodeStreak("up", 0, 2)),
    (".", 3, 1, NodeStreak("up", 0, 1)),
    ("xx", 3, 2, NodeStreak("unknown", 2, 0)),
    ("xxx", 3, 2, NodeStreak("down", 3, 0)),
    ("x", 1, 2, NodeStreak("down", 1, 0)),
    ("..xx", 3, 2, NodeStreak("up", 2, 0)),
    ("..xxx", 3, 2, NodeStreak("down", 3, 0)),
    ("..xx.xx", 3, 2, NodeStreak("up", 2, 0)),  # a success breaks the run of failures
    ("xxx.", 3, 2, NodeStreak("down", 0, 1)),
    ("xxx..", 3, 2, NodeStreak("up", 0, 2)),  # recovery
    ("xxx.x.", 3, 2, NodeStreak("down", 0, 1)),  # a failure breaks the run of successes
    ("xxxxx", 3, 2, NodeStreak("down", 5, 0)),
    ("x.x.x.", 2, 2, NodeStreak("unknown", 0, 1)),
]


@pytest.mark.parametrize(("results", "fail_at", "succeed_at", "expected"), STEPS)
def test_node_step(results: str, fail_at: int, succeed_at: int, expected: NodeStreak) -> None:
    assert run(results, fail_at, succeed_at) == expected


# ---------------------------------------------------------------- verdict

R = tuple[str, NodeStatus, str, int]
"""(node, status, message, age in seconds) of one report."""


def up(node: str, age: int = 0, message: str = "HTTP 200 in 85 ms") -> R:
    return (node, "up", message, age)


def down(node: str, message: str = "HTTP 503", age: int = 0) -> R:
    return (node, "down", message, age)


def unknown(node: str, message: str = "HTTP 503", age: int = 0) -> R:
    return (node, "unknown", message, age)


STALE = QUORUM_FRESH_INTERVALS * 60 + 1
"""An age just past freshness (at 60 s intervals)."""


class Row(NamedTuple):
    id: str
    reports: list[R]
    quorum: int | None
    locations: tuple[str, ...] | None
    outcome: Outcome
    required: int
    failing: tuple[str, ...]
    passing: tuple[str, ...]
    waiting: tuple[str, ...]
    stale: tuple[str, ...]
    message: str


ROWS = [
    Row("nothing reported", [], None, None, "inconclusive", 1, (), (), (), (),
        "no node has reported recently"),
    Row("one node up", [up("lon-1")], None, None, "up", 1, (), ("lon-1",), (), (),
        "HTTP 200 in 85 ms (up from lon-1)"),
    Row("one node down: alone, it decides", [down("lon-1")], None, None, "down", 1,
        ("lon-1",), (), (), (), "HTTP 503 (down from lon-1)"),
    Row("one node still unknown", [unknown("lon-1")], None, None, "inconclusive", 1,
        (), (), ("lon-1",), (), "no quorum: 1 node must agree, 1 reported (waiting for lon-1)"),
    Row("two nodes split: no majority", [down("lon-1"), up("ams-1")], None, None,
        "inconclusive", 2, ("lon-1",), ("ams-1",), (), (),
        "no quorum: 2 nodes must agree, 2 reported (down from lon-1; up from ams-1)"),
    Row("two nodes down", [down("lon-1"), down("ams-1")], None, None, "down", 2,
        ("ams-1", "lon-1"), (), (), (), "HTTP 503 (down from ams-1, lon-1)"),
    Row("two nodes up", [up("lon-1"), up("ams-1", message="HTTP 200 in 20 ms")], None, None,
        "up", 2, (), ("ams-1", "lon-1"), (), (), "HTTP 200 in 20 ms (up from ams-1, lon-1)"),
    Row("two nodes split, quorum 1: down wins", [down("lon-1"), up("ams-1")], 1, None,
        "down", 1, ("lon-1",), ("ams-1",), (), (), "HTTP 503 (down from lon-1; up from ams-1)"),
    Row("three up", [up("lon-1"), up("ams-1"), up("fra-1")], None, None, "up", 2, (),
        ("ams-1", "fra-1", "lon-1"), (), (), "HTTP 200 in 85 ms (up from ams-1, fra-1, lon-1)"),
    Row("1 of 3 down: its own network, outvoted",
        [down("lon-1", "connection refused"), up("ams-1"), up("fra-1")], None, None, "up", 2,
        ("lon-1",), ("ams-1", "fra-1"), (), (),
        "HTTP 200 in 85 ms (up from ams-1, fra-1; down from lon-1)"),
    Row("2 of 3 down", [down("lon-1"), down("ams-1"), up("fra-1")], None, None, "down", 2,
        ("ams-1", "lon-1"), ("fra-1",), (), (), "HTTP 503 (down from ams-1, lon-1; up from fra-1)"),
    Row("2 of 3 down, different messages",
        [down("lon-1"), down("ams-1", "connection refused"), up("fra-1")], None, None, "down", 2,
        ("ams-1", "lon-1"), ("fra-1",), (), (),
        "ams-1: connection refused; lon-1: HTTP 503 (up from fra-1)"),
    Row("3 of 3 down", [down("lon-1"), down("ams-1"), down("fra-1")], None, None, "down", 2,
        ("ams-1", "fra-1", "lon-1"), (), (), (), "HTTP 503 (down from ams-1, fra-1, lon-1)"),
    Row("3 of 3 down, every message its own",
        [down("lon-1", "HTTP 503"), down("ams-1", "timed out after 10s"),
         down("fra-1", "connection refused")], None, None, "down", 2,
        ("ams-1", "fra-1", "lon-1"), (), (), (),
        "ams-1: timed out after 10s; fra-1: connection refused; lon-1: HTTP 503"),
    Row("recovery: 2 of 3 back up", [up("lon-1"), up("ams-1"), down("fra-1")], None, None,
        "up", 2, ("fra-1",), ("ams-1", "lon-1"), (), (),
        "HTTP 200 in 85 ms (up from ams-1, lon-1; down from fra-1)"),
    Row("1 down, 1 up, 1 unknown: no majority either way",
        [down("lon-1"), up("ams-1"), unknown("fra-1")], None, None, "inconclusive", 2,
        ("lon-1",), ("ams-1",), ("fra-1",), (),
        "no quorum: 2 nodes must agree, 3 reported (down from lon-1; up from ams-1; waiting for fra-1)"),
    Row("2 down, 1 unknown: down", [down("lon-1"), down("ams-1"), unknown("fra-1")], None,
        None, "down", 2, ("ams-1", "lon-1"), (), ("fra-1",), (),
        "HTTP 503 (down from ams-1, lon-1)"),
    Row("a stale node drops out: 1 of the 2 fresh is no majority",
        [down("lon-1"), up("ams-1"), up("fra-1", age=STALE)], None, None, "inconclusive", 2,
        ("lon-1",), ("ams-1",), (), ("fra-1",),
        "no quorum: 2 nodes must agree, 2 reported (down from lon-1; up from ams-1; "
        "no recent report from fra-1)"),
    Row("two stale: the last fresh node decides alone",
        [down("lon-1"), up("ams-1", age=STALE), up("fra-1", age=3600)], None, None, "down", 1,
        ("lon-1",), (), (), ("ams-1", "fra-1"), "HTTP 503 (down from lon-1)"),
    Row("a report exactly two intervals old is fresh",
        [down("lon-1", age=QUORUM_FRESH_INTERVALS * 60), down("ams-1"), up("fra-1")], None,
        None, "down", 2, ("ams-1", "lon-1"), ("fra-1",), (), (),
        "HTTP 503 (down from ams-1, lon-1; up from fra-1)"),
    Row("all stale: inconclusive",
        [down("lon-1", age=STALE), down("ams-1", age=STALE)], None, None, "inconclusive", 1,
        (), (), (), ("ams-1", "lon-1"),
        "no node has reported recently (no recent report from ams-1, lon-1)"),
    Row("all stale with an explicit quorum", [down("lon-1", age=STALE)], 1, None,
        "inconclusive", 1, (), (), (), ("lon-1",),
        "no node has reported recently (no recent report from lon-1)"),
    Row("explicit quorum 1: one node suffices", [down("lon-1"), up("ams-1"), up("fra-1")], 1,
        None, "down", 1, ("lon-1",), ("ams-1", "fra-1"), (), (),
        "HTTP 503 (down from lon-1; up from ams-1, fra-1)"),
    Row("explicit quorum 3: 2 of 3 down is not enough",
        [down("lon-1"), down("ams-1"), up("fra-1")], 3, None, "inconclusive", 3,
        ("ams-1", "lon-1"), ("fra-1",), (), (),
        "no quorum: 3 nodes must agree, 3 reported (down from ams-1, lon-1; up from fra-1)"),
    Row("explicit quorum 3: all down", [down("lon-1"), down("ams-1"), down("fra-1")], 3, None,
        "down", 3, ("ams-1", "fra-1", "lon-1"), (), (), (),
        "HTTP 503 (down from ams-1, fra-1, lon-1)"),
    Row("explicit quorum 2 with one fresh node: never reached",
        [down("lon-1"), down("ams-1", age=STALE)], 2, None, "inconclusive", 2, ("lon-1",), (),
        (), ("ams-1",),
        "no quorum: 2 nodes must agree, 1 reported (down from lon-1; no recent report from ams-1)"),
    Row("locations: a node not listed is not counted",
        [down("lon-1"), down("ams-1"), up("fra-1")], None, ("fra-1", "lon-1"), "inconclusive",
        2, ("lon-1",), ("fra-1",), (), (),
        "no quorum: 2 nodes must agree, 2 reported (down from lon-1; up from fra-1)"),
    Row("locations: the listed nodes agree",
        [down("lon-1"), down("ams-1"), up("fra-1")], None, ("ams-1", "lon-1"), "down", 2,
        ("ams-1", "lon-1"), (), (), (), "HTTP 503 (down from ams-1, lon-1)"),
    Row("locations naming a node that never reported", [up("lon-1")], None,
        ("lon-1", "sgp-1"), "up", 1, (), ("lon-1",), (), (), "HTTP 200 in 85 ms (up from lon-1)"),
    Row("locations naming no reporting node", [up("lon-1")], None, ("sgp-1",), "inconclusive",
        1, (), (), (), (), "no node has reported recently"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_verdict(row: Row) -> None:
    reports = [
        NodeReport(node, status, status != "down", message, NOW - timedelta(seconds=age))
        for node, status, message, age in row.reports
    ]
    v = verdict(reports, interval=INTERVAL, now=NOW, quorum=row.quorum, locations=row.locations)
    assert (v.outcome, v.required) == (row.outcome, row.required)
    assert (v.failing, v.passing, v.waiting, v.stale) == (
        row.failing,
        row.passing,
        row.waiting,
        row.stale,
    )
    assert v.message == row.message


def test_table_is_large_and_ids_unique() -> None:
    assert len(ROWS) >= 25
    assert len({r.id for r in ROWS}) == len(ROWS)


def test_a_nodes_latest_report_counts() -> None:
    old = NodeReport("lon-1", "down", False, "HTTP 503", NOW - timedelta(seconds=30))
    new = NodeReport("lon-1", "up", True, "HTTP 200", NOW)
    for reports in ([old, new], [new, old]):
        v = verdict(reports, interval=INTERVAL, now=NOW)
        assert (v.outcome, v.passing, v.failing) == ("up", ("lon-1",), ())


def test_the_interval_sets_freshness() -> None:
    """Freshness is counted in the check's own intervals, not a fixed time."""
    report = NodeReport("lon-1", "down", False, "HTTP 503", NOW - timedelta(minutes=9))
    assert verdict([report], interval=timedelta(minutes=5), now=NOW).outcome == "down"
    assert verdict([report], interval=timedelta(minutes=4), now=NOW).outcome == "inconclusive"


def test_labels_name_the_locations() -> None:
    reports = [
        NodeReport("lon-1", "down", False, "HTTP 503", NOW),
        NodeReport("ams-1", "down", False, "HTTP 503", NOW),
        NodeReport("fra-1", "up", True, "HTTP 200", NOW),
    ]
    labels = {"lon-1": "London", "ams-1": "Amsterdam"}
    v = verdict(reports, interval=INTERVAL, now=NOW, labels=labels)
    assert v.message == "HTTP 503 (down from Amsterdam, London; up from fra-1)"
    assert v.failing == ("ams-1", "lon-1")  # ids, in id order, whatever the labels


def test_a_long_message_is_cut_keeping_the_locations() -> None:
    reports = [
        NodeReport("lon-1", "down", False, "x" * 2000, NOW),
        NodeReport("ams-1", "down", False, "x" * 2000, NOW),
    ]
    v = verdict(reports, interval=INTERVAL, now=NOW)
    assert len(v.message) == QUORUM_MESSAGE_MAX_CHARS
    assert v.message.endswith("x… (down from ams-1, lon-1)")


def test_a_huge_cluster_message_is_cut_too() -> None:
    nodes = [f"node-{i:03d}" for i in range(200)]
    reports = [NodeReport(n, "down", False, "HTTP 503", NOW) for n in nodes]
    v = verdict(reports, interval=INTERVAL, now=NOW)
    assert v.outcome == "down"
    assert len(v.message) == QUORUM_MESSAGE_MAX_CHARS
    assert v.message.startswith("HTTP 503 (down from node-000, node-001")
    assert v.message.endswith("…")


def test_describe_locations() -> None:
    reports = [
        NodeReport("lon-1", "down", False, "HTTP 503", NOW),
        NodeReport("ams-1", "up", True, "HTTP 200", NOW),
        NodeReport("fra-1", "unknown", False, "HTTP 503", NOW),
        NodeReport("sgp-1", "down", False, "HTTP 503", NOW - timedelta(hours=1)),
    ]
    v = verdict(reports, interval=INTERVAL, now=NOW)
    described = describe_locations(v)
    assert described == {"ams-1": "up", "fra-1": "waiting", "lon-1": "down", "sgp-1": "stale"}
    assert list(described) == ["ams-1", "fra-1", "lon-1", "sgp-1"]
