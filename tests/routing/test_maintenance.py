"""Maintenance windows per client and site, and the suppressed-DOWN bookkeeping (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from monitord.config.models import ClientConfig, MaintenanceWindow
from monitord.maintenance import (
    Suppressed,
    follow_ups,
    in_maintenance,
    record_suppressed,
)
from tests.routing.conftest import event, utc

LONDON = "Europe/London"


def client(
    client_windows: list[dict[str, Any]], site_windows: list[dict[str, Any]]
) -> ClientConfig:
    return ClientConfig.model_validate(
        {
            "client": "acme",
            "name": "ACME",
            "maintenance": client_windows,
            "sites": [
                {"id": "www", "url": "https://www.acme.example/", "maintenance": site_windows},
                {"id": "shop", "url": "https://shop.acme.example/"},
            ],
        }
    )


ONE_OFF = {"from": "2026-12-24T17:00", "to": "2026-12-24T19:00"}  # London (GMT in winter)
NIGHTLY = {"days": ["sat"], "start": "23:00", "end": "02:00"}  # London, across midnight
TOKYO = {"days": ["sun"], "start": "01:00", "end": "03:00", "zone": "Asia/Tokyo"}
SUMMER = {"from": "2026-07-01T10:00", "to": "2026-07-01T11:00"}  # BST: 09:00-10:00 UTC
AWARE = {"from": "2026-07-01T10:00+00:00", "to": "2026-07-01T11:00+00:00"}

# (client windows, site windows, site, at, expected (start, end) or None)
TABLE: list[tuple[list[dict[str, Any]], list[dict[str, Any]], str, str, tuple[str, str] | None]] = [
    ([ONE_OFF], [], "www", "2026-12-24T17:00", ("2026-12-24T17:00", "2026-12-24T19:00")),
    ([ONE_OFF], [], "shop", "2026-12-24T18:59", ("2026-12-24T17:00", "2026-12-24T19:00")),
    ([ONE_OFF], [], "www", "2026-12-24T19:00", None),  # half-open
    ([ONE_OFF], [], "www", "2026-12-24T16:59", None),
    ([], [ONE_OFF], "www", "2026-12-24T18:00", ("2026-12-24T17:00", "2026-12-24T19:00")),
    ([], [ONE_OFF], "shop", "2026-12-24T18:00", None),  # only the site that lists it
    ([], [NIGHTLY], "www", "2026-11-28T23:30", ("2026-11-28T23:00", "2026-11-29T02:00")),
    ([], [NIGHTLY], "www", "2026-11-29T01:59", ("2026-11-28T23:00", "2026-11-29T02:00")),
    ([], [NIGHTLY], "www", "2026-11-29T02:00", None),
    ([], [NIGHTLY], "www", "2026-11-29T23:30", None),  # Sunday night: not a listed day
    ([], [NIGHTLY], "www", "2026-11-28T00:30", None),  # Saturday 00:30 belongs to Friday
    # Summer: the window is on the London clock, 23:00 BST = 22:00 UTC.
    ([], [NIGHTLY], "www", "2026-07-04T22:00", ("2026-07-04T22:00", "2026-07-05T01:00")),
    ([], [NIGHTLY], "www", "2026-07-04T21:59", None),
    # The night the clocks go back (Sat 24 Oct 23:00 BST to Sun 25 Oct 02:00 GMT): 4 hours.
    ([], [NIGHTLY], "www", "2026-10-25T01:30", ("2026-10-24T22:00", "2026-10-25T02:00")),
    # Tokyo Sunday 01:00-03:00 JST is Saturday 16:00-18:00 UTC.
    ([TOKYO], [], "www", "2026-11-28T16:00", ("2026-11-28T16:00", "2026-11-28T18:00")),
    ([TOKYO], [], "www", "2026-11-29T01:30", None),  # Sunday 01:30 London is not Tokyo's
    ([SUMMER], [], "www", "2026-07-01T09:30", ("2026-07-01T09:00", "2026-07-01T10:00")),
    ([AWARE], [], "www", "2026-07-01T10:30", ("2026-07-01T10:00", "2026-07-01T11:00")),
    # Client and site windows together: whichever is open.
    ([ONE_OFF], [NIGHTLY], "www", "2026-11-28T23:30", ("2026-11-28T23:00", "2026-11-29T02:00")),
    ([ONE_OFF], [NIGHTLY], "www", "2026-12-24T17:30", ("2026-12-24T17:00", "2026-12-24T19:00")),
    ([], [], "www", "2026-12-24T17:30", None),
]


@pytest.mark.parametrize(("cw", "sw", "site", "at", "expected"), TABLE)
def test_in_maintenance(
    cw: list[dict[str, Any]],
    sw: list[dict[str, Any]],
    site: str,
    at: str,
    expected: tuple[str, str] | None,
) -> None:
    c = client(cw, sw)
    s = next(x for x in c.sites if x.id == site)
    got = in_maintenance(c, s, LONDON, utc(at))
    assert got == (None if expected is None else (utc(expected[0]), utc(expected[1])))


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ({"from": "2026-12-24T17:00"}, "needs both"),
        ({"from": "2026-12-24T17:00", "to": "2026-12-24T16:00"}, "after"),
        ({"from": "2026-12-24T17:00", "to": "2026-12-24T19:00", "days": ["mon"]}, "either"),
        ({"days": ["mon"]}, "start"),
    ],
)
def test_bad_windows_are_refused(window: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        MaintenanceWindow.model_validate(window)


def test_bookkeeping_remember_down_forget_on_recovery() -> None:
    now = utc("2026-12-24T17:30")
    down = event("site-down", at="2026-12-24T17:30")
    s = record_suppressed({}, "acme/www/http", down, "maintenance", now)
    assert set(s) == {"acme/www/http"}
    # A reminder keeps the first record.
    again = record_suppressed(s, "acme/www/http", event("site-reminder"), "maintenance", now)
    assert again["acme/www/http"].event == down
    assert record_suppressed(s, "acme/www/http", event("site-recovered"), "maintenance", now) == {}
    # JSON round trip (it is persisted across restarts).
    rec = s["acme/www/http"]
    assert Suppressed.from_json(rec.to_json()) == rec


def test_follow_ups_when_suppression_ends() -> None:
    now = utc("2026-12-24T19:00")
    down = event("site-down", at="2026-12-24T17:30")
    recs = {
        "a": Suppressed("a", down, "maintenance", utc("2026-12-24T17:30")),
        "b": Suppressed("b", down, "connectivity", utc("2026-12-24T17:30")),
        "c": Suppressed("c", down, "maintenance", utc("2026-12-24T17:30")),
    }
    events, left = follow_ups(
        recs,
        still_suppressed=lambda r: r.check == "c",
        is_down=lambda check: check != "b",  # b recovered meanwhile
        now=now,
    )
    assert set(left) == {"c"}
    assert len(events) == 1
    ev = events[0]
    assert ev.kind == "site-down" and ev.thread == down.thread  # same incident thread
    assert ev.key == f"{down.key}|after-maintenance" and ev.key != down.key
    assert ev.at == now and ev.details["held_by"] == "maintenance window"
