"""The hours ledger, against figures worked out by hand (docs/contracts.md shows the same).

Default terms in these tables: £120.00 an hour, a 7 h day at £840.00, VAT 20 %, rollover
cap 2, overuse up to 1 h carried, entries rounded to the minute.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from monitord.contracts.ledger import (
    LedgerError,
    Statement,
    Terms,
    TimeEntry,
    close,
    overuse_net,
    round_up,
    settle,
    statement,
    statement_from_json,
    statement_json,
)
from monitord.contracts.models import Month

LONDON = ZoneInfo("Europe/London")
D = Decimal
BASE = Terms(start=Month(2026, 1), allowances=((Month(2026, 1), 600),))

# (case, allowance, brought forward, used, terms changes,
#  available, remaining, carried forward, overuse, charged, full days, net, vat, gross)
SETTLE = [
    ("under, well below the cap", 600, 0, 480, {}, 600, 120, 120, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("nothing used: the whole allowance rolls over", 600, 0, 0, {}, 600, 600, 600, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("rollover exactly at the cap (2 x 10 h)", 600, 600, 600, {}, 1200, 600, 600, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("rollover over the cap: 15 h left, 10 h kept", 600, 600, 300, {}, 1200, 900, 600, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("cap 1.5: half an allowance rolls over", 600, 0, 0, {"rollover_cap": D("1.5")}, 600, 600, 300, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("cap 1.5 of 2h05m: 62.5 min, floored", 125, 0, 0, {"rollover_cap": D("1.5")}, 125, 125, 62, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("cap 1: nothing rolls over", 600, 0, 100, {"rollover_cap": D(1)}, 600, 500, 0, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("used exactly the allowance", 600, 0, 600, {}, 600, 0, 0, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("overuse exactly carry_overuse_up_to: carried", 600, 0, 660, {}, 600, -60, -60, 60, 0, 0, "0.00", "0.00", "0.00"),
    ("overuse 1 min over carry_overuse_up_to: all charged", 600, 0, 661, {}, 600, -61, 0, 61, 61, 0, "122.00", "24.40", "146.40"),
    ("carry_overuse_up_to 0: one minute is charged", 600, 0, 601, {"carry_overuse_up_to": 0}, 600, -1, 0, 1, 1, 0, "2.00", "0.40", "2.40"),
    ("overuse 6h59m: pro rata", 600, 0, 1019, {}, 600, -419, 0, 419, 419, 0, "838.00", "167.60", "1005.60"),
    ("overuse 7 h: one day", 600, 0, 1020, {}, 600, -420, 0, 420, 420, 1, "840.00", "168.00", "1008.00"),
    ("overuse 7h01m: a day and a minute", 600, 0, 1021, {}, 600, -421, 0, 421, 421, 1, "842.00", "168.40", "1010.40"),
    ("overuse 15 h: two days and 1 h", 600, 0, 1500, {}, 600, -900, 0, 900, 900, 2, "1800.00", "360.00", "2160.00"),
    ("day rate 700 below 7 x 120: 5h49m pro rata", 600, 0, 949, {"day_rate": D("700.00")}, 600, -349, 0, 349, 349, 0, "698.00", "139.60", "837.60"),
    ("day rate 700: 5h50m reaches it", 600, 0, 950, {"day_rate": D("700.00")}, 600, -350, 0, 350, 350, 0, "700.00", "140.00", "840.00"),
    ("day rate 700: 6 h capped at the day rate", 600, 0, 960, {"day_rate": D("700.00")}, 600, -360, 0, 360, 360, 0, "700.00", "140.00", "840.00"),
    ("day rate 700: 8 h is a day and 1 h", 600, 0, 1080, {"day_rate": D("700.00")}, 600, -480, 0, 480, 480, 1, "820.00", "164.00", "984.00"),
    ("day rate 700: 13 h is a day and a capped rest", 600, 0, 1380, {"day_rate": D("700.00")}, 600, -780, 0, 780, 780, 1, "1400.00", "280.00", "1680.00"),
    ("brought forward overuse is deducted", 600, -60, 500, {}, 540, 40, 40, 0, 0, 0, "0.00", "0.00", "0.00"),
    ("carried overuse, carried again", 600, -60, 600, {}, 540, -60, -60, 60, 0, 0, "0.00", "0.00", "0.00"),
    ("pence half-up: 1 min at 99.90/h is 1.665", 600, 0, 601, {"hourly_rate": D("99.90"), "carry_overuse_up_to": 0}, 600, -1, 0, 1, 1, 0, "1.67", "0.33", "2.00"),
    ("VAT half-up on the rounded net: 17.5% of 3.00 is 0.525", 600, 0, 602, {"hourly_rate": D("90.00"), "carry_overuse_up_to": 0, "vat_rate": D("0.175")}, 600, -2, 0, 2, 2, 0, "3.00", "0.53", "3.53"),
    ("VAT 0%", 600, 0, 661, {"vat_rate": D(0)}, 600, -61, 0, 61, 61, 0, "122.00", "0.00", "122.00"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case,allowance,brought,used,changes,available,remaining,carried,overuse,charged,days,net,vat,gross",
    SETTLE,
    ids=[c[0] for c in SETTLE],
)
def test_settle(
    case: str,
    allowance: int,
    brought: int,
    used: int,
    changes: dict[str, object],
    available: int,
    remaining: int,
    carried: int,
    overuse: int,
    charged: int,
    days: int,
    net: str,
    vat: str,
    gross: str,
) -> None:
    f = settle(allowance, brought, used, replace(BASE, **changes))  # type: ignore[arg-type]
    assert (f.allowance, f.brought_forward, f.used) == (allowance, brought, used)
    assert (f.available, f.remaining, f.carried_forward) == (available, remaining, carried)
    assert (f.overuse, f.charged, f.full_days) == (overuse, charged, days)
    assert (str(f.net), str(f.vat), str(f.gross)) == (net, vat, gross)


@pytest.mark.parametrize(
    "seconds,rounding,expected",
    [
        (0, 1, 0),
        (1, 1, 1),
        (60, 1, 1),
        (61, 1, 2),
        (90, 1, 2),
        (60, 15, 15),
        (15 * 60, 15, 15),
        (15 * 60 + 1, 15, 30),
        (3000, 15, 60),  # 50 min
        (3 * 3600, 6, 180),
    ],
)
def test_round_up(seconds: int, rounding: int, expected: int) -> None:
    assert round_up(seconds, rounding) == expected


def test_overuse_net_is_rounded_once_at_the_end() -> None:
    # 1 min at 100.10/h is 1.66833…; a day and 1 min: 840 + 1.66833 = 841.67 (not 840 + 1.67)
    terms = replace(BASE, hourly_rate=D("100.10"))
    assert overuse_net(421, terms) == (1, D("841.67"))


# ---------------------------------------------------------------- months in a row

TERMS = replace(
    BASE,
    allowances=((Month(2026, 1), 600), (Month(2026, 7), 900)),
    rounding=15,
)


def entry(at: str, minutes: int = 0, sid: str = "", *, seconds: int = 0, **kw: object) -> TimeEntry:
    return TimeEntry(
        source=str(kw.pop("source", "manual")),
        source_id=sid or at,
        client="acme",
        at=datetime.fromisoformat(at),
        seconds=seconds or minutes * 60,
        **kw,  # type: ignore[arg-type]
    )


ENTRIES = [
    entry("2026-01-05T10:00:00+00:00", 120),
    entry("2026-01-20T10:00:00+00:00", 50),  # rounded up to 60
    # March: clocks go forward on the 29th at 01:00 GMT.
    entry("2026-03-02T10:00:00+00:00", 960),
    entry("2026-03-29T00:30:00+00:00", 10),  # 00:30 GMT: still March; rounded to 15
    entry("2026-03-31T23:30:00+00:00", 45),  # 00:30 BST on 1 April: April
    entry("2026-04-10T09:00:00+01:00", 780),
    entry("2026-05-05T09:00:00+01:00", 961),  # 16h01m, rounded up to 16h15m
    entry("2026-06-30T23:15:00+00:00", 30),  # 00:15 BST on 1 July: July
    # October: clocks go back on the 25th; 23:30 GMT on the 31st is still October.
    entry("2026-10-31T23:30:00+00:00", 120),
    entry("2026-11-01T00:30:00+00:00", 60),
    entry("2025-12-31T12:00:00+00:00", 600),  # before the contract: never billed
    entry("2026-02-10T10:00:00+00:00", 60, billable=False),
    entry("2026-02-11T10:00:00+00:00", 60, deleted=True),
]

# month, allowance, brought forward, available, used, remaining, carried, overuse, charged,
# net, gross, lines
MONTHS = [
    # first month: nothing brought forward; 2 h + 50 min rounded to 1 h
    ("2026-01", 600, 0, 600, 180, 420, 420, 0, 0, "0.00", "0.00", 2),
    # no (billable) entries; 17 h available, 10 h kept (the cap)
    ("2026-02", 600, 420, 1020, 0, 1020, 600, 0, 0, "0.00", "0.00", 0),
    # 16 h + 10 min rounded to 15 min; the entry at 00:30 BST on 1 April is not here
    ("2026-03", 600, 600, 1200, 975, 225, 225, 0, 0, "0.00", "0.00", 2),
    # 45 min (dated 1 April local) + 13 h = 13h45m against 13h45m: exactly 0
    ("2026-04", 600, 225, 825, 825, 0, 0, 0, 0, "0.00", "0.00", 2),
    # 16h15m against 10 h: 6h15m over, more than 1 h: charged 6h15m = 750.00
    ("2026-05", 600, 0, 600, 975, -375, 0, 375, 375, "750.00", "900.00", 1),
    ("2026-06", 600, 0, 600, 0, 600, 600, 0, 0, "0.00", "0.00", 0),
    # the allowance changes to 15 h; the cap follows it (2 x 15 h)
    ("2026-07", 900, 600, 1500, 30, 1470, 900, 0, 0, "0.00", "0.00", 1),
    ("2026-08", 900, 900, 1800, 0, 1800, 900, 0, 0, "0.00", "0.00", 0),
    ("2026-09", 900, 900, 1800, 0, 1800, 900, 0, 0, "0.00", "0.00", 0),
    ("2026-10", 900, 900, 1800, 120, 1680, 900, 0, 0, "0.00", "0.00", 1),
    ("2026-11", 900, 900, 1800, 60, 1740, 900, 0, 0, "0.00", "0.00", 1),
]  # fmt: skip
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "month,allowance,brought,available,used,remaining,carried,overuse,charged,net,gross,lines",
    MONTHS,
    ids=[m[0] for m in MONTHS],
)
def test_months_in_a_row(
    month: str,
    allowance: int,
    brought: int,
    available: int,
    used: int,
    remaining: int,
    carried: int,
    overuse: int,
    charged: int,
    net: str,
    gross: str,
    lines: int,
) -> None:
    st = statement("acme", TERMS, Month.parse(month), ENTRIES, {}, NOW, LONDON)
    f = st.figures
    assert not st.closed and st.as_of == NOW
    assert (f.allowance, f.brought_forward, f.available) == (allowance, brought, available)
    assert (f.used, f.remaining, f.carried_forward) == (used, remaining, carried)
    assert (f.overuse, f.charged, str(f.net), str(f.gross)) == (overuse, charged, net, gross)
    assert len(st.lines) == lines


def test_closing_every_month_in_turn_gives_the_same_figures() -> None:
    closed: dict[Month, Statement] = {}
    month = Month(2026, 1)
    while month < Month(2026, 11):
        st = close("acme", TERMS, month, ENTRIES, closed, NOW, LONDON)
        assert st.closed and st.as_of == NOW
        # kept as JSON in the store: the round trip is exact
        assert statement_from_json(statement_json(st, LONDON)) == st
        closed[month] = st
        month = month.next()
    for row in MONTHS:
        st = statement("acme", TERMS, Month.parse(row[0]), ENTRIES, closed, NOW, LONDON)
        f = st.figures
        assert (f.used, f.remaining, f.carried_forward) == (row[4], row[5], row[6]), row[0]


# ---------------------------------------------------------------- closed months never change

JAN_END = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)  # midnight GMT


def _closed_january() -> dict[Month, Statement]:
    jan = [e for e in ENTRIES if e.at < JAN_END]
    return {Month(2026, 1): close("acme", TERMS, Month(2026, 1), jan, {}, JAN_END, LONDON)}


def test_late_changed_and_deleted_entries_are_booked_into_the_open_month() -> None:
    closed = _closed_january()
    jan = closed[Month(2026, 1)]
    later = [
        replace(ENTRIES[0], deleted=True),  # 2 h on 5 Jan, deleted after January closed
        replace(ENTRIES[1], seconds=80 * 60),  # 50 min on 20 Jan became 80: 60 -> 90
        entry("2026-01-31T16:00:00+00:00", 110, "late"),  # arrives late: 110 -> 120
    ]
    now = datetime(2026, 2, 20, tzinfo=UTC)
    assert statement("acme", TERMS, Month(2026, 1), later, closed, now, LONDON) is jan
    feb = statement("acme", TERMS, Month(2026, 2), later, closed, now, LONDON)
    assert [(ln.adjustment, ln.at.date().isoformat(), ln.minutes) for ln in feb.lines] == [
        ("deleted", "2026-01-05", -120),
        ("changed", "2026-01-20", 30),
        ("late", "2026-01-31", 120),
    ]
    f = feb.figures
    # 420 brought forward (January as issued), 30 min used net of the adjustments
    assert (f.brought_forward, f.available, f.used, f.remaining, f.carried_forward) == (
        420,
        1020,
        30,
        990,
        600,
    )
    # Once February closes with them, March sees no adjustment again.
    closed[Month(2026, 2)] = close(
        "acme", TERMS, Month(2026, 2), later, closed, datetime(2026, 3, 1, tzinfo=UTC), LONDON
    )
    march = statement("acme", TERMS, Month(2026, 3), later, closed, now, LONDON)
    assert march.lines == () and march.figures.brought_forward == 600


def test_an_entry_moved_out_of_a_closed_month_is_taken_back() -> None:
    closed = _closed_january()
    moved = [ENTRIES[0], replace(ENTRIES[1], at=datetime(2026, 2, 3, 9, tzinfo=UTC))]
    now = datetime(2026, 2, 20, tzinfo=UTC)
    feb = statement("acme", TERMS, Month(2026, 2), moved, closed, now, LONDON)
    assert [(ln.adjustment, ln.at.date().isoformat(), ln.minutes) for ln in feb.lines] == [
        ("moved", "2026-01-20", -60),
        (None, "2026-02-03", 60),
    ]
    assert feb.figures.used == 0


def test_a_reimport_of_a_closed_months_entries_changes_nothing() -> None:
    closed = _closed_january()
    now = datetime(2026, 2, 20, tzinfo=UTC)
    feb = statement("acme", TERMS, Month(2026, 2), ENTRIES[:2], closed, now, LONDON)
    assert feb.lines == () and feb.figures.used == 0


@pytest.mark.parametrize(
    "now,ok",
    [
        (datetime(2026, 3, 31, 22, 59, 59, tzinfo=UTC), False),  # 23:59:59 BST on 31 March
        (datetime(2026, 3, 31, 23, 0, tzinfo=UTC), True),  # midnight BST: April has begun
    ],
)
def test_a_month_closes_once_it_has_ended_in_the_agency_zone(now: datetime, ok: bool) -> None:
    terms = replace(TERMS, start=Month(2026, 3), allowances=((Month(2026, 3), 600),))
    if ok:
        assert close("acme", terms, Month(2026, 3), ENTRIES, {}, now, LONDON).closed
    else:
        with pytest.raises(LedgerError, match="has not ended yet"):
            close("acme", terms, Month(2026, 3), ENTRIES, {}, now, LONDON)


def test_months_close_in_order_and_once() -> None:
    closed = _closed_january()
    with pytest.raises(LedgerError, match="close 2026-02 before 2026-03"):
        close("acme", TERMS, Month(2026, 3), ENTRIES, closed, NOW, LONDON)
    with pytest.raises(LedgerError, match="already closed"):
        close("acme", TERMS, Month(2026, 1), ENTRIES, closed, NOW, LONDON)


def test_no_statement_before_the_contract_starts() -> None:
    with pytest.raises(LedgerError, match="starts in 2026-01"):
        statement("acme", TERMS, Month(2025, 12), ENTRIES, {}, NOW, LONDON)


def test_other_clients_entries_are_not_counted() -> None:
    other = [replace(e, client="riverside") for e in ENTRIES]
    st = statement("acme", TERMS, Month(2026, 1), other, {}, NOW, LONDON)
    assert st.figures.used == 0


def test_statement_json_has_the_documented_keys() -> None:
    st = statement("acme", TERMS, Month(2026, 5), ENTRIES, {}, NOW, LONDON)
    d = statement_json(st, LONDON)
    for key in [
        "client",
        "month",
        "closed",
        "as_of",
        "allowance_minutes",
        "brought_forward_minutes",
        "available_minutes",
        "used_minutes",
        "remaining_minutes",
        "carried_forward_minutes",
        "charged_minutes",
        "net",
        "vat",
        "gross",
        "currency",
        "entries",
    ]:
        assert key in d
    assert (d["month"], d["closed"], d["net"], d["vat"], d["gross"]) == (
        "2026-05",
        False,
        "750.00",
        "150.00",
        "900.00",
    )
    assert d["entries"][0]["minutes"] == 975 and d["entries"][0]["date"] == "2026-05-05"
