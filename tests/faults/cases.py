"""The fault cases: each one a scenario against the real daemon, and the notices it must give.

Every case asserts the behaviour monitord promises (docs/reliability.md), not what a given
version does: a case that fails names the missing guarantee in its checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from monitord.drupal.fetch import FEED_MAX_BYTES
from monitord.store.sqlite import STORE_BUSY_TIMEOUT
from tests.faults.harness import (
    AGENCY,
    JO,
    PROMPT,
    SEC,
    SEC_CONTACT,
    Case,
    DaemonProcess,
    Expect,
    FaultSite,
    Rig,
    SiteConf,
    incident_sites,
    raise_fd_limit,
    read_outbox,
    until,
)
from tests.helpers.sites import HOST, hanging_server

BUSY = STORE_BUSY_TIMEOUT.total_seconds()
LOCK_HOLD = 4 * BUSY
"""How long another connection holds the store's write lock. The daemon's store works through
one thread, so the write that matters may queue behind others that each wait out the busy
timeout first (a batch of results, /readyz's write); four of them fit, and the write still
fails before the lock goes."""
FULL_HOLD = BUSY + 3.0
"""How long the store cannot write at all: every write fails at once, no queue builds up."""


def down_up(site: str, rcpt: str = JO) -> list[Expect]:
    return [Expect("site-down", site, rcpt), Expect("site-recovered", site, rcpt)]


async def _up(rig: Rig, site: FaultSite) -> None:
    """The daemon has seen ``site`` answer twice: its state is up."""
    if not await rig.probed(site, hits=2, within=PROMPT * 2):
        raise AssertionError(f"the daemon never probed {site.name}")


async def _recover_and_stop(rig: Rig, d: DaemonProcess, site: FaultSite) -> None:
    site.status = 200
    await rig.mail("site-recovered", site.name)
    await d.stop()


# ---------------------------------------------------------------- 1. the store cannot write


async def store_locked(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    lock = rig.store_lock()
    await lock.acquire()
    t0 = time.monotonic()
    site.status = 503
    if not await rig.probed(site, failures=1):
        raise AssertionError("the daemon never probed the failing site")
    ready = asyncio.create_task(
        rig.readyz(d, "while another connection holds the store's write lock", LOCK_HOLD - 2)
    )
    gauges = asyncio.create_task(rig.metrics(d, "while the store is locked", LOCK_HOLD - 2))
    await rig.hold_fault(max(LOCK_HOLD - (time.monotonic() - t0), 0))
    await lock.release()
    status, _ = await asyncio.gather(ready, gauges)
    rig.check("/readyz reports the store failing while it is locked", status == 503, f"{status}")
    rig.log_problems(d, t0, "during the lock")
    await rig.mail("site-down", "acme-www")
    await rig.readyz(d, "after the lock is released")
    await _recover_and_stop(rig, d, site)
    rig.finish(down_up("acme-www"))


async def store_full(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    d.set_file_size_limit(0)
    t0 = time.monotonic()
    site.status = 503
    if not await rig.probed(site, failures=1):
        raise AssertionError("the daemon never probed the failing site")
    ready = asyncio.create_task(rig.readyz(d, "while the store cannot write a byte", FULL_HOLD))
    gauges = asyncio.create_task(rig.metrics(d, "while the store cannot write", FULL_HOLD))
    await rig.hold_fault(max(FULL_HOLD - (time.monotonic() - t0), 0))
    d.set_file_size_limit(None)
    status, _ = await asyncio.gather(ready, gauges)
    rig.check("/readyz reports the store failing while it cannot write", status == 503, f"{status}")
    rig.log_problems(d, t0, "while the store could not write")
    await rig.mail("site-down", "acme-www")
    await rig.readyz(d, "after the store has room again")
    await _recover_and_stop(rig, d, site)
    rig.finish(down_up("acme-www"))


# ---------------------------------------------------------------- 3. SMTP faults


async def smtp_451(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    rig.catcher.fail("mail", "451 4.3.0 Try again later", times=3)
    t0 = time.monotonic()
    site.status = 503
    # Three refusals: tries at 0, 5, 15 and 35 s (outbox backoff 5 s doubling, ±10 %), each
    # up to 5 s late (the sender looks for due items at least that often).
    await rig.mail("site-down", "acme-www", within=75)
    rig.note(f"SMTP sessions for the DOWN: {rig.catcher.sessions}")
    await rig.metrics(d, "after the DOWN went out")
    rig.log_problems(d, t0, "while the server answered 451")
    await _recover_and_stop(rig, d, site)
    rig.finish(down_up("acme-www"))


async def smtp_absent(rig: Rig) -> None:
    site = await rig.site("acme-www")
    gate = await rig.gate()  # closed: nothing listens on its port
    rig.config(smtp_port=gate.port, sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    t0 = time.monotonic()
    site.status = 503
    if not await rig.probed(site, failures=1):
        raise AssertionError("the daemon never probed the failing site")
    await rig.hold_fault(8.0)
    await rig.readyz(d, "while the mail server is down")
    await rig.metrics(d, "while the mail server is down")
    rig.log_problems(d, t0, "while the mail server was down")
    await gate.open()
    # The next retry is at most the backoff after the last (5 s, then 10 s, then 20 s).
    await rig.mail("site-down", "acme-www", within=30)
    await _recover_and_stop(rig, d, site)
    rig.finish(down_up("acme-www"))


async def smtp_slow(rig: Rig) -> None:
    site = await rig.site("acme-www")
    gate = await rig.gate()
    await gate.open(delay=2.0)  # every reply 2 s late: a send takes ~15 s of a 30 s deadline
    rig.config(smtp_port=gate.port, sites=[SiteConf("acme-www", site.url)], smtp_timeout="10s")
    d = await rig.daemon()
    await _up(rig, site)
    h0 = site.hits
    site.status = 503
    await rig.mail("site-down", "acme-www", within=40)
    rig.check(
        "probes go on while a send is slow",
        site.hits - h0 >= 5,
        f"{site.hits - h0} probes during the send",
    )
    site.status = 200
    await rig.mail("site-recovered", "acme-www", within=40)
    await d.stop()
    rig.finish(down_up("acme-www"))


# ---------------------------------------------------------------- 4. kill -9 during a send


def _email_rows(rig: Rig) -> list[str]:
    try:
        return [r.status for r in read_outbox(rig.state_path) if r.notifier == "email"]
    except Exception:  # the file is being created or locked: look again
        return []


async def kill_before_claim(rig: Rig) -> None:
    site = await rig.site("acme-www")
    # Storm grouping holds a client's notice for the window: it is stored, not yet claimed.
    rig.config(sites=[SiteConf("acme-www", site.url)], main_extra="grouping: {window: 4s}\n")
    d = await rig.daemon()
    await _up(rig, site)
    site.status = 503
    pending = await until(lambda: _email_rows(rig) == ["pending"], PROMPT)
    d.kill9()
    reached = rig.check(
        "killed with the DOWN stored and not yet claimed",
        bool(pending) and not rig.catcher.messages,
        f"outbox e-mail rows: {_email_rows(rig)}",
    )
    if not reached:
        return
    d2 = await rig.daemon()
    await rig.mail("site-down", "acme-www", within=PROMPT + 4)
    site.status = 200
    await rig.mail("site-recovered", "acme-www", within=PROMPT + 4)
    await d2.stop()
    rig.finish(down_up("acme-www"))


async def kill_before_data(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    hold = rig.catcher.hold("mail")
    site.status = 503
    reached = await hold.wait_reached(PROMPT)
    d.kill9()
    hold.release.set()
    if not rig.check("killed after the claim, at MAIL FROM (before DATA)", reached):
        return
    d2 = await rig.daemon()
    await rig.mail("site-down", "acme-www")
    await _recover_and_stop(rig, d2, site)
    rig.finish(down_up("acme-www"))


async def kill_after_accept(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    data = rig.catcher.hold("data")
    quit_ = rig.catcher.hold("quit")
    site.status = 503
    reached = await data.wait_reached(PROMPT)
    if not rig.check("the send reached DATA", reached):
        d.kill9()
        return
    # The store is locked before the server answers 250, so the daemon cannot record the
    # delivery; it is killed once it has the 250 (it says QUIT) or 3 s later.
    lock = rig.store_lock()
    await lock.acquire()
    data.release.set()
    saw_quit = await quit_.wait_reached(3.0)
    d.kill9()
    quit_.release.set()
    await lock.release()
    rig.check(
        "killed after the server's 250, before the store recorded it",
        rig.count("site-down", "acme-www") == 1,
        "the daemon said QUIT (it had the 250)" if saw_quit else "no QUIT within 3 s",
    )
    d2 = await rig.daemon()
    # Whatever the restart does about the uncertain DOWN, the thread is not stuck behind it.
    await _recover_and_stop(rig, d2, site)
    rig.note(f"copies of the DOWN after the restart: {rig.count('site-down', 'acme-www')}")
    # SMTP cannot tell whether a message it sent was accepted: one resend with the same
    # Message-ID (which mail systems and people recognise) is what remains possible.
    rig.finish(down_up("acme-www"), allowed_resends=1)


async def record_locked(rig: Rig) -> None:
    site = await rig.site("acme-www")
    rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    await _up(rig, site)
    data = rig.catcher.hold("data")
    site.status = 503
    if not rig.check("the send reached DATA", await data.wait_reached(PROMPT)):
        return
    lock = rig.store_lock()
    await lock.acquire()
    t0 = time.monotonic()
    data.release.set()
    # The 250 came; recording it fails for longer than the busy timeout.
    gauges = asyncio.create_task(
        rig.metrics(d, "while the delivery cannot be recorded", LOCK_HOLD - 2)
    )
    await rig.hold_fault(LOCK_HOLD)
    await lock.release()
    await gauges
    rig.log_problems(d, t0, "while the delivery could not be recorded")
    await _recover_and_stop(rig, d, site)
    rig.finish(down_up("acme-www"))


# ---------------------------------------------------------------- 2. a page behind held mail

SAM = "sam@collective.example"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_office_hours() -> str:
    """Office hours on one day only, two days from now in the agency's zone: whenever the
    case runs, it is out of hours, and held mail waits days."""
    today = datetime.now(ZoneInfo("Europe/London")).weekday()
    return f'{{days: [{WEEKDAYS[(today + 2) % 7]}], start: "09:00", end: "17:00"}}'


async def page_behind_held(rig: Rig) -> None:
    site = await rig.site("acme-www")
    # The routes of docs/routing.md: the client's contacts in office hours (held now), the
    # person on call out of hours, paged by e-mail; storm grouping as configured by default.
    rig.config(
        sites=[SiteConf("acme-www", site.url)],
        office_hours=closed_office_hours(),
        main_extra=(
            "oncall:\n"
            f"  rota: [{{name: Sam, email: {SAM}}}]\n"
            "  notifier: email\n"
            "routes:\n"
            "  - {match: {kind: [site-down, site-recovered]}, when: office_hours, "
            "notify: [client-contacts]}\n"
            "  - {match: {kind: site-down}, when: out_of_hours, notify: [oncall-pager]}\n"
        ),
    )
    d = await rig.daemon()
    await _up(rig, site)
    site.status = 503
    await rig.mail("site-down", "acme-www", SAM)
    await d.stop()
    held = [r for r in read_outbox(rig.state_path) if r.notifier == "email" and JO in r.key]
    rig.check(
        "the client's DOWN is held for office hours (kept, not sent)",
        [r.status for r in held] == ["pending"],
        f"{[r.status for r in held]}",
    )
    rig.finish([Expect("site-down", "acme-www", SAM)])


# ---------------------------------------------------------------- 10. two daemons, one store


async def two_daemons(rig: Rig) -> None:
    site = await rig.site("acme-www")
    cfg = rig.config(sites=[SiteConf("acme-www", site.url)])
    d = await rig.daemon()
    second = DaemonProcess(cfg, rig.dir / "daemon-second.log")
    rig.daemons.append(second)
    second.spawn()
    refused = await until(lambda: not second.alive, PROMPT)
    output = second.tail(10)
    rig.check(
        "a second daemon on the same store refuses to start, naming the first",
        bool(refused)
        and second.proc is not None
        and second.proc.returncode != 0
        and str(d.pid) in output,
        output.splitlines()[-1][:200] if refused and output else "it kept running",
    )
    await _up(rig, site)
    site.status = 503
    await rig.mail("site-down", "acme-www")
    await _recover_and_stop(rig, d, site)
    await second.stop()
    rig.finish(down_up("acme-www"))


# ---------------------------------------------------------------- 5. a hanging notifier


async def hanging_webhook(rig: Rig) -> None:
    hang = await rig.site("hang-site")
    mail = await rig.site("mail-site")
    hook_server = await rig.enter(hanging_server())
    rig.config(
        sites=[SiteConf("hang-site", hang.url), SiteConf("mail-site", mail.url)],
        main_extra=(
            "grouping: {window: 0s}\n"
            "notifiers:\n"
            f"  hook: {{type: webhook, url: '{hook_server.url}', timeout: 60s}}\n"
            "routes:\n"
            "  - {match: {site: hang-site}, notify: [hook]}\n"
            "  - {match: {site: mail-site}, notify: [client-contacts]}\n"
        ),
    )
    d = await rig.daemon()
    await _up(rig, hang)
    await _up(rig, mail)
    hang.status = 503
    hooked = await until(lambda: hook_server.connections > 0, PROMPT)
    if not rig.check("the webhook send is under way (and hangs)", bool(hooked)):
        return
    mail.status = 503
    await rig.mail("site-down", "mail-site", within=10)
    mail.status = 200
    await rig.mail("site-recovered", "mail-site", within=10)
    rig.note(f"webhook connections held open: {hook_server.connections}")
    for w in list(hook_server.writers):
        w.transport.abort()  # let the hung send fail now so the daemon stops quickly
    await d.stop()
    rig.finish(down_up("mail-site"), counted_sites={"mail-site", "hang-site"})


# ---------------------------------------------------------------- 6. the API flooded

FLOOD_IDLE = 1150
"""Idle connections (1,143 of them blinded a daemon under the unit's 1024-file limit)."""
FLOOD_SLOW = 50
"""Slow connections: a request line, then one header line every SLOW_EVERY seconds."""
SLOW_EVERY = 2.0
DAEMON_NOFILE = 1024
"""The daemon's open-file limit in this case: the shipped unit's (LimitNOFILE=1024)."""
FLOOD_HOLD = 10.0
"""Seconds the flood is held once every connection is open."""


async def _slowloris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n".encode())
    i = 0
    while not reader.at_eof():
        await asyncio.sleep(SLOW_EVERY)  # the attacker's pace
        writer.write(f"X-Slow-{n}-{i}: x\r\n".encode())
        await writer.drain()
        i += 1


async def api_flood(rig: Rig) -> None:
    limit = raise_fd_limit(FLOOD_IDLE + FLOOD_SLOW + 400)
    idle_n = min(FLOOD_IDLE, limit - FLOOD_SLOW - 400)
    nofile = min(DAEMON_NOFILE, idle_n - 100)
    steady = await rig.site("steady-site")
    falls = await rig.site("falls-site")
    alert = "{failure_threshold: 2, success_threshold: 1, repeat_every: null}"
    rig.config(
        sites=[
            SiteConf("steady-site", steady.url, alert=alert),
            SiteConf("falls-site", falls.url, alert=alert),
        ]
    )
    d = await rig.daemon(nofile=nofile)
    await _up(rig, steady)
    await _up(rig, falls)
    host, port = d.api_url.split("//")[1].rstrip("/").rsplit(":", 1)

    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def connect() -> None:
        with contextlib.suppress(OSError, TimeoutError):
            conns.append(await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3))

    t0 = time.monotonic()
    for start in range(0, idle_n + FLOOD_SLOW, 200):
        await asyncio.gather(*(connect() for _ in range(min(200, idle_n + FLOOD_SLOW - start))))
    slow = [asyncio.create_task(_slowloris(r, w, n)) for n, (r, w) in enumerate(conns[:FLOOD_SLOW])]
    rig.note(
        f"{len(conns)} connections opened to the API ({FLOOD_SLOW} slow), daemon limit "
        f"{nofile} files, in {time.monotonic() - t0:.1f}s"
    )
    try:
        opened, h0 = time.monotonic(), steady.hits
        falls.status = 503
        await rig.mail("site-down", "falls-site")
        await rig.hold_fault(max(FLOOD_HOLD - (time.monotonic() - opened), 0))
        probes, window = steady.hits - h0, time.monotonic() - opened
        rig.check(
            "probes go on during the flood (one a second, at least every other one)",
            probes >= window / 2,
            f"{probes} probes of steady-site in {window:.0f}s of flood",
        )
        closed = sum(1 for r, _ in conns if r.at_eof())
        rig.note(f"connections the daemon had closed by the end of the flood: {closed}")
        got = await rig.get(d, "/healthz", 3.0)
        rig.operator(
            "/healthz during the flood: "
            + (f"{got[0]} in {got[2]:.1f}s" if got else "no answer within 3s")
        )
        rig.log_problems(d, t0, "during the flood")
    finally:
        for t in slow:
            t.cancel()
        await asyncio.gather(*slow, return_exceptions=True)
        for _, w in conns:
            w.transport.abort()
    healthz = None
    deadline = time.monotonic() + 10
    while healthz is None and time.monotonic() < deadline:
        healthz = await rig.get(d, "/healthz", 2.0)
    rig.check(
        "/healthz answers once the flood is gone",
        healthz is not None and healthz[0] == 200,
        f"in {healthz[2]:.1f}s" if healthz else "no answer within 10s",
    )
    await _recover_and_stop(rig, d, falls)
    incidents = incident_sites(rig.state_path)
    rig.check(
        "no false DOWN for the healthy site",
        incidents.get("steady-site", 0) == 0,
        f"{incidents.get('steady-site', 0)} incident(s) opened for steady-site",
    )
    rig.finish(down_up("falls-site"), counted_sites={"steady-site", "falls-site"})


# ---------------------------------------------------------------- 7. hostile inputs


def _field(label: str, value_html: str) -> str:
    return (
        '<div class="field field-type-text field-label-inline clearfix">'
        f'<div class="field-label">{label}:&nbsp;</div><div class="field-items">'
        f'<div class="field-item even">{value_html}</div></div></div>'
    )


def _item(title: str, link: str, description: str) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f"<description>{escape(description)}</description>"
        "<pubDate>Wed, 02 Dec 2026 17:00:00 +0000</pubDate>"
        f'<guid isPermaLink="false">{link}</guid></item>'
    )


