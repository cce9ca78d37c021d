"""The cluster as ``monitord status`` and the API show it (pure: rows in, plain data out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitord.limits import NODE_DEAD_AFTER
from monitord.store.nodes import LeaderRow, NodeRow


def cluster_section(
    nodes: Sequence[NodeRow], leader: LeaderRow | None, me: str | None, now: datetime
) -> dict[str, Any]:
    """The ``cluster`` part of a status snapshot: every node with its last heartbeat, whether
    it is alive (a beat within NODE_DEAD_AFTER), which one leads and with which epoch."""
    rows = []
    for n in sorted(nodes, key=lambda n: n.id):
        silent = (now - n.heartbeat).total_seconds()
        rows.append(
            {
                "id": n.id,
                "host": n.host,
                "pid": n.pid,
                "heartbeat": n.heartbeat.isoformat(),
                "seconds_since_heartbeat": round(max(silent, 0.0), 1),
                "alive": silent <= NODE_DEAD_AFTER.total_seconds(),
                "leader": leader is not None and leader.node == n.id,
                "this_node": n.id == me,
                "source_address": n.source_address,
                "version": n.version,
            }
        )
    return {
        "node": me,
        "leader": None
        if leader is None
        else {"node": leader.node, "epoch": leader.epoch, "since": leader.since.isoformat()},
        "nodes": rows,
    }


def format_nodes(section: dict[str, Any], tz: ZoneInfo) -> list[str]:
    """The ``nodes`` lines of ``monitord status`` (columns aligned)."""
    from monitord.notify.render import format_time

    leader = section.get("leader")
    head = (
        f"nodes (leader {leader['node']}, epoch {leader['epoch']}, since "
        f"{format_time(leader['since'], tz)}):"
        if leader
        else "nodes (no leader yet):"
    )
    rows: list[tuple[str, ...]] = []
    for n in section["nodes"]:
        role = "leader" if n["leader"] else "follower"
        if not n["alive"]:
            role = "SILENT"
        beat = (
            f"heartbeat {format_time(n['heartbeat'], tz)} ({n['seconds_since_heartbeat']:g} s ago)"
        )
        extra = "this node" if n["this_node"] else ""
        rows.append((n["id"], role, f"{n['host']} pid {n['pid']}", beat, extra))
    widths = [max(len(r[i]) for r in rows) for i in range(5)] if rows else []
    lines = [head]
    for r in rows:
        lines.append(
            ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
        )
    return lines
