"""Hourly roll-ups of probe results (pure).

A result stands for its check's state from the moment it was taken for one check interval
(until the next result is due). That span is cut at UTC hour boundaries; within each hour its
seconds are *maintenance* where a maintenance window covers them, else *up* or *down* by the
result. The result itself is counted as a probe in the hour it was taken.

Hours are UTC hours, so a day with a DST change simply has 23 or 25 of them in the agency's
zone; days are the agency zone's dates of the hours' starts (exact for zones on whole-hour
offsets).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Slice:
    """Seconds of one check in one UTC hour."""

    hour: datetime
    """The hour's start (aware, UTC)."""
    up: float = 0.0
    down: float = 0.0
    maintenance: float = 0.0
    probes: int = 0

    def __add__(self, other: Slice) -> Slice:
        return Slice(
            self.hour,
            self.up + other.up,
            self.down + other.down,
            self.maintenance + other.maintenance,
            self.probes + other.probes,
        )


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour ``at`` falls in."""
    u = at.astimezone(UTC)
    return u.replace(minute=0, second=0, microsecond=0)


def _overlap(a: Span, b: Span) -> float:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return max(0.0, (end - start).total_seconds())


def _covered(span: Span, windows: Sequence[Span]) -> float:
    """Seconds of ``span`` inside any of ``windows`` (overlapping windows counted once)."""
    cuts = sorted(
        (max(s, span[0]), min(e, span[1])) for s, e in windows if e > span[0] and s < span[1]
    )
    total = 0.0
    cur_s: datetime | None = None
    cur_e: datetime | None = None
    for s, e in cuts:
        if cur_e is None or s > cur_e:
            if cur_s is not None and cur_e is not None:
                total += (cur_e - cur_s).total_seconds()
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_s is not None and cur_e is not None:
        total += (cur_e - cur_s).total_seconds()
    return total


def attribute(
    at: datetime, interval: timedelta, ok: bool, maintenance: Sequence[Span] = ()
) -> list[Slice]:
    """The hour slices of one result taken at ``at`` standing for ``interval``."""
    start = at.astimezone(UTC)
    end = start + interval
    out: list[Slice] = []
    hour = hour_of(start)
    first = True
    while hour < end:
        span = (max(start, hour), min(end, hour + HOUR))
        seconds = _overlap(span, (start, end))
        maint = _covered(span, maintenance)
        rest = seconds - maint
        out.append(
            Slice(
                hour,
                up=rest if ok else 0.0,
                down=0.0 if ok else rest,
                maintenance=maint,
                probes=1 if first else 0,
            )
        )
        first = False
        hour += HOUR
    return out


def merge(slices: Iterable[tuple[str, Slice]]) -> dict[tuple[str, datetime], Slice]:
    """Sum slices per (check key, hour): a batch becomes one upsert per hour and check."""
    out: dict[tuple[str, datetime], Slice] = {}
    for key, s in slices:
        k = (key, s.hour)
        out[k] = out[k] + s if k in out else s
    return out


@dataclass(frozen=True, slots=True)
class Availability:
    up: float
    down: float
    maintenance: float

    @property
    def measured(self) -> float:
        return self.up + self.down

    @property
    def percent(self) -> float | None:
        """Up ÷ (up + down) × 100; None when nothing was measured."""
        return None if self.measured <= 0 else 100.0 * self.up / self.measured


def availability(slices: Iterable[Slice]) -> Availability:
    up = down = maint = 0.0
    for s in slices:
        up += s.up
        down += s.down
        maint += s.maintenance
    return Availability(up, down, maint)


def daily(slices: Iterable[Slice], zone: ZoneInfo) -> dict[date, Availability]:
    """Availability per local date of the hours' starts."""
    by_day: dict[date, list[Slice]] = {}
    for s in slices:
        by_day.setdefault(s.hour.astimezone(zone).date(), []).append(s)
    return {d: availability(v) for d, v in sorted(by_day.items())}
