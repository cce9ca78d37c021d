"""A DOWN is never lost when the store cannot write: the real daemon on a driven clock, a real
site, a real SMTP server and a real SQLite file that refuses the write of the transition —
locked by another connection (``BEGIN IMMEDIATE``), or full (``SQLITE_FULL``).

The transition is retried until stored (the retry's wait is released by the test, not slept),
memory does not move meanwhile, ``/readyz`` and ``/metrics`` say the store is failing, and once
the store takes writes again the DOWN mail goes out exactly once, then the RECOVERED.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

import monitord.store.sqlite.base as sqlite_store
from monitord.api.server import ApiService
from monitord.daemon import Daemon
from monitord.errors import StoreError
from monitord.limits import HEALTH_STORE_TIMEOUT
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, Switchable, ticks, write_config
from tests.helpers.sites import LoopbackSite, closed_port
from tests.helpers.smtp import SmtpServer
from tests.routing.test_daemon_routing import MAINTENANCE_SITE, Sites, connectivity, settle
from tests.routing.test_daemon_routing import key as routing_key
from tests.routing.test_daemon_routing import write_config as routing_config

ALERT = "{failure_threshold: 2, success_threshold: 1, repeat_every: 4h}"

Fault = Callable[[Daemon], Awaitable[Callable[[], Awaitable[None]]]]
"""Makes the daemon's store refuse writes; returns what lifts the fault."""


async def lock_from_another_connection(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """A second connection holds ``BEGIN IMMEDIATE`` on the file (a backup, an sqlite3 shell)."""
    assert daemon.config is not None
    other = sqlite3.connect(daemon.config.state_path(), isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")

    released = False

    async def release() -> None:
        nonlocal released
        if not released:
            released = True
            other.execute("ROLLBACK")
            other.close()

    return release


async def fill_the_disk(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """The filesystem of the state directory (a tmpfs of its own, see ``state_dir``) is filled
    to the last byte by another file: SQLite's next write fails with SQLITE_FULL ("database or
    disk is full"), as on a full disk. Deleting the file frees it."""
    assert daemon.config is not None
    filler = daemon.config.state_path().parent / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)

    async def release() -> None:
        filler.unlink()

    return release


STATE_FS_BYTES = 4 * 1024 * 1024
"""The tmpfs of the disk-full case: room for the store, filled by the test."""


@contextlib.contextmanager
def state_dir(tmp_path: Path, fault: Fault) -> Iterator[Path]:
    """Where the store lives: on a tmpfs of its own for the disk-full case (mounting one needs
    root; skipped otherwise), else in ``tmp_path``."""
    d = tmp_path / "state"
    d.mkdir()
    if fault is not fill_the_disk:
        yield d
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={STATE_FS_BYTES}", "tmpfs", str(d)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs of its own (mount as root): {mounted.stderr!r}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, state: Path, loop_site: LoopbackSite, smtp: SmtpServer
) -> AsyncIterator[tuple[Daemon, Clock, ApiService, asyncio.Event, asyncio.Event]]:
    """The daemon, its clock, its HTTP API on loopback, the event set at the first refused
    write and the event that ends the retry's wait (set by the test)."""
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp, alert=ALERT)
    yml = cfg / "monitord.yml"
    text = yml.read_text().replace("http: {listen: off}", "http: {listen: '127.0.0.1:0'}")
    text = text.replace(str(cfg / "state.sqlite3"), str(state / "state.sqlite3"))
    yml.write_text(text)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    refused, retry = asyncio.Event(), asyncio.Event()

    async def wait_for_the_test(_delay: float) -> None:
        await retry.wait()

    daemon.pipeline.sleep = wait_for_the_test
    daemon.pipeline.health.listeners.append(lambda _exc: refused.set())
    await daemon.start()
    try:
        api = next(s for s in daemon.services if isinstance(s, ApiService))
        yield daemon, clock, api, refused, retry
    finally:
        await daemon.stop()


async def store_problems(http: aiohttp.ClientSession, api: ApiService) -> list[str]:
    assert api.url is not None
    async with http.get(api.url + "readyz") as r:
        body = await r.json()
        assert r.status == (200 if body["ready"] else 503)
        return [p for p in body["problems"] if p.startswith("store")]


async def store_failures(http: aiohttp.ClientSession, api: ApiService) -> tuple[float, float]:
    assert api.url is not None
    async with http.get(api.url + "metrics") as r:
        text = await r.text()
    values = {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples}
    return values["monitord_store_write_failures_total"], values["monitord_store_failing"]


SQLITE_SAYS: dict[Fault, str] = {
    lock_from_another_connection: "database is locked",  # SQLITE_BUSY
    fill_the_disk: "database or disk is full",  # SQLITE_FULL
}


