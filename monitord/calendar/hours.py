"""Office hours, bank holidays and the respond-by SLA: pure business-time arithmetic.

Every function takes the instant it reasons about; nothing here reads the clock.

Conventions (see DESIGN.md "Time"):

- Inputs are *aware* datetimes (UTC or any zone); a naive one is refused, because guessing its
  zone is how SLA clocks go wrong. Results are aware datetimes in the agency's zone.
- Office hours are wall-clock times in the agency's zone (09:00–17:00 Europe/London by default);
  an office period is half-open, ``[start, end)``: 17:00 itself is out of hours.
- Working time is *real elapsed* time inside office periods. On a day whose clocks change inside
  office hours (no UK day does; transitions are at 01:00/02:00) a period is an hour shorter or
  longer, as a person at the desk would experience it.
- A wall-clock office start or end that does not exist (inside a spring-forward gap) is read with
  the offset in force before the change, i.e. it lands just after the gap; an ambiguous one (in an
  autumn fold) is its first occurrence.
- All comparisons and arithmetic happen in UTC: Python compares two datetimes that share one
  ``ZoneInfo`` object by wall clock and adds timedeltas in wall-clock terms, both wrong across a
  clock change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_pkg

from monitord.errors import MonitordError

if TYPE_CHECKING:
    from monitord.config.models import Agency

__all__ = [
    "AUTO",
    "DEFAULT_COUNTRY",
    "DEFAULT_SUBDIVISION",
    "DEFAULT_ZONE",
    "EXTRA_CLOSURE_NAME",
    "MAX_DAYS_WITHOUT_OFFICE_TIME",
    "RESPONSE_TIME",
    "BusinessCalendar",
    "CalendarError",
    "agency_calendar",
    "parse_weekday",
    "require_aware",
    "to_zone",
    "wall_to_utc",
]

DEFAULT_ZONE = "Europe/London"
DEFAULT_COUNTRY = "GB"
DEFAULT_SUBDIVISION = "ENG"

RESPONSE_TIME = timedelta(hours=1)
"""The agency's first-response promise (the office-hours SLA): one working hour."""

EXTRA_CLOSURE_NAME = "Office closed"
"""The name :meth:`BusinessCalendar.holiday_name` gives an extra closure day from the config."""

MAX_DAYS_WITHOUT_OFFICE_TIME = 3660
"""How far (about ten years) a search for the next office period looks before giving up: a
calendar with no working day in that span is misconfigured, and an unbounded search would hang."""


class _Auto(Enum):
    AUTO = "auto"


AUTO: Final = _Auto.AUTO
"""``subdivision=AUTO`` (the default): ENG for GB, none for any other country."""

_DEFAULT_SUBDIVISIONS = {DEFAULT_COUNTRY: DEFAULT_SUBDIVISION}

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(MonitordError, ValueError):
    """The calendar cannot answer: a naive datetime, an unknown zone or country, no working days."""


def require_aware(at: datetime, what: str = "datetime") -> datetime:
    """Return ``at`` in UTC; refuse a naive datetime with a message saying what to pass."""
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise CalendarError(
            f"{what} {at.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. with tzinfo=datetime.UTC) or add an offset such as +00:00"
        )
    return at.astimezone(UTC)


def parse_weekday(day: str | int) -> int:
    """``"mon"``/``"Monday"``/``0`` -> 0 … ``"sun"``/``6`` -> 6 (``date.weekday()`` numbering)."""
    if isinstance(day, bool):
        raise CalendarError(f"{day!r} is not a weekday; use mon, tue, wed, thu, fri, sat or sun")
    if isinstance(day, int):
        if 0 <= day <= 6:
            return day
        raise CalendarError(f"weekday number {day} is out of range; use 0 (Monday) to 6 (Sunday)")
    key = day.strip().lower()
    if key in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(key)
    if key in _FULL_NAMES:
        return _FULL_NAMES.index(key)
    raise CalendarError(f"{day!r} is not a weekday; use mon, tue, wed, thu, fri, sat or sun")


_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def to_zone(zone: ZoneInfo | str) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            f"{zone!r} is not a time zone; use an IANA name such as Europe/London"
        ) from exc


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``day at`` in ``zone`` (gap: just after it; fold: first)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


