"""The hours ledger: pure functions of the contract, the time entries, the months already
closed and ``now``. Nothing here reads a clock, a file or the store.

For month M (calendar months in the agency's zone; an entry's month is its local date's):

* allowance A (as of M), brought forward B (M−1's carried forward; 0 in the first month),
  available = A + B, used U = Σ billable entries in M, each rounded up to ``rounding``,
  remaining R = available − U;
* R ≥ 0: carried forward C = min(R, (rollover_cap − 1) × A); nothing charged;
* R < 0, overuse O = −R: O ≤ carry_overuse_up_to: C = −O, nothing charged; otherwise all of O
  is charged and C = 0: with d = day_hours, F = ⌊O / d⌋ full days, rest = O − F·d,
  net = F × day_rate + min(rest × hourly_rate, day_rate) rounded to pence half-up,
  vat = net × vat rate rounded to pence, gross = net + vat.

A closed month (its statement issued) never changes. Whatever changed since in one of its
entries (one that arrived late, was edited, moved to another date or deleted) is booked into
the first open month as a dated adjustment of the difference, naming the original date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitord.contracts.models import (
    DEFAULT_THRESHOLDS,
    PENNY,
    BillingConfig,
    ContractConfig,
    Month,
    minutes,
)
from monitord.errors import MonitordError


class LedgerError(MonitordError):
    """A statement that cannot be made (before the contract, a month not ended…)."""


Adjustment = Literal["late", "changed", "deleted", "moved"]
"""Why a line corrects a closed month: an entry that arrived after the month closed, one whose
duration changed, one deleted, one moved to another date."""


@dataclass(frozen=True, slots=True)
class Terms:
    """One contract's terms, with the agency's defaults filled in (all durations in minutes)."""

    start: Month
    allowances: tuple[tuple[Month, int], ...]
    """(from month, monthly minutes), ascending; the first is the contract's start."""
    rollover_cap: Decimal = Decimal(2)
    carry_overuse_up_to: int = 60
    rounding: int = 1
    day_minutes: int = 7 * 60
    hourly_rate: Decimal = Decimal("120.00")
    day_rate: Decimal = Decimal("840.00")
    vat_rate: Decimal = Decimal("0.20")
    currency: str = "GBP"
    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS

    def allowance(self, month: Month) -> int:
        """The monthly allowance in force in ``month``, in minutes."""
        current = self.allowances[0][1]
        for since, mins in self.allowances:
            if since <= month:
                current = mins
        return current

    @classmethod
    def from_config(cls, billing: BillingConfig, contract: ContractConfig) -> Terms:
        hourly = contract.hourly_rate if contract.hourly_rate is not None else billing.hourly_rate
        day_minutes = minutes(billing.day_hours)
        if contract.day_rate is not None:
            day_rate = contract.day_rate
        elif billing.day_rate is not None:
            day_rate = billing.day_rate
        else:
            day_rate = (hourly * day_minutes / 60).quantize(PENNY, ROUND_HALF_UP)
        return cls(
            start=contract.start,
            allowances=(
                (contract.start, minutes(contract.monthly_hours)),
                *((c.from_, minutes(c.monthly_hours)) for c in contract.changes),
            ),
            rollover_cap=contract.rollover_cap,
            carry_overuse_up_to=minutes(contract.carry_overuse_up_to),
            rounding=minutes(contract.rounding),
            day_minutes=day_minutes,
            hourly_rate=hourly,
            day_rate=day_rate,
            vat_rate=contract.vat if contract.vat is not None else billing.vat,
            currency=billing.currency,
            thresholds=contract.thresholds
            if contract.thresholds is not None
            else billing.thresholds,
        )


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """Time spent for a client, from one source, keyed by the source's own id.

    ``source`` is where it came from (``manual`` for ``monitord hours log``, ``csv`` or the
    name given to ``hours import``; helpdesk pulls use their notifier's name), so a re-import
    or a re-pull of the same id updates the entry instead of adding another.
    """

    source: str
    source_id: str
    client: str
    at: datetime
    """When the work was done (aware); its date in the agency's zone decides the month."""
    seconds: int
    ticket: str | None = None
    note: str = ""
    person: str | None = None
    billable: bool = True
    deleted: bool = False
    """Deleted at the source: kept, so a closed month that billed it can be corrected."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)


def round_up(seconds: int, rounding: int) -> int:
    """``seconds`` in minutes, rounded up to a multiple of ``rounding`` minutes."""
    step = rounding * 60
    return -(-seconds // step) * rounding if seconds > 0 else 0


def billed_minutes(entry: TimeEntry, rounding: int) -> int:
    if entry.deleted or not entry.billable:
        return 0
    return round_up(entry.seconds, rounding)


def to_pence(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, ROUND_HALF_UP)


def overuse_net(overuse: int, terms: Terms) -> tuple[int, Decimal]:
    """(full days, net) for ``overuse`` minutes charged: F × day rate, plus the rest at the
    hourly rate but never more than a day rate; rounded to pence half-up."""
    full_days, rest = divmod(overuse, terms.day_minutes)
    rest_cost = min(Decimal(rest) * terms.hourly_rate / 60, terms.day_rate)
    return full_days, to_pence(full_days * terms.day_rate + rest_cost)


@dataclass(frozen=True, slots=True)
class Figures:
    """A month's figures, in minutes and money."""

    allowance: int
    brought_forward: int
    available: int
    used: int
    remaining: int
    carried_forward: int
    overuse: int
    """Minutes beyond the available time (0 when R ≥ 0), carried or charged."""
    charged: int
    full_days: int
    rest: int
    """Minutes of the charge beyond the full days (at the hourly rate, capped at a day rate)."""
    net: Decimal
    vat: Decimal
    gross: Decimal