@pytest.mark.parametrize("fault", [lock_from_another_connection, fill_the_disk])
async def test_a_down_refused_by_the_store_is_retried_and_sent_once_then_the_recovery(
    tmp_path: Path,
    site: tuple[Switchable, LoopbackSite],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
) -> None:
    # The daemon's statements give up on a lock after 50 ms instead of 5 s (opened with it).
    monkeypatch.setattr(sqlite_store, "STORE_BUSY_TIMEOUT", timedelta(milliseconds=50))
    with state_dir(tmp_path, fault) as state:
        await down_refused_then_recovered(tmp_path, state, site, smtp_server, fault)
    # Stopped: the sender has finished; exactly one DOWN, then one RECOVERED.
    kinds = [m.message["X-Monitord-Kind"] for m in smtp_server.messages]
    assert kinds == ["site-down", "site-recovered"]


async def down_refused_then_recovered(
    tmp_path: Path,
    state: Path,
    site: tuple[Switchable, LoopbackSite],
    smtp_server: SmtpServer,
    fault: Fault,
) -> None:
    sw, loop_site = site
    async with (
        started(tmp_path, state, loop_site, smtp_server) as (daemon, clock, api, refused, retry),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
    ):
        assert daemon.store is not None
        assert await store_problems(http, api) == []
        sw.status = 503
        assert await ticks(daemon, clock, 1) == []  # one failure: below the threshold
        await daemon.store.flush()

        lift = await fault(daemon)
        clock.advance(seconds=60)
        down = asyncio.create_task(daemon.tick(KEY))  # the failure that crosses the threshold
        async with asyncio.timeout(20):
            await refused.wait()
        # Refused: nothing remembered, nothing sent, and the operator is told.
        assert daemon.states[KEY].status != "down"
        assert not down.done()
        [problem] = await store_problems(http, api)
        assert problem.startswith("store failing since 2026-11-26T14:02:00+00:00: ")
        assert "could not save a check state with its notifications" in problem
        assert SQLITE_SAYS[fault] in problem
        failures, failing = await store_failures(http, api)
        assert failures >= 1 and failing == 1
        # The next result of the check waits for the pending DOWN, then is judged on it.
        clock.advance(seconds=60)
        later = asyncio.create_task(daemon.tick(KEY))

        await lift()
        retry.set()
        assert [e.kind for e in await down] == ["site-down"]
        assert await later == []  # still down: no second DOWN, no recovery
        assert daemon.states[KEY].status == "down"
        [down_mail] = await smtp_server.wait_for_async(1)
        assert down_mail.message["X-Monitord-Kind"] == "site-down"
        assert await store_problems(http, api) == []
        assert (await store_failures(http, api))[1] == 0

        sw.status = 200
        assert await ticks(daemon, clock, 1) == ["site-recovered"]
        await smtp_server.wait_for_async(2)


