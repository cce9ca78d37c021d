"""``monitord calendar respond-by ISO_DATETIME [--config DIR]``: when a first response is due."""

from __future__ import annotations

import argparse

from monitord.cli import add_config_argument, moment_argument
from monitord.commands.calendar_patch_days import agency_calendar
from monitord.timeinput import in_zone

GROUP = "calendar"
GROUP_HELP = "Office hours, SLAs and patch days"


def handler(args: argparse.Namespace) -> int:
    cal = agency_calendar(args)
    print(cal.respond_by(in_zone(args.received, cal.zone)).isoformat())
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
        "received",
        metavar="ISO_DATETIME",
        type=moment_argument,
        help="when it was received: 2026-12-24T16:30 (agency time), or with an offset, "
        "2026-12-24T16:30+01:00 or 2026-12-24T15:30Z",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