def _rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Security advisories</title><link>https://www.drupal.org/security</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


CORE_HC = _item(
    "Drupal core - Highly critical - Remote code execution - SA-CORE-2026-090",
    "https://www.drupal.org/sa-core-2026-090",
    _field("Project", '<a href="/project/drupal">Drupal core</a>')
    + _field("Project machine name", "<code>drupal</code>")
    + _field("Security risk", "<strong>Highly critical</strong> 20\u2215" + "25 AC:None/A:None")
    + _field("Vulnerability", "Remote code execution")
    + _field("Affected versions", html.escape(">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8"))
    + _field("Solution", "Update to 10.3.9."),
)
"""A Highly critical core advisory that affects acme-www (Drupal 10.3.8)."""


def hostile_feed() -> bytes:
    """The reported shape at the size a fetch lets through: one item whose ``Project:`` field
    is a run of ``<`` (``<[^>]*>`` over it is quadratic), just under FEED_MAX_BYTES."""
    head = _item(
        "Evil - Critical - Access bypass - SA-CONTRIB-2026-999",
        "https://www.drupal.org/sa-contrib-2026-999",
        _field("Project", "@@") + _field("Vulnerability", "x"),
    )
    room = FEED_MAX_BYTES - 4096 - len(_rss(head))
    return _rss(head.replace("@@", "&lt;" * (room // 4)))  # "<" escaped in the description


HEALTHZ_MAX = 2.0
"""Seconds /healthz may take while the daemon parses hostile input (a healthy loop answers in
milliseconds; a stalled one not at all)."""


async def _watch_healthz(rig: Rig, d: DaemonProcess, latencies: list[float]) -> None:
    """GET /healthz every quarter second; stop at the first that takes over HEALTHZ_MAX."""
    while True:
        got = await rig.get(d, "/healthz", HEALTHZ_MAX)
        if got is None:
            latencies.append(float("inf"))
            return
        latencies.append(got[2])
        await asyncio.sleep(0.25)  # the watcher's pace


async def _security_case(rig: Rig, feeds: list[str], extra_site: SiteConf | None) -> None:
    sites = [
        SiteConf(
            "acme-www",
            "https://www.acme.example/",
            checks="[]",
            drupal="{modules: {drupal/core: 10.3.8}}",
        )
    ]
    if extra_site is not None:
        sites.append(extra_site)
    rig.config(
        sites=sites,
        contacts=(SEC_CONTACT,),
        security=("security:\n  feeds: [" + ", ".join(feeds) + "]\n  psa_json: null\n"),
    )
    d = await rig.daemon()
    latencies: list[float] = []
    watcher = asyncio.create_task(_watch_healthz(rig, d, latencies))
    try:
        done = await until(
            lambda: (
                watcher.done()
                or (
                    rig.count("security-now", "acme-www", SEC)
                    and rig.count("security-now", "acme-www", AGENCY)
                )
            ),
            30,
        )
        stalled = watcher.done()
        if not stalled:
            await asyncio.sleep(1.0)  # a last look at the loop after the notice
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    worst = max(latencies, default=0.0)
    rig.check(
        f"/healthz answers within {HEALTHZ_MAX:.0f}s throughout",
        worst <= HEALTHZ_MAX and bool(latencies),
        f"{len(latencies)} answers, slowest {worst:.2f}s"
        if worst != float("inf")
        else f"silent for over {HEALTHZ_MAX:.0f}s after {len(latencies) - 1} answers",
    )
    if not done:
        rig.note("no Highly critical notice within 30s")
    rig.log_problems(d, 0.0, "during the round")
    if stalled:
        d.kill9()  # a stalled loop would burn a core until the parse ends
        rig.note("the daemon's loop stalled; it was killed")
    else:
        await d.stop()
    rig.check(
        "the Highly critical notice reaches the security contact",
        rig.count("security-now", "acme-www", SEC) >= 1,
    )
    rig.finish(
        [Expect("security-now", "acme-www", SEC), Expect("security-now", "acme-www", AGENCY)],
        counted_sites={"acme-www"},
    )


async def hostile_feed_case(rig: Rig) -> None:
    feeds = await rig.feeds()
    feeds.bodies["hostile.xml"] = hostile_feed()
    feeds.bodies["core.xml"] = _rss(CORE_HC)
    rig.note(f"hostile feed: {len(feeds.bodies['hostile.xml']):,} bytes")
    await _security_case(rig, [feeds.url("hostile.xml"), feeds.url("core.xml")], None)


async def hostile_lock_case(rig: Rig) -> None:
    feeds = await rig.feeds()
    feeds.bodies["core.xml"] = _rss(CORE_HC)
    lock = rig.dir / "composer.lock"
    lock.write_text("[" * 200_000)
    await _security_case(
        rig,
        [feeds.url("core.xml")],
        SiteConf(
            "acme-old",
            "https://old.acme.example/",
            checks="[]",
            drupal=f"{{composer_lock: {lock}}}",
        ),
    )


CASES: list[Case] = [
    Case(
        "store-locked",
        "store locked (BEGIN IMMEDIATE elsewhere) when the site crosses its threshold, then released",
        "1",
        store_locked,
        90,
    ),
    Case(
        "store-full",
        "store cannot write (file-size limit: writes fail as on a full disk) at the transition, then freed",
        "1",
        store_full,
        90,
    ),
    Case(
        "page-behind-held",
        "out of hours: the client's DOWN is held for office hours, the on-call page (by e-mail) is due now",
        "2",
        page_behind_held,
        90,
    ),
    Case(
        "two-daemons",
        "a second `monitord run` on the same store while the first runs",
        "10",
        two_daemons,
        90,
    ),
    Case("smtp-451x3", "SMTP answers 451 three times, then accepts", "—", smtp_451, 120),
    Case("smtp-absent", "SMTP port closed for 8 s, then up", "—", smtp_absent, 90),
    Case("smtp-slow", "SMTP delays every reply by 2 s", "—", smtp_slow, 120),
    Case(
        "kill-before-claim",
        "kill -9 with the DOWN stored, before the sender claims it; restart",
        "3",
        kill_before_claim,
        90,
    ),
    Case(
        "kill-before-data",
        "kill -9 after the claim, at MAIL FROM (before DATA); restart",
        "3",
        kill_before_data,
        90,
    ),
    Case(
        "kill-after-250",
        "kill -9 after the server's 250, before the store records it; restart",
        "3",
        kill_after_accept,
        90,
    ),
    Case(
        "record-locked",
        'the server accepts, then recording "sent" fails (store locked past its busy timeout)',
        "3",
        record_locked,
        90,
    ),
    Case(
        "hanging-webhook",
        "a webhook that never answers (timeout 60 s) while another site goes down",
        "4",
        hanging_webhook,
        90,
    ),
    Case(
        "api-flood",
        f"{FLOOD_IDLE} idle + {FLOOD_SLOW} slow connections to the API under a {DAEMON_NOFILE}-file limit",
        "7",
        api_flood,
        120,
    ),
    Case(
        "hostile-feed",
        "a 5 MiB adversarial advisory feed beside a Highly critical advisory",
        "5",
        hostile_feed_case,
        90,
    ),
    Case(
        "hostile-lock",
        "a composer.lock of 200,000 '[' beside a healthy site hit by a Highly critical advisory",
        "6",
        hostile_lock_case,
        90,
    ),
]
"""Every case, in the order of the report."""

BY_ID = {c.id: c for c in CASES}
