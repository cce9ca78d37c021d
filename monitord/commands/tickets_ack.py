"""``monitord tickets ack ID [--by NAME] [--config DIR]``: acknowledge a local ticket (its
first response is done: no overdue reminder will be sent)."""

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
        row = await store.ack_local_ticket(args.id, args.by, utcnow())
        if row is None:
            raise not_found(args.id)
        if row.status == "resolved":
            print(f"ticket {row.id} is already resolved ({local(row.resolved_at, tz)})")
        else:
            who = f" by {row.acked_by}" if row.acked_by else ""
            print(f"ticket {row.id} acknowledged{who} at {local(row.acked_at, tz)}")
        return 0

    return with_store(args.config, work)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ack", help="acknowledge a local ticket (stops its overdue reminder)"
    )
    parser.add_argument("id", metavar="ID", type=int, help="the ticket's number")
    parser.add_argument("--by", metavar="NAME", help="who acknowledges it (kept in its history)")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
