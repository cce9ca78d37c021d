"""``monitord hours log CLIENT DURATION [--at ISO] [--ticket REF] [--note TEXT] [--by PERSON]``:
record time spent for a client by hand."""

from __future__ import annotations

import argparse
import secrets

from monitord.cli import add_config_argument, moment_or_date_argument
from monitord.contracts import cli as hc
from monitord.contracts.ledger import TimeEntry, first_open_month
from monitord.contracts.models import Month
from monitord.timeinput import in_zone

GROUP = "hours"
GROUP_HELP = "Support contracts: log and import time, statements, balances, closing months"

SOURCE = "manual"
"""The source of entries logged by hand; their ids are generated."""


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    with hc.open_hours(args.config) as h:
        _client, terms = h.client(args.client)
        seconds = hc.parse_entry_duration(args.duration)
        at = in_zone(args.at, h.zone) if args.at is not None else now
        hc.check_when(at, terms, h.zone, now)
        entry = TimeEntry(
            source=SOURCE,
            source_id=secrets.token_hex(6),
            client=args.client,
            at=at,
            seconds=seconds,
            ticket=args.ticket,
            note=args.note or "",
            person=args.by,
        )
        h.store.upsert(entry, now)
        day = at.astimezone(h.zone).date().isoformat()
        ticket = f" (ticket {args.ticket})" if args.ticket else ""
        shown = hc.fmt_minutes(-(-seconds // 60))
        print(f"logged {shown} for {args.client} on {day}{ticket} as {SOURCE}:{entry.source_id}")
        closed = h.store.closed(args.client)
        month = Month.of(at, h.zone)
        if month in closed:
            into = first_open_month(terms, closed)
            print(f"{month} is closed: booked into {into} as an adjustment dated {day}")
        this = Month.of(now, h.zone)
        if this >= terms.start:
            f = h.statement(args.client, this, now).figures
            as_of = f"in {this} (as of {hc.local(now, h.zone)})"
            if f.remaining >= 0:
                left = f"{hc.fmt_minutes(f.remaining)} of {hc.fmt_minutes(f.available)} left"
            else:
                left = f"{hc.fmt_minutes(-f.remaining)} over the {hc.fmt_minutes(f.available)} available"
            print(f"{args.client}: {left} {as_of}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "log",
        help="record time spent for a client",
        description=(
            "Record time spent for a client (source `manual`). DURATION is 1h30m, 45m or 1:30. "
            "--at is when the work was done: ISO 8601 with an offset, or agency time without "
            "one (default: now). An entry dated in a closed month is booked into the open month "
            "as an adjustment naming its date."
        ),
    )
    parser.add_argument("client", metavar="CLIENT", help="the client's id")
    parser.add_argument("duration", metavar="DURATION", help="time spent, e.g. 1h30m")
    parser.add_argument(
        "--at",
        metavar="ISO",
        type=moment_or_date_argument,
        help="when the work was done (default: now): 2026-03-04T16:30 (agency time), "
        "2026-03-04T16:30+01:00, 2026-03-04T15:30Z, or a date, 2026-03-04 (its noon)",
    )
    parser.add_argument("--ticket", metavar="REF", help="the ticket the work was for")
    parser.add_argument("--note", metavar="TEXT", help="what was done")
    parser.add_argument("--by", metavar="PERSON", help="who did it")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
