"""A client's month in a real state store, for the report and hours-page tests (and the
screenshots): ACME Charity with two sites, a support contract, one incident, tickets, an
advisory patched, a certificate close to expiry and time entries, in November 2026."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitord.contracts.ledger import TimeEntry
from monitord.contracts.store import SqliteTimeEntryStore
from monitord.daemon import check_key
from monitord.report.rollup import Span, attribute, merge
from monitord.report.store import RawResult, ReportStore
from monitord.store.sqlite import SqliteStore

TOKEN = "acme-hours-token-0123456789abcdef"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
"""Tuesday 1 December 2026, 09:30 in London: the report of November is due."""
WWW = check_key("acme", "acme-www", "http")
SHOP = check_key("acme", "acme-shop", "http")
TLS = check_key("acme", "acme-www", "tls")
DOWN = (datetime(2026, 11, 12, 10, 3, tzinfo=UTC), datetime(2026, 11, 12, 10, 50, tzinfo=UTC))
"""47 minutes of acme-www down."""
MAINTENANCE = (datetime(2026, 11, 18, 6, 0, tzinfo=UTC), datetime(2026, 11, 18, 8, 0, tzinfo=UTC))
"""Two hours of agreed maintenance on acme-shop (down during it: not counted)."""


def write_config(d: Path, *, smtp_port: int = 9, http_port: int = 0) -> Path:
    """The configuration (its state store in ``d``); mail goes to 127.0.0.1:``smtp_port``."""
    (d / "clients").mkdir(parents=True, exist_ok=True)
    smtp = (
        f"smtp: {{host: 127.0.0.1, port: {smtp_port}, "
        "from: 'Collective <monitor@collective.example>'}\n"
    )
    (d / "monitord.yml").write_text(
        textwrap.dedent(
            f"""\
            agency: {{name: Collective, timezone: Europe/London}}
            state: {{path: {d / "state.sqlite3"}}}
            security: {{enabled: false}}
            http: {{listen: '127.0.0.1:{http_port}'}}
            billing: {{currency: GBP, hourly_rate: "120.00", vat: 20%}}
            """
        )
        + smtp
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contract:
              start: 2026-09
              monthly_hours: 10h
              rounding: 15m
              page_token: {TOKEN}
            contacts:
              - {{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, report]}}
              - {{name: Sam Ops, email: sam@acme.example, notify: [site-down]}}
            sites:
              - id: acme-www
                name: ACME main site
                url: https://www.acme.example/
                checks: [{{type: http, interval: 1m}}, {{type: tls, interval: 1h}}]
              - id: acme-shop
                name: ACME shop
                url: https://shop.acme.example/
                checks: [{{type: http, interval: 1m}}]
                maintenance:
                  - {{from: "2026-11-18T06:00:00+00:00", to: "2026-11-18T08:00:00+00:00"}}
            """
        )
    )
    return d


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    out = []
    t = start
    while t < end:
        out.append(t)
        t += timedelta(minutes=1)
    return out


def seed_uptime(path: Path, start: datetime, end: datetime) -> None:
    slices = []
    raw = []
    maint: list[Span] = [MAINTENANCE]
    for t in _minutes(start, end):
        www_ok = not DOWN[0] <= t < DOWN[1]
        shop_ok = not MAINTENANCE[0] <= t < MAINTENANCE[1]
        slices += [(WWW, s) for s in attribute(t, timedelta(minutes=1), www_ok)]
        slices += [(SHOP, s) for s in attribute(t, timedelta(minutes=1), shop_ok, maint)]
        if t >= end - timedelta(days=1):
            raw.append(RawResult(WWW, t, www_ok, "200 OK"))
    with ReportStore(path) as rs:
        rs.write_batch(merge(slices), raw)


