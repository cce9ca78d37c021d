"""``monitord calendar patch-days YEAR [--config DIR]``: the twelve patch days of a year."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitord.calendar import BusinessCalendar, default_calendar, patch_days
from monitord.calendar import agency_calendar as calendar_of
from monitord.cli import add_config_argument

GROUP = "calendar"
GROUP_HELP = "Office hours, SLAs and patch days"


def agency_calendar(args: argparse.Namespace) -> BusinessCalendar:
    """The agency's calendar from the configuration the command resolved (``--config DIR``,
    ``$MONITORD_CONFIG``, /etc/monitord, ./config). Only when none exists, the built-in one
    (Europe/London, Mon–Fri 09:00–17:00, GB/ENG bank holidays). Unless ``--config`` was
    given, stderr says which calendar was used: a respond-by from the wrong calendar is an
    SLA breach."""
    implicit = getattr(args, "config_implicit", args.config is None)
    if args.config is None:
        print(
            "monitord: no configuration found (--config, $MONITORD_CONFIG, /etc/monitord, "
            "./config): using the built-in calendar (Europe/London, Mon-Fri 09:00-17:00, "
            "GB/ENG bank holidays, no extra closure days)",
            file=sys.stderr,
        )
        return default_calendar()
    # Imported here: the config loader (YAML, validation) is only needed with a config.
    from monitord.config import load_config
    from monitord.notify.plugins import NOTIFIER_TYPES

    agency = load_config(Path(args.config), notifier_types=NOTIFIER_TYPES).main.agency
    if implicit:
        extra = len(agency.holidays.extra)
        hol = agency.holidays
        print(
            f"monitord: calendar of {agency.name} from {Path(args.config) / 'monitord.yml'} "
            f"({agency.timezone}, {hol.country}"
            f"{'/' + hol.subdivision if hol.subdivision else ''} bank holidays, "
            f"{extra} extra closure day{'s' if extra != 1 else ''})",
            file=sys.stderr,
        )
    return calendar_of(agency)


FIRST_YEAR, LAST_YEAR = 2000, 2100
"""Years patch days are printed for: drupal.org's monthly security release cycle did not exist
before, and a two-digit year (``27``) is a typo for 2027, not the year 27."""


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a year; write it in full, e.g. 2027"
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        hint = f"; did you mean {2000 + year}?" if 0 <= year < 100 else ""
        raise argparse.ArgumentTypeError(
            f"{year} is out of range: write the full year, {FIRST_YEAR} to {LAST_YEAR}{hint}"
        )
    return year


def handler(args: argparse.Namespace) -> int:
    cal = agency_calendar(args)
    for day in patch_days(args.year, cal):
        print(day.isoformat())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "patch-days",
        help="print the twelve patch days of a year, one ISO date a line",
        description=(
            "Print the twelve patch days of YEAR: the Thursday after the third Wednesday of each "
            "month, moved to the next working day when it is a holiday, in the agency's calendar "
            "(its bank holidays and closure days); the built-in GB/ENG calendar only when no "
            "configuration is found."
        ),
    )
    parser.add_argument("year", metavar="YEAR", type=_year, help="the year, e.g. 2026")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
