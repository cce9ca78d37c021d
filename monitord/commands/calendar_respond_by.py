"""``monitord calendar respond-by ISO_DATETIME [--config DIR]``: when a first response is due."""

from __future__ import annotations

import argparse
from datetime import datetime

from monitord.calendar import CalendarError
from monitord.cli import add_config_argument
from monitord.commands.calendar_patch_days import agency_calendar

GROUP = "calendar"
GROUP_HELP = "Office hours, SLAs and patch days"


def handler(args: argparse.Namespace) -> int:
    cal = agency_calendar(args)
    text = args.received.strip()
    try:
        received = datetime.fromisoformat(text)
    except ValueError:
        raise CalendarError(
            f"{text!r} is not an ISO 8601 date-time; write it as 2026-12-24T16:30 "
            "(agency time) or 2026-12-24T16:30:00+00:00"
        ) from None
    if received.tzinfo is None:
        received = received.replace(tzinfo=cal.zone)
    print(cal.respond_by(received).isoformat())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "respond-by",
        help="print when the first response to a request received at a time is due",
        description=(
            "Print the respond-by time (ISO 8601 with offset, in the agency's zone) for a request "
            "received at ISO_DATETIME: one working hour later, counting only office time. A time "
            "without an offset is read in the agency's zone."
        ),
    )
    parser.add_argument(
        "received", metavar="ISO_DATETIME", help="when it was received, e.g. 2026-12-24T16:30"
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
