"""``monitord hours delete SOURCE:ID``: withdraw a time entry (kept, marked deleted)."""

from __future__ import annotations

import argparse

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.models import Month
from monitord.errors import MonitordError

GROUP = "hours"


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    source, sep, source_id = args.entry.partition(":")
    if not sep or not source or not source_id:
        raise MonitordError(
            f"{args.entry!r} is not an entry; write it as SOURCE:ID, as `hours log` printed it "
            "(e.g. manual:3f2a9c01b2d4) or as the statement lists it"
        )
    with hc.open_hours(args.config) as h:
        entry = h.store.entry(source, source_id)
        if entry is None or entry.deleted:
            raise MonitordError(f"there is no time entry {args.entry} to delete")
        h.store.delete(source, source_id, now)
        month = Month.of(entry.at, h.zone)
        note = (
            " (its month is closed: the open month is credited)"
            if month in h.store.closed(entry.client)
            else ""
        )
        print(
            f"deleted {args.entry} of {entry.client}, dated {entry.at.astimezone(h.zone):%Y-%m-%d}{note}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "delete",
        help="withdraw a time entry",
        description=(
            "Withdraw a time entry, named SOURCE:ID (manual:3f2a9c01b2d4, csv:1042). It is kept, "
            "marked deleted; when its month is already closed, the open month is credited."
        ),
    )
    parser.add_argument("entry", metavar="SOURCE:ID", help="the entry, as the statement lists it")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
