"""A moment typed on the command line (``--at``, ``calendar respond-by``'s argument): one set
of forms and one error message for every command.

Accepted: ``2026-12-24T16:30`` — no offset: the agency's wall clock (``agency.timezone``);
``2026-12-24T16:30+01:00`` or ``2026-12-24T15:30Z`` — that exact instant. Seconds are
optional and a space may replace the ``T``. Commands that record work done on a day
(``hours``) also take a bare date, ``2026-12-24``, meaning its noon.

Reading is split in two so a malformed value is a usage error at parse time (exit 2, before
the configuration is loaded) while the zone comes from the configuration afterwards:
:func:`read_moment` gives an aware datetime or a naive one, :func:`in_zone` settles a naive
one in the agency's zone. Pure.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

EXAMPLES = "2026-12-24T16:30 (agency time), 2026-12-24T16:30+01:00 or 2026-12-24T15:30Z"
"""The accepted forms, as every error message lists them."""

DATE_NOON = time(12)
"""The time of day a bare date stands for, where dates are accepted: the middle of the
working day, clear of midnight in any zone's daylight-saving change."""


def read_moment(text: str, *, dates: bool = False) -> datetime:
    """``text`` as a datetime: aware when it carries an offset or ``Z``, naive (agency time,
    to be settled by :func:`in_zone`) when not. ``dates``: a bare date means its noon.

    Raises ValueError saying which forms are accepted.
    """
    s = text.strip()
    try:
        if dates and len(s) == len("2026-12-24"):
            return datetime.combine(date.fromisoformat(s), DATE_NOON)
        if len(s) < len("2026-12-24T16"):
            raise ValueError(s)  # a date alone, or less: a time of day is needed
        return datetime.fromisoformat(s)
    except ValueError:
        forms = EXAMPLES + (", or a date, 2026-12-24 (its noon)" if dates else "")
        raise ValueError(f"{text!r} is not a date and time; write it as {forms}") from None


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A naive moment read on ``zone``'s wall clock; an aware one unchanged."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_moment(text: str, zone: ZoneInfo, *, dates: bool = False) -> datetime:
    """:func:`read_moment` then :func:`in_zone`: an aware datetime."""
    return in_zone(read_moment(text, dates=dates), zone)
