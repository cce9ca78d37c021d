"""``monitord calendar patch-days YEAR [--config DIR]``: the twelve patch days of a year."""

from __future__ import annotations

import argparse
from datetime import MAXYEAR, MINYEAR

from monitord.calendar import BusinessCalendar, default_calendar, patch_days
from monitord.cli import add_config_argument

GROUP = "calendar"
GROUP_HELP = "Office hours, SLAs and patch days"


def agency_calendar(config_dir: str | None) -> BusinessCalendar:
    """The agency's calendar from ``--config DIR``; without it, the default (Europe/London,
    Mon–Fri 09:00–17:00, GB/ENG bank holidays)."""
    if config_dir is None:
        return default_calendar()
    # Imported here: the config loader (YAML, validation) is only needed with --config.
    from monitord.config import load_config, resolve_config_dir

    return BusinessCalendar.from_agency(load_config(resolve_config_dir(config_dir)).main.agency)


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year; write it as 2026") from None
    if not MINYEAR <= year <= MAXYEAR:
        raise argparse.ArgumentTypeError(f"{year} is out of range; use {MINYEAR} to {MAXYEAR}")
    return year


def handler(args: argparse.Namespace) -> int:
    cal = agency_calendar(args.config)
    for day in patch_days(args.year, cal):
        print(day.isoformat())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "patch-days",
        help="print the twelve patch days of a year, one ISO date a line",
        description=(
            "Print the twelve patch days of YEAR: the Thursday after the third Wednesday of each "
            "month, moved to the next working day when it is a holiday. With --config the "
            "agency's holidays apply; without, GB/ENG bank holidays."
        ),
    )
    parser.add_argument("year", metavar="YEAR", type=_year, help="the year, e.g. 2026")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
