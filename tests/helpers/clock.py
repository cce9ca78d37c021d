"""A clock the test moves by hand (pass it wherever monitord takes a ``monitord.clock.Clock``).

clock = Clock(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
clock()                              # the current instant
clock.advance(minutes=5)             # timedelta keywords …
clock.advance(limits.OUTBOX_LEASE)   # … or a timedelta (or both, added together)
clock.now = datetime(...)            # or jump to an instant
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta | None = None, /, **kw: float) -> None:
        """Move forward by ``by`` and/or ``timedelta(**kw)``."""
        self.now += (by if by is not None else timedelta()) + timedelta(**kw)
