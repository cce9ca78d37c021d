"""kill -9 of a real ``monitord run`` in the middle of a send, then a restart.

The destination (an aiosmtpd server, or the PagerDuty stand-in) takes the notice and then
holds its answer, so the daemon is killed after the destination has the notice and before it
could record it: the worst moment. The restarted daemon resolves the uncertain item at once
(not after limits.OUTBOX_LEASE, 5 minutes) and the recovery that follows on the same thread
is not held behind it. Deliveries are counted: PagerDuty de-duplicates the resend (one
alert); e-mail cannot be asked, so the message is sent again with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitord import limits
from tests.helpers.daemon import Switchable, agency_yaml, smtp_yaml, switchable_site
from tests.helpers.sites import LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.pagerduty import PagerDutyStandIn

REPO = Path(__file__).resolve().parents[2]
KEY = "0123456789abcdefABCDEF0123456789"

RESTART_BOUND = 30.0
"""Seconds within which the restarted daemon must have resolved the uncertain item and sent
the recovery: a tenth of limits.OUTBOX_LEASE, generous for a loaded CI machine."""


class HoldingSmtp(SmtpServer):
    """Takes the first message, then never answers its DATA (the daemon is killed meanwhile);
    later messages are answered normally."""

    def __init__(self) -> None:
        super().__init__()
        self.holds = 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.holds > 0:
            self.holds -= 1
            await asyncio.get_running_loop().create_future()  # cancelled when the server stops
        return reply


def write_config(d: Path, site_url: str, smtp: SmtpServer, extra: str) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + "security: {enabled: false}\nhttp: {listen: off}\ngrouping: {window: 0s}\n"
        + extra
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contacts:
              - {{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}}
            sites:
              - id: acme-www
                url: {site_url}
                checks:
                  - {{type: http, interval: 1s, timeout: 5s}}
                alert: {{failure_threshold: 1, success_threshold: 1, repeat_every: 4h}}
            """
        )
    )
    return d


async def start_daemon(cfg: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NOTIFY_SOCKET", None)
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitord", "run", "--config", str(cfg),
            env=env, stdout=out, stderr=out, cwd=cfg,
        )  # fmt: skip


async def until(cond: Callable[[], bool], what: str, log: Path) -> None:
    """Wait (awaiting the loop, which serves the stand-ins) until ``cond()`` holds."""
    deadline = time.monotonic() + RESTART_BOUND
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {RESTART_BOUND}s\n{log.read_text()}")
        await asyncio.sleep(0.05)


def outbox(cfg: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(cfg / "state.sqlite3") as db:
        rows = db.execute("SELECT notifier, status, key FROM outbox ORDER BY id").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


@pytest.fixture
async def down_site() -> AsyncIterator[tuple[Switchable, LoopbackSite]]:
    async with switchable_site() as (sw, site):
        sw.status = 503
        yield sw, site


async def kill_mid_send_then_restart(
    tmp_path: Path,
    sw: Switchable,
    cfg: Path,
    taken: Callable[[], int],
) -> tuple[float, Path]:
    """Run the daemon until the destination took ``taken() == 1`` notice, kill -9 it, start it
    again, bring the site back, and wait until the destination took the recovery too.
    Returns the seconds from the restart to the recovery's arrival, and the second log."""
    log1, log2 = tmp_path / "daemon1.log", tmp_path / "daemon2.log"
    first = await start_daemon(cfg, log1)
    try:
        await until(lambda: taken() >= 1, "the DOWN notice reached the destination", log1)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert "sending" in {s for _, s, _ in outbox(cfg)}, outbox(cfg)
    started = time.monotonic()
    second = await start_daemon(cfg, log2)
    try:
        sw.status = 200
        await until(lambda: taken() >= 3, "the resolution and the recovery", log2)
        elapsed = time.monotonic() - started
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    return elapsed, log2


async def test_kill_9_mid_smtp_send_resends_at_once_with_the_same_message_id(
    tmp_path: Path, down_site: tuple[Switchable, LoopbackSite]
) -> None:
    sw, site = down_site
    with HoldingSmtp() as smtp:
        cfg = write_config(tmp_path / "cfg", site.url, smtp, "")
        elapsed, log = await kill_mid_send_then_restart(
            tmp_path, sw, cfg, lambda: len(smtp.messages)
        )
        mails = smtp.messages
    kinds = [m.message["X-Monitord-Kind"] for m in mails]
    assert kinds == ["site-down", "site-down", "site-recovered"], kinds
    # The same message twice: a mail client that de-duplicates by Message-ID shows it once.
    assert mails[0].message["Message-ID"] == mails[1].message["Message-ID"]
    assert elapsed < limits.OUTBOX_LEASE.total_seconds() / 10, elapsed
    assert '"resolution": "resent-may-duplicate"' in log.read_text()
    assert {s for n, s, _ in outbox(cfg) if n == "email"} == {"sent"}


def holding(app: web.Application, holds: list[int], release: asyncio.Event) -> web.Application:
    """Let ``app`` do its work, then hold the answer of the first ``holds[0]`` requests until
    ``release`` is set."""

    @web.middleware
    async def hold(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if holds[0] > 0:
            holds[0] -= 1
            await release.wait()
        return response

    app.middlewares.append(hold)
    return app


async def test_kill_9_mid_pagerduty_send_gives_one_alert_and_no_lease_wait(
    tmp_path: Path, down_site: tuple[Switchable, LoopbackSite]
) -> None:
    sw, site = down_site
    pd = PagerDutyStandIn(routing_keys={KEY})
    release = asyncio.Event()
    async with serve_app(holding(pd.app(), [1], release)) as pd_site:
        with SmtpServer() as smtp:
            cfg = write_config(
                tmp_path / "cfg",
                site.url,
                smtp,
                textwrap.dedent(
                    f"""\
                    notifiers:
                      pager: {{type: pagerduty, routing_key: {KEY}, base_url: "{pd_site.url}"}}
                    routes:
                      - {{match: {{kind: [site-down, site-recovered]}}, notify: [pager]}}
                    """
                ),
            )
            try:
                elapsed, log = await kill_mid_send_then_restart(
                    tmp_path, sw, cfg, lambda: len(pd.requests)
                )
            finally:
                release.set()
    actions = [r.json()["event_action"] for r in pd.requests]
    assert actions == ["trigger", "trigger", "resolve"], actions
    # PagerDuty de-duplicated the resent trigger: one alert, resolved by the recovery.
    (alert,) = pd.alerts.values()
    assert alert.status == "resolved"
    assert elapsed < limits.OUTBOX_LEASE.total_seconds() / 10, elapsed
    assert '"resolution": "resent-deduplicated-by-destination"' in log.read_text()
