"""The cluster half of the daemon, its plain parts: the checks as the leader decides them, the
combined result, the heartbeat rule, where a check is probed, and the nodes in status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.cluster.member import (
    combined_result,
    decided_checks,
    heartbeat_verdict,
    probes_here,
)
from monitord.cluster.quorum import NodeReport, Verdict, verdict
from monitord.cluster.view import cluster_section, format_nodes
from monitord.config import load_config
from monitord.results import ProbeResult
from monitord.schedule import scheduled_checks
from monitord.store.nodes import LeaderRow, NodeRow
from tests.helpers.daemon import agency_yaml

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)


def _config(tmp_path: Path, site_extra: str = "") -> Path:
    (tmp_path / "clients").mkdir()
    (tmp_path / "monitord.yml").write_text(agency_yaml(tmp_path))
    (tmp_path / "clients" / "acme.yml").write_text(
        "client: acme\nname: ACME\ncontacts: []\nsites:\n"
        "  - id: www\n    url: https://www.acme.example/\n"
        "    checks: [{type: http}, {type: tcp, port: 22, id: ssh}]\n"
        "    alert: {failure_threshold: 3, success_threshold: 2}\n" + site_extra
    )
    return tmp_path


def test_decided_checks_set_thresholds_to_one_and_keep_the_rest(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    checks = scheduled_checks(config)
    decided = decided_checks(checks)
    assert decided.keys() == checks.keys()
    for key, sc in decided.items():
        assert sc.site.alert.failure_threshold == 1
        assert sc.site.alert.success_threshold == 1
        assert sc.site.alert.repeat_every == checks[key].site.alert.repeat_every
        assert sc.spec == checks[key].spec and sc.site.id == checks[key].site.id
        # The configuration itself is untouched: each node applies the real thresholds.
        assert checks[key].site.alert.failure_threshold == 3
    # One copy of a site for all its checks (not one per check).
    sites = {id(sc.site) for sc in decided.values()}
    assert len(sites) == 1


@pytest.mark.parametrize(
    ("locations", "node", "expected"),
    [
        ("", "lon-1", True),
        ("    locations: [lon-1, ams-1]\n", "lon-1", True),
        ("    locations: [lon-1, ams-1]\n", "fra-1", False),
    ],
)
def test_a_node_probes_the_sites_of_its_locations(
    tmp_path: Path, locations: str, node: str, expected: bool
) -> None:
    config = load_config(_config(tmp_path, locations))
    for sc in scheduled_checks(config).values():
        assert probes_here(sc, node) is expected


def _v(*reports: tuple[str, str, bool, str]) -> Verdict:
    return verdict(
        [NodeReport(n, s, ok, msg, NOW) for n, s, ok, msg in reports],  # type: ignore[arg-type]
        interval=MINUTE,
        now=NOW,
    )


def test_combined_result_takes_the_verdict_and_the_own_result_when_it_agrees() -> None:
    v = _v(("lon-1", "down", False, "HTTP 503"), ("ams-1", "down", False, "HTTP 503"))
    assert v.outcome == "down"
    own_down = ProbeResult(ok=False, message="HTTP 503", duration=0.2, details={"status": 503})
    r = combined_result(v, own_down)
    assert not r.ok and r.message == v.message
    assert "ams-1" in r.message and "lon-1" in r.message
    assert r.details["status"] == 503 and r.duration == 0.2
    assert r.details["locations"] == {"ams-1": "down", "lon-1": "down"}
    # This node saw it up: its details do not describe the verdict, so they are left out.
    own_up = ProbeResult(ok=True, message="HTTP 200", duration=0.1, warning="cert 5 days")
    r = combined_result(v, own_up)
    assert r.duration == 0.0 and r.warning is None and "status" not in r.details
    # A passing verdict keeps this node's certificate warning (a TLS check's).
    up = _v(("lon-1", "up", True, "HTTP 200"), ("ams-1", "up", True, "HTTP 200"))
    r = combined_result(up, own_up)
    assert r.ok and r.warning == "cert 5 days"
    assert not r.inconclusive


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([("lon-1", "up", True, "beat"), ("ams-1", "down", False, "late")], "up"),
        ([("lon-1", "down", False, "late"), ("ams-1", "down", False, "late")], "down"),
        ([("lon-1", "down", False, "late"), ("ams-1", "unknown", False, "late")], "inconclusive"),
        ([("lon-1", "down", False, "late")], "down"),
        ([("lon-1", "unknown", True, "beat")], "inconclusive"),
    ],
)
def test_a_heartbeat_is_up_when_any_node_heard_it(
    reports: list[tuple[str, str, bool, str]], expected: str
) -> None:
    assert heartbeat_verdict(_v(*reports)).outcome == expected


def test_cluster_section_and_the_status_lines() -> None:
    nodes = [
        NodeRow("lon-1", "mon-lon", 101, NOW - MINUTE, NOW - timedelta(seconds=4), "r1", None, "1"),
        NodeRow(
            "ams-1", "mon-ams", 202, NOW - MINUTE, NOW - timedelta(seconds=95), "r2", None, "1"
        ),
    ]
    leader = LeaderRow("lon-1", 3, NOW - MINUTE)
    section = cluster_section(nodes, leader, "lon-1", NOW)
    assert [n["id"] for n in section["nodes"]] == ["ams-1", "lon-1"]
    ams, lon = section["nodes"]
    assert lon["leader"] and lon["alive"] and lon["this_node"]
    assert not ams["alive"] and not ams["leader"] and ams["seconds_since_heartbeat"] == 95
    lines = format_nodes(section, ZoneInfo("Europe/London"))
    assert lines[0] == "nodes (leader lon-1, epoch 3, since Mon 7 Dec 2026 09:59 GMT):"
    assert lines[1].split()[:2] == ["ams-1", "SILENT"]
    assert lines[2].split()[:2] == ["lon-1", "leader"]
    assert lines[2].endswith("this node")
    assert "(95 s ago)" in lines[1]
    assert format_nodes(cluster_section(nodes, None, None, NOW), ZoneInfo("UTC"))[0] == (
        "nodes (no leader yet):"
    )
