"""``monitord tickets list [--open] [--client ID] [--json] [--config DIR]``: the local tickets.

The ``tickets`` commands work on the state store named by the configuration, whether or not
the daemon runs: the SQLite file at ``state.path`` (its write-ahead log lets both write), or
the PostgreSQL database of ``state.url`` (opened without the daemon's lock, beside every node).
Times are shown in the agency's zone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from monitord.cli import add_config_argument
from monitord.clock import utcnow
from monitord.errors import MonitordError
from monitord.store.base import LocalTicketRow, TicketNoteRow, TicketStore
from monitord.store.sqlite import SqliteStore
from monitord.tickets import sort_tickets

GROUP = "tickets"
GROUP_HELP = "Local tickets (tickets-local): list, show, acknowledge, resolve"

LIST_LIMIT = 10_000
"""Tickets listed at most: a bound for a runaway store; real backlogs are far smaller."""

_T = TypeVar("_T")


def with_store(
    config_arg: str | None, work: Callable[[TicketStore, ZoneInfo], Awaitable[_T]]
) -> _T:
    """Run ``work`` on the configuration's store (opened and closed here)."""
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES

    config = load_config(resolve_config_dir(config_arg), notifier_types=NOTIFIER_TYPES)
    tz = ZoneInfo(config.main.agency.timezone)
    url = config.main.state.url
    if url is not None:
        return asyncio.run(_on_postgres(url, tz, work))
    path = config.state_path()
    if not path.exists():
        raise MonitordError(
            f"there is no state store at {path} yet — start the daemon once (monitord run), "
            "or check state.path in monitord.yml"
        )

    async def run() -> _T:
        store = SqliteStore(path)
        await store.open()
        try:
            return await work(store, tz)
        finally:
            await store.close()

    return asyncio.run(run())


async def _on_postgres(
    url: str, tz: ZoneInfo, work: Callable[[TicketStore, ZoneInfo], Awaitable[_T]]
) -> _T:
    """``work`` on the PostgreSQL store at ``url``: not exclusive, so beside running nodes;
    opening it brings an older database's schema up to date, as a node's start does."""
    from monitord.store.postgres import PostgresStore

    store = PostgresStore(url)
    await store.open()
    try:
        return await work(store, tz)
    finally:
        await store.close()


def local(dt: datetime | None, tz: ZoneInfo) -> str:
    """``Thu 26 Nov 2026 16:30 GMT`` in the agency's zone ("" for None): the format of the
    e-mails (:func:`monitord.notify.render.format_time`) and of ``monitord status``."""
    from monitord.notify.render import format_time

    return "" if dt is None else format_time(dt, tz)


def ticket_json(t: LocalTicketRow) -> dict[str, Any]:
    def iso(dt: datetime | None) -> str | None:
        return dt.isoformat() if dt is not None else None

    return {
        "id": t.id,
        "status": t.status,
        "priority": t.priority,
        "client": t.client,
        "site": t.site,
        "check": t.check,
        "kind": t.kind,
        "title": t.title,
        "thread": t.thread,
        "opened_at": iso(t.opened_at),
        "respond_by": iso(t.respond_by),
        "acked_at": iso(t.acked_at),
        "acked_by": t.acked_by,
        "resolved_at": iso(t.resolved_at),
        "reminded_at": iso(t.reminded_at),
    }


def note_json(n: TicketNoteRow) -> dict[str, Any]:
    return {"at": n.at.isoformat(), "kind": n.kind, "by": n.by, "text": n.text}


def table(rows: list[LocalTicketRow], tz: ZoneInfo, now: datetime) -> str:
    """The tickets as an aligned text table (pure)."""
    head = ("ID", "STATUS", "PRIORITY", "CLIENT", "SITE", "RESPOND BY", "TITLE")
    lines: list[tuple[str, ...]] = [head]
    for t in rows:
        status: str = t.status
        if t.status == "open" and t.respond_by <= now:
            status = "OVERDUE"
        lines.append(
            (
                str(t.id),
                status,
                t.priority,
                t.client,
                t.site or "-",
                local(t.respond_by, tz),
                t.title,
            )
        )
    widths = [max(len(r[i]) for r in lines) for i in range(len(head) - 1)]
    return "\n".join(
        "  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1] for r in lines
    )


def handler(args: argparse.Namespace) -> int:
    async def work(store: TicketStore, tz: ZoneInfo) -> int:
        rows = await store.local_tickets(open_only=args.open, client=args.client, limit=LIST_LIMIT)
        rows = sort_tickets(rows)
        if args.json:
            print(json.dumps([ticket_json(t) for t in rows], indent=2))
        elif not rows:
            print(
                "no tickets"
                + (" open" if args.open else "")
                + (f" for {args.client}" if args.client else "")
            )
        else:
            print(table(rows, tz, utcnow()))
        return 0

    return with_store(args.config, work)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list local tickets (open first, by priority, oldest due first)",
        description="List the tickets kept by the tickets-local notifier in the state store.",
    )
    parser.add_argument("--open", action="store_true", help="only tickets not resolved")
    parser.add_argument("--client", metavar="ID", help="only this client's tickets")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
