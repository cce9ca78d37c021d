"""PSA heads-ups: the release window a public service announcement names — pure.

:func:`heads_up` is for a PSA announcing an upcoming highly critical release: its window (for
faster polling) and when the on-call person is told. :func:`announced_window` reads the window
from the PSA's words when the feed parser did not find one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from monitord.drupal.advisory import Advisory
from monitord.drupal.description import psa_window

PSA_HEADS_UP_LEAD = timedelta(hours=2)
"""The on-call person is told this long before a PSA's announced window opens: late enough to
be remembered, early enough to be at a keyboard when the release lands."""

PSA_DEFAULT_WINDOW = (time(16, 0), time(22, 0))
"""When a PSA names a day but no times, drupal.org's usual release window that day (UTC)."""

WINDOW_SEARCH_CHARS = 200
"""How far after a date a time range may be written and still belong to that date."""

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "jan",
            "feb",
            "mar",
            "apr",
            "may",
            "jun",
            "jul",
            "aug",
            "sep",
            "oct",
            "nov",
            "dec",
        ),
        start=1,
    )
}
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ORD = r"(?:st|nd|rd|th)?"
_DATES = (
    re.compile(_MONTH + r"\.?\s+(?P<day>\d{1,2})" + _ORD + r"(?:,?\s+(?P<year>\d{4}))?\b", re.I),
    re.compile(
        r"\b(?P<day>\d{1,2})"
        + _ORD
        + r"\s+(?:of\s+)?"
        + _MONTH
        + r"\.?(?:,?\s+(?P<year>\d{4}))?\b",
        re.I,
    ),
    re.compile(r"\b(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})\b"),
)
_CLOCK = r"(?P<h{n}>\d{{1,2}})(?::?(?P<m{n}>\d{{2}}))?\s*(?P<ap{n}>[ap]\.?m\.?)?"
_RANGE = re.compile(
    r"(?:between|from)?\s*"
    + _CLOCK.format(n=1)
    + r"\s*(?:UTC\s*)?(?:and|to|until|-|–|—)\s*"
    + _CLOCK.format(n=2)
    + r"\s*(?:UTC|GMT|\+00:?00|Z)\b",
    re.I,
)
_HIGHLY_CRITICAL = re.compile(r"highly[\s-]+critical", re.I)


def _hour(h: str, m: str | None, ap: str | None) -> time | None:
    hour, minute = int(h), int(m or 0)
    if ap:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ap.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def announced_window(
    text: str, published: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The release window a PSA's text announces, in UTC; None when it names no day.

    Lenient: ``on October 21, 2026 between 17:00 and 21:00 UTC``, ``Wednesday 21st October
    2026, 5pm to 9pm UTC``, ``2026-10-21 16:00–20:00 UTC``, ``1800 to 2200 UTC`` after a date
    given in another zone. A day without times means drupal.org's usual 16:00–22:00 UTC; a day
    without a year is the first such day on or after the PSA's publication.
    """
    flat = " ".join(text.split())
    strict = psa_window(flat)
    if strict is not None:
        return strict
    for pattern in _DATES:
        for d in pattern.finditer(flat):
            groups = d.groupdict()
            month = (
                int(groups["mnum"]) if groups.get("mnum") else _MONTHS[groups["month"][:3].lower()]
            )
            try:
                if groups.get("year"):
                    day = date(int(groups["year"]), month, int(groups["day"]))
                elif published is not None:
                    day = date(published.year, month, int(groups["day"]))
                    if day < published.date() - timedelta(days=1):
                        day = date(published.year + 1, month, int(groups["day"]))
                else:
                    continue
            except ValueError:
                continue
            start_t, end_t = PSA_DEFAULT_WINDOW
            r = _RANGE.search(flat, d.end(), d.end() + WINDOW_SEARCH_CHARS)
            if r is not None:
                s = _hour(r.group("h1"), r.group("m1"), r.group("ap1") or r.group("ap2"))
                e = _hour(r.group("h2"), r.group("m2"), r.group("ap2"))
                if s is not None and e is not None:
                    start_t, end_t = s, e
            start = datetime.combine(day, start_t, tzinfo=UTC)
            end = datetime.combine(day, end_t, tzinfo=UTC)
            if end <= start:
                end += timedelta(days=1)
            return start, end
    return None


def psa_text(advisory: Advisory) -> str:
    """The words of a PSA that may announce a release (title, vulnerability, solution)."""
    return " ".join(p for p in (advisory.title, advisory.vulnerability, advisory.solution) if p)


def advisory_window(advisory: Advisory) -> tuple[datetime, datetime] | None:
    """The window a PSA announces: the parser's, else read leniently from its words."""
    if advisory.kind != "psa":
        return None
    if advisory.window_start is not None and advisory.window_end is not None:
        return advisory.window_start, advisory.window_end
    return announced_window(psa_text(advisory), advisory.published)


@dataclass(frozen=True, slots=True)
class HeadsUp:
    advisory: str
    window_start: datetime
    window_end: datetime
    due: datetime
    """When the heads-up is delivered: PSA_HEADS_UP_LEAD before the window, or at once."""


def heads_up(advisory: Advisory, now: datetime) -> HeadsUp | None:
    """A heads-up for a PSA announcing an upcoming highly critical release, while its window
    has not yet ended; None for anything else."""
    if advisory.kind != "psa":
        return None
    if advisory.risk_label != "Highly critical" and not _HIGHLY_CRITICAL.search(psa_text(advisory)):
        return None
    window = advisory_window(advisory)
    if window is None or window[1] <= now:
        return None
    start, end = window
    return HeadsUp(advisory.id, start, end, max(now, start - PSA_HEADS_UP_LEAD))


def psa_windows(advisories: Iterable[Advisory], now: datetime) -> list[tuple[datetime, datetime]]:
    """Windows of highly critical releases announced by PSAs, not yet over (for poll_interval)."""
    found = {(h.window_start, h.window_end) for a in advisories if (h := heads_up(a, now))}
    return sorted(found)
