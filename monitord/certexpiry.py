"""How many days a certificate has left: one rule for every place that shows it.

**Days left = floor((not_after − now) / 1 day)**, computed from the certificate's
``not_after`` at the moment of display, never a figure stored hours earlier. A certificate
expiring in 4 days and 23 hours has 4 days left; in 5 hours, 0; one that expired 5 hours ago
has −1. The probe's message, ``monitord status``, the status page and API, the e-mail and the
``monitord_certificate_days_left`` metric all go through :func:`days_left`, so one certificate
reads the same number everywhere at a given moment.

Pure: ``now`` is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days from ``now`` until ``not_after``, rounded down (negative once expired)."""
    return math.floor((not_after - now) / DAY)


def days_ago(not_after: datetime, now: datetime) -> int:
    """Whole days since an expired certificate's ``not_after``, rounded down (0 on its first
    day) — the figure "expired 2 days ago" says."""
    return math.floor((now - not_after) / DAY)


def not_after_of(details: Mapping[str, object]) -> datetime | None:
    """The certificate's expiry from a probe result's details (``cert_not_after``, ISO 8601;
    naive means UTC), or None when there is none or it does not parse."""
    raw = details.get("cert_not_after")
    if isinstance(raw, datetime):
        dt = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            dt = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def time_left(not_after: datetime, now: datetime) -> str:
    """``4 days`` (the :func:`days_left` figure) from one day on; below a day ``5 hours`` or
    ``12 minutes`` (rounded down), so the wording never contradicts the days figure."""
    days = days_left(not_after, now)
    if days >= 1:
        return _plural(days, "day")
    secs = max((not_after - now).total_seconds(), 0.0)
    if secs >= 3600:
        return _plural(math.floor(secs / 3600), "hour")
    return _plural(math.floor(secs / 60), "minute")


def time_since(not_after: datetime, now: datetime) -> str:
    """How long ago it expired: ``2 days``, ``5 hours``, ``12 minutes`` (rounded down)."""
    secs = max((now - not_after).total_seconds(), 0.0)
    if secs >= DAY.total_seconds():
        return _plural(math.floor(secs / DAY.total_seconds()), "day")
    if secs >= 3600:
        return _plural(math.floor(secs / 3600), "hour")
    return _plural(math.floor(secs / 60), "minute")


def expiry_message(
    not_after: datetime, now: datetime, min_days_left: int
) -> tuple[str, str | None]:
    """The probe's words for a verified certificate at ``now``: (message, warning or None).

    ``certificate valid, expires in 40 days``; under ``min_days_left`` days left the message is
    ``certificate expires in 4 days`` with the warning ``… (warning at 14)``; once expired,
    ``certificate expired 2 days ago``.
    """
    if now >= not_after:
        return f"certificate expired {time_since(not_after, now)} ago", None
    expires = f"expires in {time_left(not_after, now)}"
    if days_left(not_after, now) < min_days_left:
        return f"certificate {expires}", f"certificate {expires} (warning at {min_days_left})"
    return f"certificate valid, {expires}", None
