"""The API cannot blind the daemon: a real ``monitord run`` under a 1024-file limit (the
systemd default, which the shipped unit's ``SystemCallFilter=~@resources`` keeps it from
raising), its API on 127.0.0.1, and an attacker holding 1,200 idle connections plus slowloris
ones (one header line every half second) for as long as the test runs.

What must hold meanwhile: probes of a healthy loopback site keep passing (no false DOWN, not
even one failed probe: the failure threshold is 1), a real DOWN of another site is mailed,
connections past the cap are closed at once, idle and slow ones after their timeouts, and the
daemon's open files stay under its limit by the reserve it keeps for probes and mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from monitord.limits import API_ACCEPT_OVERSHOOT, FDS_PER_PROBE
from tests.helpers.daemon import agency_yaml, smtp_yaml
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[2]

FD_LIMIT = 1024
"""The daemon's RLIMIT_NOFILE, soft and hard: systemd's default for a service."""
FLOOD = 1200
"""Idle connections the attacker holds at once (1,143 blinded the daemon before)."""
SLOW = 20
"""Slowloris connections: a request line, then one header line every SLOW_PACE seconds."""
SLOW_PACE = 0.5
MAX_CONNECTIONS = 32
IDLE_TIMEOUT = 1.0
HEADER_TIMEOUT = 1.0
WAIT = 60.0
"""Seconds any one wait in this test may take before it fails (a loaded 2-core box)."""
SLACK = 3.0
"""Seconds a timed-out connection may outlive its timeout (timer, loop latency under load)."""


class Sites:
    """``/`` always answers 200 (the healthy site); ``/shop`` answers ``shop_status``."""

    def __init__(self) -> None:
        self.shop_status = 200
        self.healthy_hits = 0
        self.healthy_hit = asyncio.Event()

    def app(self) -> web.Application:
        async def healthy(_r: web.Request) -> web.Response:
            self.healthy_hits += 1
            self.healthy_hit.set()
            return web.Response(text="<h1>ACME Charity</h1>")

        async def shop(_r: web.Request) -> web.Response:
            return web.Response(status=self.shop_status, text="<h1>ACME Shop</h1>")

        app = web.Application()
        app.router.add_get("/", healthy)
        app.router.add_get("/shop", shop)
        return app

    async def wait_hits(self, n: int) -> None:
        while self.healthy_hits < n:
            self.healthy_hit.clear()
            await self.healthy_hit.wait()


def write_config(d: Path, site_url: str, smtp: SmtpServer) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + "security: {enabled: false}\n"
        + textwrap.dedent(
            f"""\
            http:
              listen: 127.0.0.1:0
              max_connections: {MAX_CONNECTIONS}
              idle_timeout: {IDLE_TIMEOUT}s
              header_timeout: {HEADER_TIMEOUT}s
            """
        )
    )
    alert = "{failure_threshold: 1, success_threshold: 1, repeat_every: null}"
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contacts:
              - {{name: Jo Bloggs, email: jo@acme.example, notify: [site-down]}}
            sites:
              - id: acme-www
                url: {site_url}
                checks:
                  - {{type: http, interval: 1s, timeout: 5s}}
                alert: {alert}
              - id: acme-shop
                url: {site_url}shop
                checks:
                  - {{type: http, interval: 1s, timeout: 5s}}
                alert: {alert}
            """
        )
    )
    return d


class DaemonLog:
    """Reads the daemon's JSON log lines as they come; tests await the lines they need."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._new = asyncio.Event()

    async def pump(self) -> None:
        async for line in self.stream:
            text = line.decode(errors="replace").rstrip("\n")
            self.raw.append(text)
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(text))
            self._new.set()

    async def wait_for(self, event: str) -> dict[str, Any]:
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if line.get("event") == event:
                    return line
            seen = len(self.lines)
            self._new.clear()
            await self._new.wait()

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == event]


@dataclass
class Attack:
    """What the attacker's connections saw: how long each lived, and how it ended."""

    host: str
    port: int
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    idle_lives: list[float] = field(default_factory=list)
    """Seconds from connect to the server's close, of idle connections the server accepted."""
    refused_lives: list[float] = field(default_factory=list)
    """The same for connections the server refused (it answered 503 and closed)."""
    slow_lives: list[float] = field(default_factory=list)
    connected: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever a connection ends."""

    def _ended(self, got: bytes, life: float, lives: list[float]) -> None:
        (self.refused_lives if got.startswith(b"HTTP/1.1 503") else lives).append(life)
        self.closed.set()

    async def wait_closed(self, idle: int, slow: int) -> None:
        """Until the server has closed ``idle`` idle and ``slow`` slowloris connections."""
        while len(self.idle_lives) < idle or len(self.slow_lives) < slow:
            self.closed.clear()
            await self.closed.wait()

    def _count(self) -> None:
        self.connected += 1
        if self.connected >= self.target:
            self.all_connected.set()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(asyncio.open_connection(self.host, self.port), WAIT)
        except (OSError, TimeoutError):
            return None

    async def idle(self) -> None:
        while not self.stop.is_set():
            conn = await self._connect()
            if conn is None:
                continue
            reader, writer = conn
            start = time.monotonic()
            self._count()
            got = b""
            try:
                while chunk := await reader.read(4096):
                    got += chunk
            except OSError:
                pass
            finally:
                writer.close()
            self._ended(got, time.monotonic() - start, self.idle_lives)
            # The attacker's own pace between connections, not a wait in the test.
            await asyncio.sleep(0.2)

    async def slowloris(self) -> None:
        while not self.stop.is_set():
            conn = await self._connect()
            if conn is None:
                continue
            reader, writer = conn
            start = time.monotonic()
            self._count()

            dripping = asyncio.create_task(_drip(writer))
            got = b""
            try:
                while chunk := await reader.read(4096):
                    got += chunk
            except OSError:
                pass
            finally:
                dripping.cancel()
                await asyncio.gather(dripping, return_exceptions=True)
                writer.close()
            self._ended(got, time.monotonic() - start, self.slow_lives)
            await asyncio.sleep(0.2)  # the attacker's pace


async def _drip(writer: asyncio.StreamWriter) -> None:
    """A request line, then one header line every SLOW_PACE seconds, never the blank line."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: monitord\r\n")
    while True:
        await asyncio.sleep(SLOW_PACE)  # the attacker's pace
        writer.write(b"X-Pad: 1\r\n")
        await writer.drain()


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@contextlib.asynccontextmanager
async def monitord_run(cfg: Path, cwd: Path) -> AsyncIterator[tuple[Any, DaemonLog]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NOTIFY_SOCKET", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitord",
        "run",
        "--config",
        str(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
        env=env,
        preexec_fn=_limit_files,  # only setrlimit: nothing that could deadlock after fork
    )
    assert proc.stdout is not None
    log = DaemonLog(proc.stdout)
    pump = asyncio.create_task(log.pump())
    try:
        yield proc, log
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), WAIT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await asyncio.wait_for(pump, WAIT)


