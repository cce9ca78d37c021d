"""Every API endpoint over real HTTP: the daemon's ApiService on 127.0.0.1 (a free port), an
aiohttp client, a real SQLite store and a real SMTP server. Results are fed with ``tick`` and a
driven clock; nothing reaches the network."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitord.api.server import API_MAX_BODY_BYTES
from monitord.daemon import Daemon, check_key
from monitord.probes.base import ProbeResult
from monitord.store.sqlite.reader import SqliteReader
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.secrets import CapturedLogs
from tests.helpers.smtp import SmtpServer
from tests.service.conftest import client, running, write_config

WWW = check_key("acme", "acme-www", "http")
TLS = check_key("acme", "acme-www", "tls")
RIVER = check_key("riverside", "riverside-www", "http")

DOWN = ProbeResult(ok=False, message="HTTP 503 in 12 ms", duration=0.012, details={"status": 503})
UP = ProbeResult(ok=True, message="HTTP 200 in 80 ms", duration=0.08, details={"status": 200})
CERT = ProbeResult(
    ok=True,
    message="certificate valid for 9 more days",
    duration=0.02,
    warning="certificate expires in 9 days (2026-12-05)",
    details={"cert_days_left": 9.5, "cert_not_after": "2026-12-05T23:59:59+00:00"},
)


async def feed(daemon: Daemon, clock: Clock) -> None:
    """acme-www DOWN (incident open, certificate close to expiry), riverside UP."""
    for _ in range(2):
        clock.advance(minutes=1)
        await daemon.tick(WWW, DOWN)
        await daemon.tick(RIVER, UP)
        await daemon.tick(TLS, CERT)


async def eventually(cond: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    """Wait until ``cond()`` holds (another task must make it so), failing after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await cond():
            await asyncio.sleep(0.01)
    assert await cond(), what


def metrics_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def labels(client: str, site: str, check: str, type_: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"client": client, "site": site, "check": check, "type": type_}.items()))


