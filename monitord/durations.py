"""Durations as users write them: ``90s``, ``5m``, ``6h``, ``1d``, ``1h30m``, ``250ms``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

DURATION_CEILING = timedelta(days=3650)
"""No duration anywhere may be longer than ten years: no setting needs one, and a longer one
(``99999999999999999999w``) overflows date arithmetic (``OverflowError``) far from where it
was written. Each setting has its own, lower limit on top of this one."""


class DurationTooLong(ValueError):
    """A duration above DURATION_CEILING (or infinite): readable, but absurd."""


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a duration; a bare number is seconds. Raises ValueError with a hint."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 60s, 5m or 6h, not a boolean")
    if isinstance(text, int | float):
        if isinstance(text, float) and math.isnan(text):
            raise ValueError(f"{text} is not a duration; write one such as 60s, 5m or 6h")
        if text < 0:
            raise ValueError("a duration cannot be negative")
        if text > DURATION_CEILING.total_seconds():
            return _bounded(math.inf, text)  # float() of a huge int would overflow
        return _bounded(float(text), text)
    s = str(text).strip().replace(" ", "")
    if not s:
        raise ValueError("empty duration; write one such as 60s, 5m or 6h")
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"{text!r} is not a duration; write one such as 60s, 5m, 6h or 1h30m")
    return _bounded(total, text)


def _bounded(seconds: float, text: object) -> timedelta:
    """``seconds`` as a timedelta, refused (ValueError, never OverflowError) above the ceiling."""
    if not math.isfinite(seconds) or seconds > DURATION_CEILING.total_seconds():
        raise DurationTooLong(
            f"{text!r} is longer than {format_duration(DURATION_CEILING)}, the longest duration "
            "monitord accepts; write a shorter one such as 60s, 5m or 6h"
        )
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """Short human form: ``2h 5m``, ``45s``, ``3d 4h``."""
    secs = int(td.total_seconds())
    if secs < 60:
        return f"{secs}s"
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    mins, s = divmod(rem, 60)
    parts = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if mins and not days:
        parts.append(f"{mins}m")
    if s and not days and not hours:
        parts.append(f"{s}s")
    return " ".join(parts)
