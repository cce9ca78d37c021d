"""Multi-location quorum: from each node's view of a check to one verdict.

Pure: no clock, no I/O. With several nodes on one PostgreSQL store every node probes every
check (or the nodes a site's ``locations:`` names). Each node folds its own results into a
:class:`NodeStreak` with :func:`node_step` (the site's ``failure_threshold`` /
``success_threshold`` applied per node, counted as :func:`monitord.incidents.evaluate` counts)
and publishes it as a :class:`NodeReport`. The leader combines the reports with
:func:`verdict`:

* only *fresh* reports count: those at most ``QUORUM_FRESH_INTERVALS`` check intervals old; a
  node that stopped reporting (dead, cut off) is *stale* and is neither for nor against;
* ``required`` is the site's ``alert.quorum`` when set, else a majority of the fresh nodes
  (``len(fresh) // 2 + 1``);
* the check is DOWN when at least ``required`` fresh nodes see it down, UP when at least
  ``required`` see it up, otherwise the verdict is *inconclusive* and changes nothing. So one
  node whose own network fails is outvoted (1 of 3 down: up), and no node alone can declare a
  site down unless it is the only one left.

The verdict's message says which locations saw what, for e-mails and tickets:
``HTTP 503 (down from ams-1, lon-1; up from fra-1)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from monitord.store.nodes import NodeStatus

Outcome = Literal["down", "up", "inconclusive"]

QUORUM_FRESH_INTERVALS = 2
"""A node's report counts for this many check intervals after it was made. One interval is
too tight (a probe that takes its whole timeout, or a scheduler a little late, would make a
healthy node drop out of the vote every other round); two tolerate one late or lost round yet
drop a dead or cut-off node within two intervals, so the survivors' majority decides alone."""

QUORUM_MESSAGE_MAX_CHARS = 500
"""A verdict's message is cut to this many characters (the locations part kept whole when it
fits): it goes into subjects, ticket comments and status lines, and with many nodes each
failing differently it would otherwise grow with the cluster. A ticket title is 255."""


@dataclass(frozen=True, slots=True)
class NodeStreak:
    """One node's own view of one check: its status and the current run of results."""

    status: NodeStatus = "unknown"
    failures: int = 0
    """Consecutive failing results."""
    successes: int = 0
    """Consecutive passing results."""


def node_step(
    prev: NodeStreak, ok: bool, *, failure_threshold: int, success_threshold: int
) -> NodeStreak:
    """Fold one conclusive result into a node's streak: DOWN after ``failure_threshold``
    failures in a row, UP after ``success_threshold`` successes in a row (from unknown as
    well as from down). Inconclusive results are not passed here: they are no evidence."""
    if ok:
        s = replace(prev, successes=prev.successes + 1, failures=0)
        if s.status != "up" and s.successes >= success_threshold:
            s = replace(s, status="up")
        return s
    s = replace(prev, failures=prev.failures + 1, successes=0)
    if s.status != "down" and s.failures >= failure_threshold:
        s = replace(s, status="down")
    return s


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What one node last said about one check."""

    node: str
    status: NodeStatus
    ok: bool
    """The node's latest result passed."""
    message: str
    """The node's latest result's message (``HTTP 503``, ``connection refused``)."""
    at: datetime
    """When the node's latest result was made."""


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    required: int
    """Nodes that must agree for a DOWN or an UP."""
    failing: tuple[str, ...]
    """Fresh nodes whose status is down (sorted)."""
    passing: tuple[str, ...]
    """Fresh nodes whose status is up (sorted)."""
    waiting: tuple[str, ...]
    """Fresh nodes with no verdict of their own yet (status unknown; sorted)."""
    stale: tuple[str, ...]
    """Nodes whose report is older than QUORUM_FRESH_INTERVALS intervals: ignored (sorted)."""
    message: str
    """What e-mails and tickets say: the failing (or passing) nodes' message and who saw what."""


def _latest(reports: Sequence[NodeReport]) -> dict[str, NodeReport]:
    """Each node's latest report (a caller may pass several of one node)."""
    out: dict[str, NodeReport] = {}
    for r in reports:
        have = out.get(r.node)
        if have is None or r.at > have.at:
            out[r.node] = r
    return out