def seed(d: Path) -> Path:
    """The store of the configuration in ``d`` with November 2026 (and its entries)."""
    path = d / "state.sqlite3"

    async def create() -> None:
        s = SqliteStore(path)
        await s.open()
        await s.close()

    asyncio.run(create())
    seed_uptime(path, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))

    def iso(dt: datetime) -> str:
        return dt.isoformat()

    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO incident VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "inc-1",
                WWW,
                "acme",
                "acme-www",
                "http",
                iso(DOWN[0]),
                iso(DOWN[1]),
                "acme-www DOWN",
                "HTTP 503 from the web server",
            ),
        )
        tickets = [
            # opened, acked minutes later, resolved
            (
                1,
                "inc-1",
                "acme-www",
                "acme-www is down",
                DOWN[0],
                DOWN[0] + timedelta(hours=1),
                DOWN[0] + timedelta(minutes=12),
            ),
            (
                2,
                "t-2",
                None,
                "Update the donation form",
                datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
                datetime(2026, 11, 3, 10, 0, tzinfo=UTC),
                datetime(2026, 11, 3, 9, 40, tzinfo=UTC),
            ),
            (
                3,
                "t-3",
                None,
                "Add a new trustee page",
                datetime(2026, 11, 20, 16, 30, tzinfo=UTC),
                datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
                datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
            ),
        ]
        for tid, thread, site, title, opened, rb, acked in tickets:
            conn.execute(
                "INSERT INTO ticket (id, thread, client, site, check_id, kind, priority, title, "
                "body, opened_at, respond_by, status, acked_at, updated) "
                "VALUES (?, ?, 'acme', ?, NULL, 'site-down', 'normal', ?, '', ?, ?, 'acked', ?, ?)",
                (tid, thread, site, title, iso(opened), iso(rb), iso(acked), iso(acked)),
            )
        adv = {
            "title": "Drupal core - Moderately critical - Access bypass",
            "risk_label": "Moderately critical 12∕25",
            "link": "https://www.drupal.org/sa-core-2026-005",
        }
        conn.execute(
            "INSERT INTO advisory VALUES ('SA-CORE-2026-005', 'rss', 'f', ?, ?, ?, '[]')",
            (json.dumps(adv), "2026-11-04T18:05:00+00:00", "2026-11-30T00:00:00+00:00"),
        )
        conn.execute(
            "INSERT INTO advisory VALUES ('SA-CONTRIB-2026-041', 'rss', 'g', ?, ?, ?, '[]')",
            (
                json.dumps({"title": "Webform - Critical - XSS", "risk_label": "Critical 15∕25"}),
                "2026-11-25T17:00:00+00:00",
                "2026-11-30T00:00:00+00:00",
            ),
        )
        conn.execute(
            "INSERT INTO advisory_decision VALUES ('SA-CORE-2026-005', 'acme-www', 'acme', 'f', "
            "'10.3.9', 'none', NULL, 'fixed version installed', '2026-11-11T10:20:00+00:00')"
        )
        conn.execute(
            "INSERT INTO patch_queue VALUES ('acme-www', 'SA-CORE-2026-005', 'acme', 'drupal', "
            "'10.3.8', '10.3.9', 'https://www.drupal.org/sa-core-2026-005', "
            "'2026-11-11T09:00:00+00:00', '2026-11-04T18:10:00+00:00', "
            "'2026-11-11T09:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO advisory_decision VALUES ('SA-CONTRIB-2026-041', 'acme-shop', 'acme', "
            "'g', '6.2.1', 'now', NULL, 'critical', '2026-11-25T17:02:00+00:00')"
        )
        conn.execute(
            "INSERT INTO latest_result VALUES (?, 'acme', 'acme-www', 'tls', 1, 'ok', NULL, 0.1, "
            "?, ?)",
            (TLS, iso(NOW), json.dumps({"cert_not_after": "2026-12-19T12:00:00+00:00"})),
        )
    conn.close()
    with SqliteTimeEntryStore(path) as hs:
        for i, (day, mins, ticket, note) in enumerate(
            [
                (3, 40, "#2", "donation form"),
                (12, 30, "#1", "outage: web server restart"),
                (16, 95, "#2", "donation form: payment provider"),
                (23, 150, "#3", "trustee page"),
                (27, 60, None, "monthly updates"),
            ]
        ):
            hs.upsert(
                TimeEntry(
                    "manual",
                    f"e{i}",
                    "acme",
                    datetime(2026, 11, day, 11, 0, tzinfo=UTC),
                    mins * 60,
                    ticket=ticket,
                    note=note,
                    person="alex",
                ),
                datetime(2026, 11, day, 17, 0, tzinfo=UTC),
            )
    return path