ZERO = Decimal("0.00")


def settle(allowance: int, brought_forward: int, used: int, terms: Terms) -> Figures:
    """The month's figures from its allowance, the balance brought forward and the use."""
    available = allowance + brought_forward
    remaining = available - used
    if remaining >= 0:
        cap = int(((terms.rollover_cap - 1) * allowance).to_integral_value(ROUND_FLOOR))
        return Figures(
            allowance,
            brought_forward,
            available,
            used,
            remaining,
            min(remaining, cap),
            0,
            0,
            0,
            0,
            ZERO,
            ZERO,
            ZERO,
        )
    overuse = -remaining
    if overuse <= terms.carry_overuse_up_to:
        return Figures(
            allowance,
            brought_forward,
            available,
            used,
            remaining,
            -overuse,
            overuse,
            0,
            0,
            0,
            ZERO,
            ZERO,
            ZERO,
        )
    full_days, net = overuse_net(overuse, terms)
    vat = to_pence(net * terms.vat_rate)
    return Figures(
        allowance,
        brought_forward,
        available,
        used,
        remaining,
        0,
        overuse,
        overuse,
        full_days,
        overuse - full_days * terms.day_minutes,
        net,
        vat,
        net + vat,
    )


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a statement: an entry of the month, or an adjustment to a closed month."""

    source: str
    source_id: str
    at: datetime
    """When the work was done; for an adjustment, the original date it names."""
    minutes: int
    """Billed: the entry rounded up; for an adjustment, the difference (may be negative)."""
    seconds: int
    """As recorded (0 for a deleted entry)."""
    ticket: str | None = None
    note: str = ""
    person: str | None = None
    adjustment: Adjustment | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class Statement:
    """A month of one client's contract: closed (issued, never changes) or running."""

    client: str
    month: Month
    closed: bool
    as_of: datetime
    """Closed: when it was issued. Open: the time the running figures are for."""
    figures: Figures
    currency: str
    hourly_rate: Decimal
    day_rate: Decimal
    vat_rate: Decimal
    lines: tuple[Line, ...] = field(default=())


def first_open_month(terms: Terms, closed: dict[Month, Statement]) -> Month:
    """The earliest month of the contract without an issued statement (months close in order)."""
    month = terms.start
    while month in closed:
        month = month.next()
    return month


def _line(entry: TimeEntry, mins: int, adjustment: Adjustment | None = None) -> Line:
    return Line(
        source=entry.source,
        source_id=entry.source_id,
        at=entry.at,
        minutes=mins,
        seconds=0 if entry.deleted else entry.seconds,
        ticket=entry.ticket,
        note=entry.note,
        person=entry.person,
        adjustment=adjustment,
    )


def statement(
    client: str,
    terms: Terms,
    month: Month,
    entries: list[TimeEntry],
    closed: dict[Month, Statement],
    as_of: datetime,
    zone: ZoneInfo,
) -> Statement:
    """``month``'s statement: the issued one when closed, else the running figures as of
    ``as_of`` (the open months before it are worked out on the way)."""
    if month in closed:
        return closed[month]
    if month < terms.start:
        raise LedgerError(f"{client}'s contract starts in {terms.start}; there is no {month}")
    first_open = first_open_month(terms, closed)
    if month < first_open:
        raise LedgerError(f"{month} of {client} is neither closed nor open; close months in order")

    billed: dict[tuple[str, str], Line] = {}
    billed_minutes_by_key: dict[tuple[str, str], int] = defaultdict(int)
    for st in sorted(closed.values(), key=lambda s: s.month):
        for ln in st.lines:
            billed.setdefault(ln.key, ln)
            billed_minutes_by_key[ln.key] += ln.minutes

    by_month: dict[Month, list[Line]] = defaultdict(list)
    for e in entries:
        if e.client != client:
            continue
        m = Month.of(e.at, zone)
        now_billed = billed_minutes(e, terms.rounding) if m >= terms.start else 0
        before = billed_minutes_by_key.get(e.key, 0)
        if m >= first_open:
            if now_billed:
                by_month[m].append(_line(e, now_billed))
            if before:
                # Billed in a closed month, now dated in an open one: take it back there.
                original = billed[e.key]
                by_month[first_open].append(replace(original, minutes=-before, adjustment="moved"))
            continue
        diff = now_billed - before
        if diff:
            kind: Adjustment = (
                "deleted" if e.deleted else "late" if e.key not in billed else "changed"
            )
            by_month[first_open].append(_line(e, diff, kind))

    brought = closed[first_open.prev()].figures.carried_forward if first_open > terms.start else 0
    m = first_open
    while True:
        lines = tuple(sorted(by_month[m], key=lambda ln: (ln.at, ln.source, ln.source_id)))
        figures = settle(terms.allowance(m), brought, sum(ln.minutes for ln in lines), terms)
        if m == month:
            return Statement(
                client=client,
                month=m,
                closed=False,
                as_of=as_of,
                figures=figures,
                currency=terms.currency,
                hourly_rate=terms.hourly_rate,
                day_rate=terms.day_rate,
                vat_rate=terms.vat_rate,
                lines=lines,
            )
        brought = figures.carried_forward
        m = m.next()