async def test_a_connectivity_notice_refused_by_the_store_is_retried_and_sent_once(
    tmp_path: Path,
    sites: tuple[Sites, LoopbackSite],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node loses its network (12 of 20 checks fail, the canary is dead) while another
    connection holds the store: the "isolated" notice is kept, retried and mailed once."""
    monkeypatch.setattr(sqlite_store, "STORE_BUSY_TIMEOUT", timedelta(milliseconds=50))
    s, loop_site = sites
    with closed_port() as port:
        cfg = routing_config(
            tmp_path,
            loop_site,
            smtp_server,
            n_sites=20,
            main_extra=connectivity(f"http://127.0.0.1:{port}/"),
            threshold=2,
        )
        clock = Clock(T0)
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
        refused, retry = asyncio.Event(), asyncio.Event()

        async def wait_for_the_test(_delay: float) -> None:
            await retry.wait()

        daemon.pipeline.sleep = wait_for_the_test

        # A durable write refused (not the background flush of results, also refused).
        def on_refused(_exc: StoreError) -> None:
            if daemon.pipeline.pending > 0:
                refused.set()

        daemon.pipeline.health.listeners.append(on_refused)
        await daemon.start()
        release = await lock_from_another_connection(daemon)
        try:
            for i in range(12):
                s.status[f"s{i}"] = 503
            # One round, all at once: the rule holds after ten failures, with the store locked.
            ticks_ = asyncio.ensure_future(
                asyncio.gather(*(daemon.tick(routing_key(i)) for i in range(20)))
            )
            async with asyncio.timeout(20):
                waiting: list[asyncio.Future[Any]] = [
                    ticks_,
                    asyncio.ensure_future(refused.wait()),
                ]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            assert refused.is_set(), "the refused notice was not kept to be retried"
            assert not daemon.desk.connectivity.isolated  # not remembered before it is stored
            await release()
            retry.set()
            assert [e for events in await ticks_ for e in events] == []  # below the threshold
            assert daemon.desk.connectivity.isolated
            await settle(daemon)
        finally:
            await release()
            await daemon.stop()
    assert [m.message["X-Monitord-Kind"] for m in smtp_server.messages] == ["connectivity"]
    assert daemon.desk.canary_probes == 1


@pytest.mark.parametrize(
    ("back_at_the_end", "told"),
    [
        # Still down when the window ends: the held DOWN goes out, after the restart.
        (False, [("site-down", "ann@acme.example"), ("site-down", "jo@acme.example")]),
        # Back when the window ends: nobody was told of the DOWN, so nobody of the recovery.
        (True, []),
    ],
)
async def test_a_held_down_is_followed_up_right_when_its_write_fails_and_the_daemon_stops(
    tmp_path: Path,
    sites: tuple[Sites, LoopbackSite],
    smtp_server: SmtpServer,
    back_at_the_end: bool,
    told: list[tuple[str, str]],
) -> None:
    """A DOWN held by a maintenance window is settled by the first result after the window;
    the write of that result is refused (a trigger another connection put on check_state makes
    SQLite abort it), and the daemon is stopped meanwhile. The held record must still be there
    after the restart, so the DOWN goes out then (or, the site being back, nothing does)."""
    s, loop_site = sites
    cfg = routing_config(tmp_path, loop_site, smtp_server, site_extra=MAINTENANCE_SITE)
    clock = Clock(datetime(2026, 11, 26, 14, 10, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    refused, never = asyncio.Event(), asyncio.Event()

    async def wait_forever(_delay: float) -> None:
        await never.wait()

    daemon.pipeline.sleep = wait_forever
    daemon.pipeline.health.listeners.append(lambda _exc: refused.set())
    await daemon.start()
    try:
        assert daemon.config is not None
        state_path = daemon.config.state_path()
        s.status["s0"] = 503
        assert [e.kind for e in await daemon.tick(routing_key(0))] == ["site-down"]  # held
        assert await settle(daemon) == 0

        other = sqlite3.connect(state_path, isolation_level=None)
        other.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON check_state "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
        clock.now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # the window ends
        if back_at_the_end:
            s.status["s0"] = 200
        settling = asyncio.create_task(daemon.tick(routing_key(0)))
        async with asyncio.timeout(20):
            await refused.wait()
        settling.cancel()  # the daemon stops while the write is being retried
        await asyncio.gather(settling, return_exceptions=True)
    finally:
        await daemon.stop()
    other.execute("DROP TRIGGER refuse")
    other.close()
    assert smtp_server.messages == []

    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        clock.advance(minutes=1)
        await daemon.tick(routing_key(0))
        await settle(daemon)
        assert daemon.desk.suppressed == {}
    finally:
        await daemon.stop()
    late = [(m.message["X-Monitord-Kind"], m.rcpt_tos[0]) for m in smtp_server.messages]
    assert sorted(late) == told


async def test_health_answers_in_time_while_another_program_holds_the_lock(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    """With the real busy timeout (5 s per statement), a DOWN's write is waiting on the lock:
    ``/readyz`` and ``/metrics`` still answer within HEALTH_STORE_TIMEOUT (plus a margin for
    this shared machine) instead of queueing behind it — a health check with a short timeout
    sees "store not answering", not a timeout."""
    sw, loop_site = site
    bound = HEALTH_STORE_TIMEOUT.total_seconds() + 2.0
    async with (
        started(tmp_path, tmp_path, loop_site, smtp_server) as (daemon, clock, api, _r, retry),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):
        assert api.url is not None
        sw.status = 503
        assert await ticks(daemon, clock, 1) == []
        assert daemon.store is not None
        await daemon.store.flush()
        lift = await lock_from_another_connection(daemon)
        clock.advance(seconds=60)
        down = asyncio.create_task(daemon.tick(KEY))
        await asyncio.sleep(0)  # the DOWN's write is now queued on the store's thread
        try:
            async with asyncio.timeout(bound):
                problems = await store_problems(http, api)
            assert problems and problems[0].startswith(
                ("store not answering within 2 s", "store failing since")
            ), problems
            async with asyncio.timeout(bound), http.get(api.url + "metrics") as r:
                text = await r.text()
            assert r.status == 200
            values = {
                s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
            }
            assert values["monitord_store_answering"] == 0 or values["monitord_store_failing"] == 1
        finally:
            await lift()
            retry.set()
        assert [e.kind for e in await down] == ["site-down"]
