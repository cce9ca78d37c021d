"""One incident per site, in a real daemon (a site on 127.0.0.1, a closed then listening TCP
port, aiosmtpd, a real SQLite file, the built-in tickets-local, a driven clock): an http check
and a tcp check of one site failing give ONE DOWN mail, ONE ticket (the second failure a
comment on it) and one recovery when both are back; every message names the failing checks
with their targets. The incident survives a restart in the middle."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from monitord.daemon import Daemon, check_key
from monitord.store.sqlite import SqliteStore
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, Switchable, write_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import ReceivedMail, SmtpServer

TCP_KEY = check_key("acme", "acme-www", "tcp")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connection refused) until :func:`listen`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def listen(port: int) -> AsyncIterator[None]:
    def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


def config(tmp_path: Path, loop_site: LoopbackSite, smtp: SmtpServer, port: int) -> Path:
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp)
    f = cfg / "clients" / "acme.yml"
    f.write_text(
        f.read_text().replace(
            "      - {type: http, interval: 60s, timeout: 5s, expect: {status: 200}}\n",
            "      - {type: http, interval: 60s, timeout: 5s, expect: {status: 200}}\n"
            f"      - {{type: tcp, host: 127.0.0.1, port: {port}, interval: 60s}}\n",
        )
    )
    assert "type: tcp" in f.read_text()
    return cfg


def text_of(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def all_sent(daemon: Daemon) -> None:
    """Until the outbox has nothing left to send (the daemon's own sender may hold an item)."""
    assert daemon.store is not None and daemon.sender is not None
    async with asyncio.timeout(10):
        while True:
            await daemon.sender.run_once()
            items = await daemon.store.outbox_items(limit=100)
            if all(i.status == "sent" for i in items):
                return
            await asyncio.sleep(0.01)


async def step(daemon: Daemon, clock: Clock, *keys: str) -> list[str]:
    clock.advance(seconds=60)
    kinds: list[str] = []
    for key in keys:
        kinds += [e.kind for e in await daemon.tick(key)]
    await all_sent(daemon)
    return kinds


async def test_http_and_tcp_failing_on_one_site_are_one_incident(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    port = closed_port()
    cfg = config(tmp_path, loop_site, smtp_server, port)
    tcp_failing = f"tcp 127.0.0.1:{port}: connection refused"
    http_failing = f"http {loop_site.url}: HTTP 503 Service Unavailable (expected 200)"
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        # 14:01 the tcp check fails (the site's first failure); 14:02 the http check too.
        assert await step(daemon, clock, KEY) == []
        assert await step(daemon, clock, TCP_KEY) == ["site-down"]
        sw.status = 503
        assert await step(daemon, clock, KEY) == ["site-update"]
        assert await step(daemon, clock, KEY, TCP_KEY) == []  # nothing new to say

        # One DOWN mail to Jo, naming the failing tcp target (not "name does not resolve").
        (down,) = await smtp_server.wait_for_async(1)
        assert down.rcpt_tos == ("jo@acme.example",)
        assert tcp_failing in text_of(down)
        # One ticket, the second failure a comment on it, its title naming the site's problem.
        (ticket,) = await daemon.store.local_tickets()
        found = await daemon.store.local_ticket(ticket.id)
        assert found is not None
        assert [n.kind for n in found[1]] == ["opened", "comment"]
        assert tcp_failing in found[1][0].text
        assert ticket.title.endswith(f"— {tcp_failing}")
        assert http_failing in found[1][1].text and tcp_failing in found[1][1].text
        # One incident row for the site, listing both checks and what they say.
        (incident,) = await daemon.store.open_incidents()
        assert (incident.key, incident.check) == ("acme/acme-www", "tcp, http")
        assert incident.last_message == f"{tcp_failing}; {http_failing}"

        # Restart in the middle: the incident carries on (no second DOWN on the next result).
        await daemon.stop()
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
        await daemon.start()
        assert daemon.store is not None
        assert await step(daemon, clock, KEY, TCP_KEY) == []
        assert [f.check for f in daemon.site_states["acme/acme-www"].failing] == ["tcp", "http"]

        # http back: noted on the ticket; the site is not back while tcp fails.
        sw.status = 200
        assert await step(daemon, clock, KEY, TCP_KEY) == ["site-update"]
        assert len(await daemon.store.open_incidents()) == 1
        # tcp back: the site is back: one recovery, the ticket resolved.
        async with listen(port):
            assert await step(daemon, clock, KEY, TCP_KEY) == ["site-recovered"]
        mails = await smtp_server.wait_for_async(2)
        assert len(mails) == 2 and mails[1].message["X-Monitord-Kind"] == "site-recovered"
        back = text_of(mails[1])
        assert back.startswith("BACK UP — after 5m")  # from 14:02, the first failure
        assert tcp_failing in back and http_failing in back
        assert mails[0].message["Subject"] == mails[1].message["Subject"]  # one thread
        (ticket,) = await daemon.store.local_tickets()
        assert ticket.status == "resolved"
        assert await daemon.store.open_incidents() == []
        (closed,) = await daemon.store.incidents()
        assert closed.ended == clock() and closed.started == T0.replace(minute=2)
    finally:
        await daemon.stop()


async def test_per_check_incidents_stay_available(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    port = closed_port()
    cfg = config(tmp_path, loop_site, smtp_server, port)
    f = cfg / "clients" / "acme.yml"
    f.write_text(
        f.read_text().replace("repeat_every: 4h}", "repeat_every: 4h, incident: per-check}")
    )
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        sw.status = 503
        assert await step(daemon, clock, KEY, TCP_KEY) == ["site-down", "site-down"]
        assert len(await daemon.store.local_tickets()) == 2
        assert sorted(i.key for i in await daemon.store.open_incidents()) == [KEY, TCP_KEY]
        assert daemon.site_states == {}
    finally:
        await daemon.stop()


async def test_the_site_state_is_stored_with_the_check_state(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    """The site incident is in the store as soon as its DOWN is: read back from the file by
    another connection, not from the daemon's memory."""
    sw, loop_site = site
    cfg = config(tmp_path, loop_site, smtp_server, closed_port())
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        sw.status = 503
        assert await step(daemon, clock, KEY) == ["site-down"]
        other = SqliteStore(tmp_path / "cfg" / "state.sqlite3")
        await other.open()
        try:
            states = await other.load_states()
        finally:
            await other.close()
        site_state = states["site:acme/acme-www"]
        assert [f["check"] for f in site_state["failing"]] == ["http"]
        assert site_state["notified"] is True
        assert states[KEY]["status"] == "down"
    finally:
        await daemon.stop()


async def test_removed_checks_leave_the_site_incident_and_the_last_one_closes_it(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    port = closed_port()
    cfg = config(tmp_path, loop_site, smtp_server, port)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        store = daemon.store
        sw.status = 503
        assert await step(daemon, clock, KEY, TCP_KEY) == ["site-down", "site-update"]

        # The status names the site's open incident and its failing checks with targets.
        from monitord.api.status import collect

        snap = await collect(daemon.runtime)
        www = next(s for s in snap["sites"] if s["site"] == "acme-www")
        assert www["incident"]["failing"] == (
            f"http {loop_site.url}: HTTP 503 Service Unavailable (expected 200); "
            f"tcp 127.0.0.1:{port}: connection refused"
        )
        tcp = next(c for c in www["checks"] if c["check"] == "tcp")
        assert tcp["target"] == f"127.0.0.1:{port}"
        assert tcp["incident"]["id"] == www["incident"]["id"]

        # The tcp check removed: it leaves the incident (a comment); http still fails.
        f = cfg / "clients" / "acme.yml"
        f.write_text(
            "\n".join(line for line in f.read_text().splitlines() if "type: tcp" not in line) + "\n"
        )
        clock.advance(seconds=30)
        assert await daemon.reload() is True
        await all_sent(daemon)
        (incident,) = await store.open_incidents()
        assert incident.check == "http"
        (ticket,) = await store.local_tickets()
        found = await store.local_ticket(ticket.id)
        assert found is not None and found[0].status == "open"
        assert "check removed from the configuration" in found[1][-1].text

        # The whole site removed: the incident closes, the ticket is resolved.
        text = f.read_text()
        f.write_text(text[: text.index("sites:")] + "sites: []\n")
        clock.advance(seconds=30)
        assert await daemon.reload() is True
        await all_sent(daemon)
        assert await store.open_incidents() == []
        found = await store.local_ticket(ticket.id)
        assert found is not None and found[0].status == "resolved"
        assert "site removed from the configuration" in found[1][-1].text
        mails = await smtp_server.wait_for_async(2)
        assert [m.message["X-Monitord-Kind"] for m in mails] == ["site-down", "site-recovered"]
    finally:
        await daemon.stop()


async def test_an_incident_open_before_the_upgrade_carries_on_as_the_site_incident(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    """A store written per check (an older monitord, or ``incident: per-check``) with a check
    DOWN: after the restart on per-site incidents no second DOWN goes out, and the recovery
    resolves the same ticket and closes the same incident row (no ghost left open)."""
    sw, loop_site = site
    cfg = config(tmp_path, loop_site, smtp_server, closed_port())
    f = cfg / "clients" / "acme.yml"
    per_site = f.read_text()
    f.write_text(per_site.replace("repeat_every: 4h}", "repeat_every: 4h, incident: per-check}"))
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        sw.status = 503
        assert await step(daemon, clock, KEY) == ["site-down"]
    finally:
        await daemon.stop()
    f.write_text(per_site)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        assert await step(daemon, clock, KEY) == []
        sw.status = 200
        assert await step(daemon, clock, KEY) == ["site-recovered"]
        assert await daemon.store.open_incidents() == []
        (ticket,) = await daemon.store.local_tickets()
        assert ticket.status == "resolved"
        mails = await smtp_server.wait_for_async(2)
        assert [m.message["X-Monitord-Kind"] for m in mails] == ["site-down", "site-recovered"]
        assert mails[0].message["Subject"] == mails[1].message["Subject"]
    finally:
        await daemon.stop()