class BusinessCalendar:
    """The agency's working calendar: office days and hours in its zone, minus holidays.

    Holidays are the ``holidays`` package's list for ``country``/``subdivision`` (GB/ENG by
    default; the subdivision defaults to ENG for GB and to none elsewhere; ``country=None`` for
    no public holidays) plus ``extra`` closure dates; each year's list is
    computed on first use and cached. Build one from the config with :meth:`from_agency`.
    """

    __slots__ = ("_country", "_days", "_end", "_extra", "_start", "_subdivision", "_years", "zone")

    def __init__(
        self,
        zone: ZoneInfo | str = DEFAULT_ZONE,
        days: Iterable[str | int] = ("mon", "tue", "wed", "thu", "fri"),
        start: time = time(9, 0),
        end: time = time(17, 0),
        *,
        country: str | None = DEFAULT_COUNTRY,
        subdivision: str | Literal[_Auto.AUTO] | None = AUTO,
        extra: Iterable[date] = (),
    ) -> None:
        self.zone = to_zone(zone)
        self._days = frozenset(parse_weekday(d) for d in days)
        if not self._days:
            raise CalendarError("office_hours.days is empty; list at least one day, e.g. [mon]")
        start = start.replace(tzinfo=None, fold=0)
        end = end.replace(tzinfo=None, fold=0)
        if end <= start:
            raise CalendarError(
                f"office hours end {end:%H:%M} is not after start {start:%H:%M}; "
                "office hours must lie within one day, e.g. 09:00 to 17:00"
            )
        self._start = start
        self._end = end
        self._extra = frozenset(extra)
        if subdivision is AUTO:
            subdivision = _DEFAULT_SUBDIVISIONS.get(country or "")
        self._country = country or None
        self._subdivision = subdivision if country else None
        self._years: dict[int, Mapping[date, str]] = {}
        if country:
            try:
                holidays_pkg.country_holidays(country, subdiv=subdivision)
            except NotImplementedError as exc:
                where = f"{country}/{subdivision}" if subdivision else country
                raise CalendarError(
                    f"holidays: {where} is not a known country/subdivision ({exc}); use an "
                    "ISO 3166 code such as GB with a subdivision such as ENG, or none"
                ) from exc

    @classmethod
    def from_agency(cls, agency: Agency) -> BusinessCalendar:
        """The calendar the config describes: its zone, ``office_hours`` and ``holidays``."""
        hol = agency.holidays
        # The config's subdivision defaults to ENG whatever the country; only GB has ENG.
        explicit = "subdivision" in hol.model_fields_set or hol.country == DEFAULT_COUNTRY
        return cls(
            agency.timezone,
            agency.office_hours.days,
            agency.office_hours.start,
            agency.office_hours.end,
            country=hol.country or None,
            subdivision=hol.subdivision if explicit else AUTO,
            extra=hol.extra,
        )

    def __repr__(self) -> str:
        days = ",".join(_WEEKDAY_NAMES[d] for d in sorted(self._days))
        return (
            f"BusinessCalendar({self.zone.key!r}, {days} {self._start:%H:%M}-{self._end:%H:%M}, "
            f"holidays={self._country}/{self._subdivision}, extra={len(self._extra)})"
        )

    # ------------------------------------------------------------------ properties

    @property
    def days(self) -> frozenset[int]:
        """Office weekdays, ``date.weekday()`` numbers (0 = Monday)."""
        return self._days

    @property
    def start(self) -> time:
        return self._start

    @property
    def end(self) -> time:
        return self._end

    @property
    def extra(self) -> frozenset[date]:
        return self._extra

    # ------------------------------------------------------------------ days

    def _holidays(self, year: int) -> Mapping[date, str]:
        cached = self._years.get(year)
        if cached is None:
            table: dict[date, str] = {}
            if self._country:
                found = holidays_pkg.country_holidays(
                    self._country, subdiv=self._subdivision, years=year
                )
                table.update((d, str(name)) for d, name in found.items() if d.year == year)
            cached = table
            self._years[year] = cached
        return cached

    def holiday_name(self, d: date) -> str | None:
        """The holiday's name (``"Boxing Day (observed)"``, ``"Office closed"``), else None."""
        name = self._holidays(d.year).get(d)
        if name is not None:
            return name
        return EXTRA_CLOSURE_NAME if d in self._extra else None

    def is_working_day(self, d: date) -> bool:
        """An office weekday that is neither a holiday nor an extra closure day."""
        return d.weekday() in self._days and self.holiday_name(d) is None

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it."""
        for _ in range(MAX_DAYS_WITHOUT_OFFICE_TIME):
            if self.is_working_day(d):
                return d
            d += timedelta(days=1)
        raise self._no_working_day(d)

    def _no_working_day(self, d: date) -> CalendarError:
        return CalendarError(
            f"no working day within {MAX_DAYS_WITHOUT_OFFICE_TIME} days before {d}; "
            f"check the office days and holidays of {self!r}"
        )

    # ------------------------------------------------------------------ periods

    def office_period(self, d: date) -> tuple[datetime, datetime]:
        """The UTC instants ``[start, end)`` of the office period on date ``d`` (not checked
        to be a working day)."""
        return wall_to_utc(d, self._start, self.zone), wall_to_utc(d, self._end, self.zone)

    def _local_date(self, at_utc: datetime) -> date:
        return at_utc.astimezone(self.zone).date()

    def _next_period(self, at_utc: datetime) -> tuple[datetime, datetime]:
        """The UTC bounds of the office period containing ``at_utc``, or the next one after."""
        d = self._local_date(at_utc)
        for _ in range(MAX_DAYS_WITHOUT_OFFICE_TIME):
            if self.is_working_day(d):
                start, end = self.office_period(d)
                if at_utc < end:
                    return start, end
            d += timedelta(days=1)
        raise self._no_working_day(d)

    def is_office_time(self, at: datetime) -> bool:
        """True inside an office period on a working day (``[start, end)``)."""
        at_utc = require_aware(at)
        d = self._local_date(at_utc)
        if not self.is_working_day(d):
            return False
        start, end = self.office_period(d)
        return start <= at_utc < end

    def next_office_start(self, at: datetime) -> datetime:
        """``at`` itself when it is office time, else the start of the next office period."""
        at_utc = require_aware(at)
        start, _ = self._next_period(at_utc)
        return max(start, at_utc).astimezone(self.zone)

    def office_period_end(self, at: datetime) -> datetime:
        """The end of the office period containing ``at`` or, out of hours, of the next one."""
        _, end = self._next_period(require_aware(at))
        return end.astimezone(self.zone)

    # ------------------------------------------------------------------ working time

    def add_working_time(self, start: datetime, delta: timedelta) -> datetime:
        """The instant at which ``delta`` of office time has passed since ``start``.

        Out-of-hours time does not count. A result may be the very end of an office period
        (16:00 + 1 h = 17:00). ``delta`` of zero gives :meth:`next_office_start`.
        """
        if delta < timedelta(0):
            raise CalendarError(f"cannot add negative working time ({delta}); pass 0 or more")
        t = require_aware(start, "start")
        remaining = delta
        for _ in range(MAX_DAYS_WITHOUT_OFFICE_TIME):
            period_start, period_end = self._next_period(t)
            t = max(t, period_start)
            if t + remaining <= period_end:
                return (t + remaining).astimezone(self.zone)
            remaining -= period_end - t
            t = period_end
        raise CalendarError(
            f"{delta} of working time from {start.isoformat()} needs more than "
            f"{MAX_DAYS_WITHOUT_OFFICE_TIME} days of office periods; pass a smaller duration"
        )

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time inside ``[a, b)`` (zero when ``b <= a``)."""
        lo = require_aware(a, "a")
        hi = require_aware(b, "b")
        total = timedelta(0)
        for _ in range(MAX_DAYS_WITHOUT_OFFICE_TIME):
            if lo >= hi:
                return total
            period_start, period_end = self._next_period(lo)
            if period_start >= hi:
                return total
            total += min(period_end, hi) - max(period_start, lo)
            lo = period_end
        raise CalendarError(
            f"the span {a.isoformat()} to {b.isoformat()} is too long to count working time in; "
            f"split it into spans shorter than {MAX_DAYS_WITHOUT_OFFICE_TIME} days"
        )

    def respond_by(self, received: datetime) -> datetime:
        """When the first response to something received at ``received`` is due: one working
        hour later (16:30 -> 09:30 next working day; 20:00 or a weekend -> 10:00)."""
        return self.add_working_time(received, RESPONSE_TIME)


@lru_cache(maxsize=8)  # a configuration or two alive at once (old and new across a reload)
def agency_calendar(agency: Agency) -> BusinessCalendar:
    """The calendar the agency's configuration describes (:meth:`BusinessCalendar.from_agency`),
    built once per configuration: building one loads the holiday tables, and routing, the
    ticket notifiers, the security service, the status page and the commands all ask for it."""
    return BusinessCalendar.from_agency(agency)
