"""Durations as users write them: ``90s``, ``5m``, ``6h``, ``1d``, ``1h30m``, ``250ms``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a duration; a bare number is seconds. Raises ValueError with a hint."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 60s, 5m or 6h, not a boolean")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=float(text))
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
    return timedelta(seconds=total)


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