async def _sample_fds(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    """The daemon's open files, sampled every 20 ms: a measurement, not a wait."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            peak[0] = max(peak[0], len(os.listdir(f"/proc/{pid}/fd")))
        await asyncio.sleep(0.02)


async def test_idle_and_slow_connections_cannot_blind_the_daemon(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    sites = Sites()
    async with serve_app(sites.app()) as site:
        cfg = write_config(tmp_path / "cfg", site.url, smtp_server)
        async with monitord_run(cfg, tmp_path) as (proc, log):
            listening = await asyncio.wait_for(log.wait_for("api.listening"), WAIT)
            api = URL(listening["url"])
            assert api.host is not None and api.port is not None
            await asyncio.wait_for(sites.wait_hits(2), WAIT)  # probing before the attack

            attack = Attack(api.host, api.port, target=FLOOD + SLOW)
            baseline = len(os.listdir(f"/proc/{proc.pid}/fd"))  # probing, idle API
            peak = [0]
            sampler = asyncio.create_task(_sample_fds(proc.pid, peak, attack.stop))
            attackers = [asyncio.create_task(attack.slowloris()) for _ in range(SLOW)]
            attackers += [asyncio.create_task(attack.idle()) for _ in range(FLOOD)]
            try:
                await asyncio.wait_for(attack.all_connected.wait(), WAIT)
                # Under attack: a real DOWN is mailed, and the healthy site keeps being probed.
                hits = sites.healthy_hits
                sites.shop_status = 503
                mails = await smtp_server.wait_for_async(1, timeout=WAIT)
                await asyncio.wait_for(sites.wait_hits(hits + 5), WAIT)
                # Idle and slow connections the server accepted were closed on their timeouts.
                await asyncio.wait_for(attack.wait_closed(MAX_CONNECTIONS, SLOW), WAIT)
            finally:
                attack.stop.set()
                for task in attackers:
                    task.cancel()
                await asyncio.gather(*attackers, sampler, return_exceptions=True)

            # Still answering once the attack is over.
            async with (
                aiohttp.ClientSession() as session,
                session.get(api.join(URL("/api/v1/status"))) as resp,
            ):
                assert resp.status == 200
                status = await resp.json()

    subjects = [m.message["Subject"] for m in smtp_server.messages]
    assert len(mails) >= 1 and all("acme-shop" in s or "ACME" in s for s in subjects), subjects
    downs = [e for e in log.events("event") if e.get("kind") == "site-down"]
    assert [e["site"] for e in downs] == ["acme-shop"], downs
    assert not log.events("probe.monitor_error"), log.events("probe.monitor_error")
    www = next(s for s in status["sites"] if s["site"] == "acme-www")
    assert www["state"] == "up" and www["checks"][0]["last_result"]["ok"], www

    assert attack.refused_lives, "no connection was refused past the cap"
    # Refused at once (a few wait in the kernel's accept queue for a SYN-ACK retry first).
    assert statistics.median(attack.refused_lives) < 0.1, sorted(attack.refused_lives)[-5:]
    assert max(attack.idle_lives) < IDLE_TIMEOUT + SLACK, sorted(attack.idle_lives)[-5:]
    assert max(attack.slow_lives) < HEADER_TIMEOUT + SLACK, sorted(attack.slow_lives)[-5:]
    # The API never holds more than its cap plus the accept overshoot (and the two checks'
    # probes may be in flight on top of the baseline).
    api_bound = MAX_CONNECTIONS + API_ACCEPT_OVERSHOOT + 2 * FDS_PER_PROBE
    assert peak[0] - baseline <= api_bound, (baseline, peak[0])
    print(
        f"\nflood: {len(attack.refused_lives)} refused (median life "
        f"{statistics.median(attack.refused_lives) * 1000:.1f} ms), {len(attack.idle_lives)} idle and "
        f"{len(attack.slow_lives)} slow closed; idle lived <= {max(attack.idle_lives):.2f} s, "
        f"slow <= {max(attack.slow_lives):.2f} s; open files {baseline} before, peak "
        f"{peak[0]} of {FD_LIMIT}"
    )
