"""The one clock: what "now" is, and the type of everything that asks for it.

Code that needs the time takes a :data:`Clock` (or a ``now`` from its caller) instead of reading
the system clock, so tests drive it (tests/helpers/clock.py). :func:`utcnow` is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utcnow"]

Clock = Callable[[], datetime]
"""A function giving the time now: an aware datetime in UTC."""


def utcnow() -> datetime:
    """The system clock's time now, aware, in UTC."""
    return datetime.now(UTC)
