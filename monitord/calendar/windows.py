"""Named time windows for routing (a route's ``when``) and maintenance: pure, wall-clock based.

A :class:`TimeWindow` is a recurring daily window in a zone: ``days`` (weekdays), ``start`` and
``end`` wall-clock times, and optionally ``dates`` (explicit dates and inclusive date ranges).

- ``days`` and ``dates`` name the day a window *opens*: ``fri 22:00–06:00`` runs from Friday
  22:00 to Saturday 06:00, and a Saturday-morning instant belongs to Friday's occurrence.
- ``start > end`` crosses midnight; ``start == end`` is a whole 24-hour day from ``start``
  (``00:00``–``00:00``, the default, is every whole day).
- Membership is judged on the local wall clock, half-open ``[start, end)``: an instant whose
  local time is 01:30 on a day when 01:30 happens twice is inside a 01:00–02:00 window both
  times; a wall-clock time skipped by a spring-forward change is never "seen".

A :class:`OneOffWindow` is a single span between two instants (``from``/``to`` in config, a
naive value read in a given zone). :class:`AnyWindow` is the union of several windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from monitord.calendar.hours import (
    CalendarError,
    parse_weekday,
    require_aware,
    to_zone,
    wall_to_utc,
)

__all__ = ["ALL_DAYS", "AnyWindow", "DateSpec", "OneOffWindow", "TimeWindow", "Window"]

ALL_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)

DateSpec = date | tuple[date, date]
"""One date, or an inclusive ``(first, last)`` range of dates."""


@runtime_checkable
class Window(Protocol):
    """Anything that can say whether an instant falls inside it."""

    def contains(self, at: datetime) -> bool: ...

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None: ...


def _parse_time(value: time | str, what: str) -> time:
    if isinstance(value, time):
        return value.replace(tzinfo=None, fold=0)
    try:
        return time.fromisoformat(value.strip())
    except ValueError as exc:
        raise CalendarError(f"{what} {value!r} is not a time of day; write it as HH:MM") from exc


_DateRanges = tuple[tuple[date, date], ...]


def _parse_dates(dates: Iterable[DateSpec]) -> tuple[frozenset[date], _DateRanges]:
    singles: set[date] = set()
    ranges: list[tuple[date, date]] = []
    for item in dates:
        if isinstance(item, tuple):
            first, last = item
            if last < first:
                raise CalendarError(
                    f"date range {first} to {last} ends before it starts; swap the two dates"
                )
            ranges.append((first, last))
        else:
            singles.add(item)
    return frozenset(singles), tuple(sorted(ranges))


@dataclass(frozen=True, slots=True, init=False)
class TimeWindow:
    """A recurring wall-clock window: ``TimeWindow(["mon"], "22:00", "06:00", "Europe/London")``."""

    days: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo
    single_dates: frozenset[date] | None = None
    date_ranges: tuple[tuple[date, date], ...] = field(default=())

    def __init__(
        self,
        days: Iterable[str | int] | None = None,
        start: time | str = time(0),
        end: time | str = time(0),
        zone: ZoneInfo | str = "UTC",
        dates: Iterable[DateSpec] | None = None,
    ) -> None:
        parsed_days = frozenset(parse_weekday(d) for d in (ALL_DAYS if days is None else days))
        if not parsed_days:
            raise CalendarError("a time window with no days never matches; list at least one day")
        object.__setattr__(self, "days", parsed_days)
        object.__setattr__(self, "start", _parse_time(start, "window start"))
        object.__setattr__(self, "end", _parse_time(end, "window end"))
        object.__setattr__(self, "zone", to_zone(zone))
        if dates is None:
            object.__setattr__(self, "single_dates", None)
            object.__setattr__(self, "date_ranges", ())
        else:
            singles, ranges = _parse_dates(dates)
            if not singles and not ranges:
                raise CalendarError(
                    "a time window with an empty date list never matches; "
                    "list dates or leave `dates` out"
                )
            object.__setattr__(self, "single_dates", singles)
            object.__setattr__(self, "date_ranges", ranges)

    @property
    def crosses_midnight(self) -> bool:
        return self.start >= self.end

    def opens_on(self, d: date) -> bool:
        """Whether an occurrence of this window opens on local date ``d``."""
        if d.weekday() not in self.days:
            return False
        if self.single_dates is None:
            return True
        return d in self.single_dates or any(lo <= d <= hi for lo, hi in self.date_ranges)

    def _opening_day(self, at: datetime) -> date | None:
        local = require_aware(at).astimezone(self.zone)
        wall = local.time().replace(tzinfo=None, fold=0)
        today = local.date()
        if self.crosses_midnight:
            if wall >= self.start:
                candidate = today
            elif wall < self.end:
                candidate = today - timedelta(days=1)
            else:
                return None
        elif self.start <= wall < self.end:
            candidate = today
        else:
            return None
        return candidate if self.opens_on(candidate) else None

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls inside an occurrence of this window."""
        return self._opening_day(at) is not None

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The UTC ``(start, end)`` of the occurrence containing ``at``, or None.

        The end is where a maintenance window closes and held notices go out.
        """
        d = self._opening_day(at)
        if d is None:
            return None
        close_day = d + timedelta(days=1) if self.crosses_midnight else d
        return wall_to_utc(d, self.start, self.zone), wall_to_utc(close_day, self.end, self.zone)


@dataclass(frozen=True, slots=True)
class OneOffWindow:
    """A single span ``[start, end)`` between two aware instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        s = require_aware(self.start, "window start")
        e = require_aware(self.end, "window end")
        if e <= s:
            raise CalendarError(
                f"one-off window ends ({self.end.isoformat()}) before or when it starts "
                f"({self.start.isoformat()}); give a `to` after `from`"
            )
        object.__setattr__(self, "start", s)
        object.__setattr__(self, "end", e)

    @classmethod
    def parse(
        cls, start: str | datetime, end: str | datetime, zone: ZoneInfo | str = "UTC"
    ) -> OneOffWindow:
        """From config values such as ``"2026-12-24T17:00"``; a naive one is read in ``zone``."""
        tz = to_zone(zone)

        def read(value: str | datetime, what: str) -> datetime:
            if isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value.strip())
                except ValueError as exc:
                    raise CalendarError(
                        f"{what} {value!r} is not a date-time; write it as 2026-12-24T17:00"
                    ) from exc
            return value if value.tzinfo is not None else value.replace(tzinfo=tz)

        return cls(read(start, "window from"), read(end, "window to"))

    def contains(self, at: datetime) -> bool:
        return self.start <= require_aware(at) < self.end

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None:
        return (self.start, self.end) if self.contains(at) else None


@dataclass(frozen=True, slots=True)
class AnyWindow:
    """The union of windows: inside when any one contains the instant."""

    windows: tuple[Window, ...]

    def contains(self, at: datetime) -> bool:
        return any(w.contains(at) for w in self.windows)

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The earliest start and latest end among the member occurrences containing ``at``.

        Overlapping windows that continue one another are not chained: ask again at the end.
        """
        spans = [o for w in self.windows if (o := w.occurrence(at)) is not None]
        if not spans:
            return None
        return min(s for s, _ in spans), max(e for _, e in spans)