def verdict(
    reports: Sequence[NodeReport],
    *,
    interval: timedelta,
    now: datetime,
    quorum: int | None = None,
    locations: Collection[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Verdict:
    """Combine the nodes' reports about one check into one verdict (see the module's rules).

    ``interval`` is the check's interval; ``quorum`` the site's ``alert.quorum`` (None: a
    majority of the fresh nodes); ``locations`` the site's ``locations:`` (None: every node),
    whose reports alone count. ``labels`` (node id to a human name, ``nodes.<id>.location``)
    names the nodes in the message; ids are shown for nodes without one."""
    latest = _latest(reports)
    if locations is not None:
        allowed = set(locations)
        latest = {n: r for n, r in latest.items() if n in allowed}
    oldest = now - QUORUM_FRESH_INTERVALS * interval
    fresh = [latest[n] for n in sorted(latest) if latest[n].at >= oldest]
    stale = tuple(n for n in sorted(latest) if latest[n].at < oldest)
    failing = tuple(r.node for r in fresh if r.status == "down")
    passing = tuple(r.node for r in fresh if r.status == "up")
    waiting = tuple(r.node for r in fresh if r.status == "unknown")
    required = quorum if quorum is not None else len(fresh) // 2 + 1
    outcome: Outcome
    if len(failing) >= required:
        outcome = "down"
    elif len(passing) >= required:
        outcome = "up"
    else:
        outcome = "inconclusive"
    v = Verdict(outcome, required, failing, passing, waiting, stale, "")
    return replace(v, message=_message(v, latest, labels or {}))


def _names(nodes: Sequence[str], labels: Mapping[str, str]) -> str:
    return ", ".join(labels.get(n, n) for n in nodes)


def _message(v: Verdict, latest: Mapping[str, NodeReport], labels: Mapping[str, str]) -> str:
    def said(nodes: Sequence[str]) -> list[str]:
        return [latest[n].message for n in nodes]

    if v.outcome == "down":
        messages = said(v.failing)
        if len(set(messages)) == 1:
            head = messages[0]
            parts = [f"down from {_names(v.failing, labels)}"]
        else:
            head = "; ".join(
                f"{labels.get(n, n)}: {m}" for n, m in zip(v.failing, messages, strict=True)
            )
            parts = []
        if v.passing:
            parts.append(f"up from {_names(v.passing, labels)}")
    elif v.outcome == "up":
        # Passing messages differ in their timings (HTTP 200 in 85 ms): the first one speaks.
        head = said(v.passing)[0]
        parts = [f"up from {_names(v.passing, labels)}"]
        if v.failing:
            parts.append(f"down from {_names(v.failing, labels)}")
    else:
        head = _inconclusive_head(v)
        parts = [f"down from {_names(v.failing, labels)}"] if v.failing else []
        if v.passing:
            parts.append(f"up from {_names(v.passing, labels)}")
        if v.waiting:
            parts.append(f"waiting for {_names(v.waiting, labels)}")
        if v.stale:
            parts.append(f"no recent report from {_names(v.stale, labels)}")
    return _cut(head, f" ({'; '.join(parts)})" if parts else "")


def _inconclusive_head(v: Verdict) -> str:
    fresh = len(v.failing) + len(v.passing) + len(v.waiting)
    if fresh == 0:
        return "no node has reported recently"
    nodes = "node" if v.required == 1 else "nodes"
    return f"no quorum: {v.required} {nodes} must agree, {fresh} reported"


def _cut(head: str, tail: str) -> str:
    """``head + tail`` in QUORUM_MESSAGE_MAX_CHARS: the head is shortened first, so the
    locations (``tail``) stay whole when they fit."""
    limit = QUORUM_MESSAGE_MAX_CHARS
    if len(head) + len(tail) <= limit:
        return head + tail
    room = limit - len(tail)
    if room >= 2:
        return head[: room - 1] + "…" + tail
    return (head + tail)[: limit - 1] + "…"


LocationState = Literal["down", "up", "waiting", "stale"]


def describe_locations(v: Verdict) -> dict[str, str]:
    """Each node's part in the verdict, node id to ``down``/``up``/``waiting``/``stale`` in
    node order: the ``locations`` detail of the events made from it."""
    parts: list[tuple[str, LocationState]] = [
        *((n, "down") for n in v.failing),
        *((n, "up") for n in v.passing),
        *((n, "waiting") for n in v.waiting),
        *((n, "stale") for n in v.stale),
    ]
    return dict(sorted(parts))


__all__ = [
    "QUORUM_FRESH_INTERVALS",
    "QUORUM_MESSAGE_MAX_CHARS",
    "NodeReport",
    "NodeStatus",
    "NodeStreak",
    "Outcome",
    "Verdict",
    "describe_locations",
    "node_step",
    "verdict",
]