async def test_healthz_readyz_and_unknown_paths(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    async with running(cfg, Clock(T0), schedule=True) as (daemon, api), client() as http:
        assert api.url is not None and api.bound is not None and api.bound[1] != 0
        async with http.get(api.url + "healthz") as r:
            assert (r.status, await r.text()) == (200, "ok\n")
        async with http.get(api.url + "readyz") as r:
            assert r.status == 200, await r.text()
            assert await r.json() == {"ready": True, "problems": []}
        assert daemon.store is not None
        assert await daemon.store.get_meta("api.readyz") is not None  # the cheap write
        async with http.get(api.url + "nothing-here") as r:
            assert r.status == 404
        async with http.delete(api.url + "metrics") as r:
            assert r.status == 405
        # A store that cannot be written makes the daemon not ready, and says why.
        await daemon.store.close()
        async with http.get(api.url + "readyz") as r:
            body = await r.json()
            assert r.status == 503
            assert body["ready"] is False
            assert any(p.startswith("store not writable") for p in body["problems"]), body


async def test_readyz_without_scheduler_is_503_with_reason(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    async with (
        running(cfg, Clock(T0), schedule=False) as (_daemon, api),
        client() as http,
        http.get(f"{api.url}readyz") as r,
    ):
        assert r.status == 503
        assert (await r.json())["problems"] == ["scheduler not running"]


async def test_metrics(tmp_path: Path, smtp_server: SmtpServer) -> None:
    cfg = write_config(tmp_path / "cfg", smtp_port=smtp_server.port)
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api), client() as http:
        await feed(daemon, clock)
        mails = await smtp_server.wait_for_async(1)  # Jo: acme-www is down
        assert daemon.store is not None
        store = daemon.store

        async def delivered() -> bool:
            return (await store.outbox_stats(clock())).depth == 0

        await eventually(delivered, "the DOWN mail is recorded as sent")
        daemon.lateness_listeners[0](0.003)  # what a scheduled run reports
        async with http.get(f"{api.url}metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            m = metrics_of(await r.text())
        assert m[("monitord_check_up", labels("acme", "acme-www", "http", "http"))] == 0
        assert m[("monitord_check_up", labels("acme", "acme-www", "tls", "tls"))] == 1
        assert m[("monitord_check_up", labels("riverside", "riverside-www", "http", "http"))] == 1
        # The heartbeat has no verdict yet: unknown is absent, not 0 or 1.
        assert ("monitord_check_up", labels("acme", "acme-cron", "heartbeat", "heartbeat")) not in m
        tls_labels = labels("acme", "acme-www", "tls", "tls")
        # Whole days counted at scrape time from notAfter (9 d 9 h 58 m left), not the
        # figure stored with the probe result (9.5).
        assert m[("monitord_certificate_days_left", tls_labels)] == 9
        expiry = datetime.fromisoformat("2026-12-05T23:59:59+00:00").timestamp()
        assert m[("monitord_certificate_expiry_timestamp_seconds", tls_labels)] == expiry
        assert (
            m[("monitord_check_duration_seconds", labels("acme", "acme-www", "http", "http"))]
            == 0.012
        )
        assert m[("monitord_probe_duration_seconds_count", (("type", "http"),))] == 4
        assert m[("monitord_probe_duration_seconds_count", (("type", "tls"),))] == 2
        assert m[("monitord_probe_duration_seconds_sum", (("type", "tls"),))] == pytest.approx(0.04)
        assert m[("monitord_incidents_open", ())] == 1
        assert m[("monitord_outbox_depth", ())] == 0
        assert m[("monitord_outbox_oldest_age_seconds", ())] == 0
        assert m[("monitord_notifications_sent_total", (("notifier", "email"),))] == len(mails)
        assert m[("monitord_notifications_failed_total", (("notifier", "email"),))] == 0
        # The built-in tickets-local: one ticket for the DOWN, one for the certificate.
        assert m[("monitord_notifications_sent_total", (("notifier", "tickets"),))] == 2
        assert m[("monitord_scheduler_lateness_seconds_count", ())] == 1
        assert m[("monitord_scheduler_lateness_seconds_bucket", (("le", "0.005"),))] == 1
        assert m[("monitord_scheduler_lateness_seconds_bucket", (("le", "0.0025"),))] == 0
        assert m[("monitord_probes_total", ())] == 6
        assert m[("monitord_config_reloads_total", (("result", "ok"),))] == 0
        started = m[("monitord_config_last_reload_success_timestamp_seconds", ())]
        assert started == T0.timestamp()  # loaded at start

        # Reloads: one good, one refused; the timestamp follows the good one only.
        clock.advance(minutes=5)
        assert await daemon.reload()
        good_at = clock().timestamp()
        (cfg / "clients" / "broken.yml").write_text("client: [\n")
        clock.advance(minutes=5)
        assert not await daemon.reload()
        async with http.get(f"{api.url}metrics") as r:
            m = metrics_of(await r.text())
        assert m[("monitord_config_reloads_total", (("result", "ok"),))] == 1
        assert m[("monitord_config_reloads_total", (("result", "failed"),))] == 1
        assert m[("monitord_config_last_reload_success_timestamp_seconds", ())] == good_at

        # Two days on, with no new probe, the days left have gone down by two.
        clock.advance(days=2)
        async with http.get(f"{api.url}metrics") as r:
            later = metrics_of(await r.text())
        assert later[("monitord_certificate_days_left", tls_labels)] == 7


async def test_metrics_outbox_backlog_while_smtp_is_down(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    cfg = write_config(tmp_path / "cfg", smtp_port=smtp_server.port)
    clock = Clock(T0)
    smtp_server.fail("mail", "451 4.3.0 Try again later", times=100)
    async with running(cfg, clock) as (daemon, api), client() as http:
        await feed(daemon, clock)
        assert daemon.store is not None
        store = daemon.store

        async def tried() -> bool:
            # The mail waits for SMTP; the ticket (built-in tickets-local, the store) does not.
            items = await store.outbox_items()
            mail = [i for i in items if i.notifier == "email"]
            tickets = [i for i in items if i.notifier == "tickets"]
            return (
                bool(mail)
                and all(i.status == "pending" and i.last_error for i in mail)
                and bool(tickets)
                and all(i.status == "sent" for i in tickets)
            )

        await eventually(tried, "the first delivery try failed")
        items = await store.outbox_items()
        assert sorted((i.notifier, i.notification.event.kind) for i in items) == [
            ("email", "site-down"),  # Jo asked for site-down, nobody for certificates
            ("tickets", "certificate"),
            ("tickets", "site-down"),
        ]
        clock.advance(minutes=7)
        async with http.get(f"{api.url}metrics") as r:
            m = metrics_of(await r.text())
        assert m[("monitord_outbox_depth", ())] == 1
        assert m[("monitord_outbox_oldest_age_seconds", ())] == 7 * 60
        assert m[("monitord_notifications_sent_total", (("notifier", "email"),))] == 0
        assert m[("monitord_notifications_sent_total", (("notifier", "tickets"),))] == 2


async def test_status_json(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api), client() as http:
        await feed(daemon, clock)
        async with http.get(f"{api.url}api/v1/status") as r:
            assert r.status == 200
            assert r.content_type == "application/json"
            body = await r.json()
    assert body["agency"] == "Collective"
    assert body["generated"] == "2026-11-26T14:02:00+00:00"
    # November 2026's patch day (the 19th) has passed: December's third Wednesday is the 16th.
    assert body["next_patch_day"] == "2026-12-17T09:00:00+00:00"
    assert body["summary"] == {"sites": 3, "up": 1, "down": 1, "unknown": 1}
    assert [s["site"] for s in body["sites"]] == ["acme-www", "acme-cron", "riverside-www"]
    assert [s["state"] for s in body["sites"]] == ["down", "unknown", "up"]
    assert [c["client"] for c in body["clients"]] == ["acme", "riverside"]
    assert body["clients"][0] == {
        "client": "acme",
        "name": "ACME Charity",
        "state": "down",
        "sites": ["acme-www", "acme-cron"],
    }
    www = body["sites"][0]
    assert www["since"] == "2026-11-26T14:02:00+00:00"
    http_check = next(c for c in www["checks"] if c["check"] == "http")
    assert http_check["state"] == "down"
    assert http_check["last_result"]["message"] == "HTTP 503 in 12 ms"
    assert http_check["incident"]["started"] == "2026-11-26T14:01:00+00:00"
    assert [(i["site"], i["check"]) for i in body["incidents"]] == [("acme-www", "http")]
    assert body["certificates"] == [
        {
            "client": "acme",
            "site": "acme-www",
            "check": "tls",
            "days_left": 9,
            "not_after": "2026-12-05T23:59:59+00:00",
        }
    ]
    assert "token" not in str(body)  # heartbeat tokens are never served


async def test_status_page_html(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api), client() as http:
        await feed(daemon, clock)
        async with http.get(str(api.url)) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            html = await r.text()
    assert "<script" not in html
    assert 'name="viewport"' in html
    assert html.index('data-site="acme-www"') < html.index('data-site="riverside-www"')
    assert "1 site down" in html
    assert "9 days left" in html  # 9 d 9 h 58 m: whole days, rounded down


async def test_request_bodies_are_capped(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    async with running(cfg, Clock(T0)) as (daemon, api), client() as http:
        rec = next(iter(daemon.heartbeats.records.values()))
        url = f"{api.url}heartbeat/{rec.token}"
        async with http.post(url, data=b"x" * (API_MAX_BODY_BYTES + 1)) as r:
            assert r.status == 413
        assert (
            daemon.heartbeats.records[check_key("acme", "acme-cron", "heartbeat")].last_beat is None
        )
        async with http.post(url, data=b"job output\n" * 10) as r:
            assert r.status == 200


async def test_listen_off_runs_no_server_and_a_reload_turns_it_on(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", http="{listen: off}")
    async with running(cfg, Clock(T0)) as (daemon, api):
        assert api.bound is None and api.url is None
        text = (
            (cfg / "monitord.yml").read_text().replace("{listen: off}", "{listen: '127.0.0.1:0'}")
        )
        (cfg / "monitord.yml").write_text(text)
        assert await daemon.reload()
        assert api.url is not None
        async with client() as http, http.get(f"{api.url}healthz") as r:
            assert r.status == 200


async def test_an_address_in_use_is_logged_and_monitoring_goes_on(
    tmp_path: Path, captured_logs: CapturedLogs
) -> None:
    first_cfg = write_config(tmp_path / "one")
    async with running(first_cfg, Clock(T0)) as (_d1, api1):
        assert api1.bound is not None
        port = api1.bound[1]
        cfg = write_config(tmp_path / "two", http=f"{{listen: '127.0.0.1:{port}'}}")
        async with running(cfg, Clock(T0)) as (daemon, api):
            assert api.bound is None
            assert await daemon.tick(RIVER, UP) == []  # still monitoring
    assert "api.listen_failed" in captured_logs.text


def test_store_extras_are_read_when_the_tables_exist(tmp_path: Path) -> None:
    """The advisories part's tables, in our own fixture: counted, queue listed by patch day."""
    path = tmp_path / "s.sqlite3"
    assert SqliteReader(path).extras().advisories_seen is None  # no file at all
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE outbox (notifier TEXT, status TEXT);
        INSERT INTO outbox VALUES ('email','sent'),('email','sent'),('email','failed'),
          ('pager','pending');
        """
    )
    conn.commit()
    extras = SqliteReader(path).extras()
    assert extras.notifications == {
        ("email", "sent"): 2,
        ("email", "failed"): 1,
        ("pager", "pending"): 1,
    }
    assert (extras.advisories_seen, extras.patch_queue_pending, extras.patch_queue) == (
        None,
        None,
        (),
    )
    conn.executescript(
        """
        CREATE TABLE advisory (id TEXT, source TEXT);
        INSERT INTO advisory VALUES ('SA-CORE-2026-001','rss'),('SA-CORE-2026-001','psa-json:x'),
          ('SA-CONTRIB-2026-010','rss');
        CREATE TABLE patch_queue (site TEXT, advisory TEXT, client TEXT, project TEXT,
          installed TEXT, fixed TEXT, link TEXT, patch_day TEXT, queued_at TEXT, ticketed_at TEXT);
        INSERT INTO patch_queue VALUES
          ('acme-www','SA-CONTRIB-2026-010','acme','webform','6.2.3','6.2.9','https://www.drupal.org/sa-contrib-2026-010','2026-12-17','2026-11-20',NULL),
          ('old-site','SA-CONTRIB-2026-001','acme','token','1.0.0',NULL,'https://www.drupal.org/x','2026-11-19','2026-11-01','2026-11-19');
        """
    )
    conn.commit()
    conn.close()
    extras = SqliteReader(path).extras()
    assert extras.advisories_seen == 2
    assert extras.patch_queue_pending == 1
    assert [(q.site, q.project, q.fixed) for q in extras.patch_queue] == [
        ("acme-www", "webform", "6.2.9")
    ]
