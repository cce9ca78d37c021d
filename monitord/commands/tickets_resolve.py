"""``monitord tickets resolve ID [--note TEXT] [--config DIR]``: resolve a local ticket."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from monitord.cli import add_config_argument
from monitord.clock import utcnow
from monitord.commands.tickets_list import local, with_store
from monitord.commands.tickets_show import not_found
from monitord.store.base import TicketStore

GROUP = "tickets"


def handler(args: argparse.Namespace) -> int:
    async def work(store: TicketStore, tz: ZoneInfo) -> int:
        row = await store.resolve_local_ticket(args.id, args.note, utcnow())
        if row is None:
            raise not_found(args.id)
        print(f"ticket {row.id} resolved at {local(row.resolved_at, tz)}")
        return 0

    return with_store(args.config, work)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("resolve", help="resolve a local ticket")
    parser.add_argument("id", metavar="ID", type=int, help="the ticket's number")
    parser.add_argument("--note", metavar="TEXT", help="what was done (kept in its history)")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
