"""What the client is told about its support hours (pure: statements and ``now`` passed in).

- **Thresholds**: when this month's use passes a threshold of the available time (``billing.
  thresholds``, default 75 % and 100 %, or the contract's own), one ``hours`` event: to the
  contacts with ``notify: [hours]`` and to the ticket system (routing's defaults). Each
  threshold is told once a month (its key is kept in the store); when use jumps past several
  at once, one warning names the highest.
- **Estimates**: before work starts, a ticket whose estimate exceeds the time left this month
  asks the client to approve, as the terms require: a comment on that ticket in its helpdesk
  and an e-mail to the ``hours`` contacts, once per (ticket, estimate) — a new estimate asks
  again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from monitord.contracts.ledger import Statement
from monitord.events import Event


def fmt(mins: int) -> str:
    sign = "-" if mins < 0 else ""
    h, m = divmod(abs(mins), 60)
    return f"{sign}{h}h {m:02d}m"


def pct(t: Decimal) -> str:
    return f"{(t * 100).normalize():f}%"


def _local(at: datetime, zone: ZoneInfo) -> str:
    t = at.astimezone(zone)
    return f"{t:%Y-%m-%d %H:%M} {t.tzname()}"


def _figures(st: Statement, zone: ZoneInfo) -> dict[str, object]:
    f = st.figures
    return {
        "month": str(st.month),
        "available": fmt(f.available),
        "used": fmt(f.used),
        "remaining": fmt(f.remaining),
        "as_of": _local(st.as_of, zone),
    }


@dataclass(frozen=True, slots=True)
class Warning:
    """An ``hours`` event and the keys that mark it (and what it supersedes) as sent."""

    event: Event
    marks: tuple[str, ...]
    comment_on: str | None = None
    """``<notifier>:<id>`` of the helpdesk ticket to comment on (estimates)."""


def threshold_key(client: str, st: Statement, t: Decimal) -> str:
    return f"hours|{client}|{st.month}|threshold|{pct(t)}"


def threshold_warning(
    client: str,
    client_name: str,
    st: Statement,
    thresholds: tuple[Decimal, ...],
    sent: set[str],
    zone: ZoneInfo,
) -> Warning | None:
    """The warning for the highest threshold passed and not yet told this month, or None."""
    f = st.figures
    if st.closed or f.available <= 0:
        return None
    passed = [t for t in thresholds if f.used >= t * f.available]
    fresh = [t for t in passed if threshold_key(client, st, t) not in sent]
    if not fresh:
        return None
    top = max(passed)
    over = f.remaining < 0
    summary = (
        f"{client_name} has used {fmt(f.used)} of {fmt(f.available)} support time in "
        f"{st.month} ({pct(top)} passed)"
        + (f": {fmt(-f.remaining)} over" if over else f"; {fmt(f.remaining)} left")
    )
    message = (
        "The month's support time is used up: further work this month is an overuse, "
        "deducted from next month when small, otherwise charged as the terms say."
        if f.remaining <= 0
        else f"{fmt(f.remaining)} of this month's support time is left. Unused time rolls over "
        "to next month."
    )
    event = Event(
        kind="hours",
        client=client,
        site=None,
        check=None,
        at=st.as_of,
        key=threshold_key(client, st, top),
        thread=f"hours|{client}|{st.month}",
        summary=summary,
        severity="warning",
        details={
            "client_name": client_name,
            "threshold": pct(top),
            "message": message,
            **_figures(st, zone),
        },
    )
    return Warning(event, tuple(threshold_key(client, st, t) for t in passed))


def estimate_key(ticket: str, seconds: int) -> str:
    return f"hours|estimate|{ticket}|{seconds}"


def estimate_warning(
    client: str,
    client_name: str,
    ticket: str,
    seconds: int,
    st: Statement,
    sent: set[str],
    zone: ZoneInfo,
) -> Warning | None:
    """The request for approval when ``ticket``'s estimate exceeds the time left, or None."""
    key = estimate_key(ticket, seconds)
    estimate = -(-seconds // 60)
    left = st.figures.remaining
    if key in sent or estimate <= left:
        return None
    short = estimate - max(left, 0)
    summary = (
        f"Ticket {ticket} is estimated at {fmt(estimate)}, more than the {fmt(max(left, 0))} "
        f"of support time {client_name} has left in {st.month}: please approve before we start"
    )
    message = (
        f"Before we start work on this ticket: we estimate it at {fmt(estimate)}, and "
        f"{client_name} has {fmt(max(left, 0))} of support time left this month (as of "
        f"{_local(st.as_of, zone)}), so about {fmt(short)} would go beyond the allowance. "
        "Under the support terms, a small overuse is deducted from next month's allowance and "
        "a larger one is charged pro rata at the hourly rate, up to the day rate per day. "
        "Please reply to this ticket to approve the work, or tell us to wait until next month."
    )
    event = Event(
        kind="hours",
        client=client,
        site=None,
        check=None,
        at=st.as_of,
        key=key,
        thread=f"hours|estimate|{ticket}",
        summary=summary,
        severity="warning",
        details={
            "client_name": client_name,
            "ticket": ticket,
            "estimate": fmt(estimate),
            "message": message,
            **_figures(st, zone),
        },
    )
    return Warning(event, (key,), comment_on=ticket)