def close(
    client: str,
    terms: Terms,
    month: Month,
    entries: list[TimeEntry],
    closed: dict[Month, Statement],
    now: datetime,
    zone: ZoneInfo,
) -> Statement:
    """Issue ``month``'s statement: it must be the first open month, and over."""
    if month in closed:
        raise LedgerError(f"{month} of {client} is already closed")
    first_open = first_open_month(terms, closed)
    if month != first_open:
        raise LedgerError(f"{client}: close {first_open} before {month}; months close in order")
    if now < month.next().start(zone):
        raise LedgerError(f"{month} has not ended yet; it can be closed from {month.next()}-01")
    return replace(statement(client, terms, month, entries, closed, now, zone), closed=True)


# ---------------------------------------------------------------- JSON (the CLI and the store)


def money(amount: Decimal) -> str:
    return f"{amount.quantize(PENNY, ROUND_HALF_UP):.2f}"


def percent(rate: Decimal) -> str:
    """``Decimal("0.175")`` -> ``17.5%``."""
    return f"{(rate * 100).normalize():f}%"


def line_json(ln: Line, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "date": ln.at.astimezone(zone).date().isoformat(),
        "at": ln.at.isoformat(),
        "minutes": ln.minutes,
        "seconds": ln.seconds,
        "ticket": ln.ticket,
        "note": ln.note,
        "person": ln.person,
        "source": ln.source,
        "id": ln.source_id,
        "adjustment": ln.adjustment,
        "original_date": ln.at.astimezone(zone).date().isoformat() if ln.adjustment else None,
    }


def statement_json(st: Statement, zone: ZoneInfo) -> dict[str, Any]:
    """The statement as ``monitord hours statement --json`` prints it (amounts as strings)."""
    f = st.figures
    return {
        "client": st.client,
        "month": str(st.month),
        "closed": st.closed,
        "as_of": st.as_of.isoformat(),
        "allowance_minutes": f.allowance,
        "brought_forward_minutes": f.brought_forward,
        "available_minutes": f.available,
        "used_minutes": f.used,
        "remaining_minutes": f.remaining,
        "carried_forward_minutes": f.carried_forward,
        "overuse_minutes": f.overuse,
        "charged_minutes": f.charged,
        "charged_full_days": f.full_days,
        "charged_rest_minutes": f.rest,
        "net": money(f.net),
        "vat": money(f.vat),
        "gross": money(f.gross),
        "currency": st.currency,
        "hourly_rate": money(st.hourly_rate),
        "day_rate": money(st.day_rate),
        "vat_rate": percent(st.vat_rate),
        "entries": [line_json(ln, zone) for ln in st.lines],
    }


def statement_from_json(d: dict[str, Any]) -> Statement:
    """The inverse of :func:`statement_json` (for statements kept in the store)."""
    figures = Figures(
        allowance=d["allowance_minutes"],
        brought_forward=d["brought_forward_minutes"],
        available=d["available_minutes"],
        used=d["used_minutes"],
        remaining=d["remaining_minutes"],
        carried_forward=d["carried_forward_minutes"],
        overuse=d["overuse_minutes"],
        charged=d["charged_minutes"],
        full_days=d["charged_full_days"],
        rest=d["charged_rest_minutes"],
        net=Decimal(d["net"]),
        vat=Decimal(d["vat"]),
        gross=Decimal(d["gross"]),
    )
    lines = tuple(
        Line(
            source=x["source"],
            source_id=x["id"],
            at=datetime.fromisoformat(x["at"]),
            minutes=x["minutes"],
            seconds=x["seconds"],
            ticket=x["ticket"],
            note=x["note"],
            person=x["person"],
            adjustment=x["adjustment"],
        )
        for x in d["entries"]
    )
    return Statement(
        client=d["client"],
        month=Month.parse(d["month"]),
        closed=d["closed"],
        as_of=datetime.fromisoformat(d["as_of"]),
        figures=figures,
        currency=d["currency"],
        hourly_rate=Decimal(d["hourly_rate"]),
        day_rate=Decimal(d["day_rate"]),
        vat_rate=Decimal(d["vat_rate"].rstrip("%")) / 100,
        lines=lines,
    )
