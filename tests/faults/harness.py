"""The fault-injection harness: the real daemon, real servers, real faults, counted notices.

Each case (cases.py) gets a :class:`Rig`: a directory, an SMTP catcher (aiosmtpd, in its own
thread), loopback sites whose status the case switches, and one or more real daemons, each
``sys.executable -m monitord run --config DIR`` as a subprocess (so ``kill -9`` is real), its
JSON log read line by line. The faults are real too: a second SQLite connection holding
``BEGIN IMMEDIATE`` on the state file, a file-size limit on the daemon process (its writes
fail as on a full disk), SMTP replies 451 or held at a chosen command, a port with nothing
listening, a proxy that delays every reply, a webhook that never answers, hundreds of idle
connections, a 5 MiB hostile feed, a hostile composer.lock.

At the end a case calls :meth:`Rig.finish` with the notices it expects: the rig counts, at
the catcher, what was delivered and duplicated (by Message-ID, and by kind + site + recipient),
what arrived unasked, and reads the stopped daemon's outbox for deliveries it did not record
(those would be sent again). Waits poll with a deadline and return as soon as the answer is
known; the only fixed waits are the length of a fault itself (:meth:`Rig.hold_fault`).

Every case runs in its own thread with its own event loop (:func:`run_cases`), all at once,
so the suite takes as long as its longest case.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP

from monitord.notify.email import message_id_for
from tests.helpers.daemon import agency_yaml
from tests.helpers.sites import HOST, LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer, Stage

REPO = Path(__file__).resolve().parents[2]
"""The tree under test: the daemon subprocesses import monitord from here, unless
``$MONITORD_FAULTS_TREE`` names another checkout (to try a branch without copying the suite)."""

MAIL_DOMAIN = "collective.example"
"""The domain of ``smtp.from``: the right-hand side of every Message-ID."""

JO = "jo@acme.example"
JO_CONTACT = "{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}"
SEC = "sec@acme.example"
SEC_CONTACT = "{name: Sec Person, email: sec@acme.example, notify: [security]}"
AGENCY = "support@collective.example"

# Deadlines: generous for a loaded 2-core machine, never waited out when the answer is known.
START_TIMEOUT = 40.0
"""Seconds for a daemon to log ``started`` (imports and store migrations, on a busy box)."""
PROMPT = 15.0
"""Seconds within which a notice that is due now must reach the catcher: the outbox polls at
least every 5 s (outbox.IDLE_WAIT), so a healthy daemon needs well under this."""
STOP_TIMEOUT = 25.0
"""Seconds SIGTERM gets before the daemon is killed: stopping gives sends 10 s to finish."""
HOLD_MAX = 60.0
"""The longest the catcher holds an SMTP command for a case that never lets it go."""
METRICS_SHOWN = ("outbox", "store", "notifications_failed")
"""The /metrics lines an operator watches under these faults (other than 0)."""
POLL = 0.05
"""Seconds between two looks at a condition."""

T = TypeVar("T")


async def until(probe: Callable[[], T | None], timeout: float, interval: float = POLL) -> T | None:
    """The first truthy ``probe()`` within ``timeout`` seconds, else None (looked at once more at
    the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(interval)


# ---------------------------------------------------------------- the daemon process


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    """A daemon must never outlive the test session, whatever stopped it."""
    with _LIVE_LOCK:
        for proc in list(_LIVE):
            if proc.poll() is None:
                proc.kill()


def _event_name(entry: dict[str, Any]) -> str:
    """A log entry's event, without the varying tail of a library's sentence (APScheduler's
    'Execution of job "…" skipped: …' names the next run time)."""
    name = str(entry.get("event")).split("\n", 1)[0]
    if name.startswith("Execution of job") and "skipped" in name:
        return "apscheduler: check run skipped (the previous one still running)"
    return name if len(name) <= 80 else name[:79] + "…"


class DaemonFailed(RuntimeError):
    """The daemon did not start (or died); the message carries the end of its output."""


class DaemonProcess:
    """``monitord run --config DIR`` as a subprocess, its JSON log lines parsed as they come."""

    def __init__(
        self,
        cfg: Path,
        log_path: Path,
        *,
        nofile: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.log_path = log_path
        self.nofile = nofile
        self.env = dict(env or {})
        """Set in the daemon's environment, over the test process's own (MONITORD_NODE)."""
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.killed = False
        self.stopped_cleanly: bool | None = None

    # -- life cycle ------------------------------------------------------------------------

    def spawn(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "MONITORD_CONFIG")
        }
        tree = os.environ.get("MONITORD_FAULTS_TREE") or str(REPO)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitord", "run", "--config", str(self.cfg)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,  # a pipe, not a file: a file-size limit must not cut it
            stderr=subprocess.STDOUT,
            cwd=self.cfg,
            env=env,
        )
        with _LIVE_LOCK:
            _LIVE.add(self.proc)
        if self.nofile is not None:
            # Set from outside (preexec_fn is unsafe with threads): the interpreter has opened
            # a handful of files by now, far below any limit a case sets.
            resource.prlimit(self.proc.pid, resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self._reader = threading.Thread(target=self._read, name="daemon-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("ab") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                out.flush()
                text = raw.decode("utf-8", "replace").rstrip("\n")
                try:
                    entry = json.loads(text)
                except ValueError:
                    entry = {"event": text, "level": "raw"}
                if not isinstance(entry, dict):
                    entry = {"event": text, "level": "raw"}
                entry["_t"] = time.monotonic()
                with self._lock:
                    self.entries.append(entry)

    async def start(self) -> DaemonProcess:
        """Spawn and wait for ``started`` (and the API's address when it listens)."""
        self.spawn()
        started = await until(
            lambda: self.find(lambda e: e.get("event") == "started") or not self.alive,
            START_TIMEOUT,
        )
        if not self.alive or not started:
            self.kill9()
            raise DaemonFailed(
                f"the daemon did not start within {START_TIMEOUT}s; its output ends:\n"
                + self.tail()
            )
        return self

    @property
    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        """``kill -9``: no clean-up of any kind in the daemon."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.killed = True
        self._reap()

    def _reap(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc.stdout is not None and not self._reader_alive:
            self.proc.stdout.close()
        with _LIVE_LOCK:
            _LIVE.discard(self.proc)

    async def stop(self) -> bool:
        """SIGTERM and wait; killed (and False) if it does not stop within STOP_TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            self._reap()
            return self.stopped_cleanly is not False
        self.proc.terminate()
        gone = await until(
            lambda: self.proc is not None and self.proc.poll() is not None, STOP_TIMEOUT
        )
        if not gone:
            self.kill9()
            self.stopped_cleanly = False
            return False
        await asyncio.to_thread(self._reap)
        self.stopped_cleanly = self.proc.returncode == 0
        return self.stopped_cleanly

    def set_file_size_limit(self, limit: int | None) -> None:
        """Limit the size of files the daemon may write (``RLIMIT_FSIZE``), or lift it (None).

        Past the limit every write of the daemon fails with EFBIG (Python ignores SIGXFSZ):
        the state store cannot write a byte, as on a full disk (SQLite says "disk I/O
        error"). The log is a pipe, which the limit does not touch."""
        value = resource.RLIM_INFINITY if limit is None else limit
        _soft, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (value, hard))

    # -- the log -----------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.entries)

    def find(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in self.entries if pred(e)), None)

    @property
    def api_url(self) -> str:
        entry = self.find(lambda e: e.get("event") == "api.listening")
        if entry is None:
            raise DaemonFailed("the daemon's API is not listening (http.listen is off?)")
        return str(entry["url"])

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def problems(self, since: float = 0.0) -> Counter[str]:
        """Warning and error log events (by name) since a ``time.monotonic()`` instant."""
        return Counter(
            _event_name(e)
            for e in self.snapshot()
            if e.get("level") in ("warning", "error", "critical", "raw") and e["_t"] >= since
        )


# ---------------------------------------------------------------- servers


class Hold:
    """One SMTP command held by the catcher until the case lets it go."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.reached = threading.Event()
        self.release = threading.Event()

    async def wait_reached(self, timeout: float) -> bool:
        return await asyncio.to_thread(self.reached.wait, timeout)


class Catcher(SmtpServer):
    """The loopback SMTP server of tests/helpers/smtp.py, able to hold a command (MAIL, DATA
    before its reply, QUIT) until the case releases it: the case learns the send has reached
    that step, and can kill the daemon right there."""

    def __init__(self) -> None:
        super().__init__()
        self._holds: dict[str, Hold] = {}
        self.quits = 0

    def hold(self, stage: Stage | str) -> Hold:
        """Hold the next ``stage`` command (``mail``, ``data``, ``quit``) until released."""
        h = Hold(stage)
        with self._cond:
            self._holds[stage] = h
        return h

    def release_all(self) -> None:
        with self._cond:
            holds = list(self._holds.values())
        for h in holds:
            h.release.set()

    async def _maybe_hold(self, stage: str) -> None:
        with self._cond:
            h = self._holds.pop(stage, None)
        if h is None:
            return
        h.reached.set()
        await asyncio.get_running_loop().run_in_executor(None, h.release.wait, HOLD_MAX)

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._maybe_hold("mail")
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        await self._maybe_hold("data")
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: SMTP, session: Any, envelope: Any) -> str:
        with self._cond:
            self.quits += 1
        await self._maybe_hold("quit")
        return "221 Bye"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message at the catcher, as the suite counts it."""

    kind: str
    site: str
    rcpt: str
    message_id: str
    subject: str


def notices(catcher: SmtpServer) -> list[Notice]:
    out: list[Notice] = []
    for mail in catcher.messages:
        msg = mail.message
        for rcpt in mail.rcpt_tos:
            out.append(
                Notice(
                    kind=str(msg.get("X-Monitord-Kind", "")),
                    site=str(msg.get("X-Monitord-Site", "")),
                    rcpt=rcpt.lower(),
                    message_id=str(msg.get("Message-ID", "")),
                    subject=str(msg.get("Subject", "")),
                )
            )
    return out


class FaultSite:
    """A loopback web site: answers ``status`` (the case switches it) and counts probes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = 200
        self.hits = 0
        self.failures_served = 0
        self.url = ""

    def app(self) -> web.Application:
        async def page(_r: web.Request) -> web.Response:
            self.hits += 1
            if self.status != 200:
                self.failures_served += 1
            return web.Response(status=self.status, text=f"<h1>{self.name}</h1>")

        app = web.Application()
        app.router.add_get("/", page)
        return app


class Gate:
    """A TCP port in front of the catcher that the case controls: *closed* (bound, not
    listening: connections are refused, as when the mail server is down), *open* (forwards),
    or open with a ``delay`` before each burst of the server's replies (a slow server)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def open(self, delay: float = 0.0) -> None:
        self.delay = delay
        if self._server is None:
            self._sock.listen(64)
            self._server = await asyncio.start_server(self._handle, sock=self._sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_r, up_w = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                self._pump(reader, up_w, 0.0), self._pump(up_r, writer, self.delay)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_w):
                w.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
        while data := await src.read(65536):
            if delay:
                await asyncio.sleep(delay)  # the slow server's pace
                # A reply of several lines is one burst: take what came meanwhile too.
                # asyncio has no public "bytes already buffered"; its private buffer tells.
                while len(src._buffer):  # type: ignore[attr-defined]
                    data += await src.read(65536)
            dst.write(data)
            await dst.drain()
        dst.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        self._sock.close()


class FeedServer:
    """drupal.org's stand-in: serves the bodies the case sets, by name."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.base = ""

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            self.requests[name] += 1
            body = self.bodies.get(name)
            if body is None:
                return web.Response(status=404)
            return web.Response(body=body, content_type="application/rss+xml")

        app = web.Application()
        app.router.add_get("/{name}", handle)
        return app


class StoreLock:
    """A second connection to the daemon's SQLite file holding ``BEGIN IMMEDIATE``: every
    write of the daemon waits for its busy timeout, then fails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _acquire(self) -> None:
        conn = sqlite3.connect(self.path, timeout=20, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        self._conn = conn

    def _release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None

    async def acquire(self) -> None:
        await asyncio.to_thread(self._acquire)

    async def release(self) -> None:
        await asyncio.to_thread(self._release)

    @property
    def held(self) -> bool:
        return self._conn is not None


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    key: str
    notifier: str
    status: str


def read_outbox(path: Path) -> list[OutboxRow]:
    with contextlib.closing(_ro(path)) as conn:
        rows = conn.execute("SELECT key, notifier, status FROM outbox ORDER BY id").fetchall()
    return [OutboxRow(str(k), str(n), str(s)) for k, n, s in rows]


def incident_sites(path: Path) -> Counter[str]:
    with contextlib.closing(_ro(path)) as conn:
        rows = conn.execute("SELECT site FROM incident").fetchall()
    return Counter(str(r[0]) for r in rows)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class SiteConf:
    id: str
    url: str
    checks: str = "[{type: http, interval: 1s, timeout: 5s}]"
    alert: str = "{failure_threshold: 1, success_threshold: 1, repeat_every: null}"
    drupal: str | None = None


def write_config(
    d: Path,
    *,
    smtp_port: int,
    sites: list[SiteConf],
    contacts: tuple[str, ...] = (JO_CONTACT,),
    main_extra: str = "",
    security: str = "security: {enabled: false}\n",
    smtp_timeout: str = "10s",
    office_hours: str | None = None,
) -> Path:
    """monitord.yml (mail to ``smtp_port``, the API on a free loopback port, the store in
    ``d/state.sqlite3``, ``agency.office_hours`` when given) and clients/acme.yml with
    ``contacts`` and ``sites``."""
    (d / "clients").mkdir(parents=True, exist_ok=True)
    agency = agency_yaml(d)
    if office_hours is not None:
        agency = agency.replace("\nstate:", f"\n  office_hours: {office_hours}\nstate:", 1)
    (d / "monitord.yml").write_text(
        agency
        + textwrap.dedent(
            f"""\
            smtp:
              host: {HOST}
              port: {smtp_port}
              from: "Collective monitoring <monitor@{MAIL_DOMAIN}>"
              security: none
              timeout: {smtp_timeout}
            http: {{listen: "{HOST}:0"}}
            """
        )
        + security
        + main_extra
    )
    site_yaml = ""
    for s in sites:
        site_yaml += f"  - id: {s.id}\n    url: {s.url}\n    checks: {s.checks}\n"
        site_yaml += f"    alert: {s.alert}\n"
        if s.drupal is not None:
            site_yaml += f"    drupal: {s.drupal}\n"
    (d / "clients" / "acme.yml").write_text(
        "client: acme\nname: ACME Charity\ncontacts:\n"
        + "".join(f"  - {c}\n" for c in contacts)
        + "sites:\n"
        + site_yaml
    )
    return d


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Expect:
    """A notice the case expects exactly once (kind, site id, recipient)."""

    kind: str
    site: str
    rcpt: str

    def __str__(self) -> str:
        return f"{self.kind} {self.site} -> {self.rcpt}"


@dataclass(slots=True)
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass(slots=True)
class CaseResult:
    case_id: str
    title: str
    items: str
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    """Extra copies at the catcher: the same Message-ID again, or another message for the
    same kind, site and recipient."""
    would_resend: int = 0
    """Delivered notices the stopped daemon's outbox does not record as sent: it would send
    them again after its lease (latent duplicates)."""
    unexpected: int = 0
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    operator: list[str] = field(default_factory=list)
    """What an operator sees under the fault: /readyz, /healthz, warnings and errors logged."""
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def explain(self) -> str:
        lines = [f"{self.case_id}: {self.title} (issue 8 item {self.items})"]
        lines += [
            f"  {'ok  ' if c.ok else 'FAIL'} {c.what}" + (f": {c.detail}" if c.detail else "")
            for c in self.checks
        ]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  operator: {o}" for o in self.operator]
        if self.error:
            lines.append("  error: " + self.error)
        return "\n".join(lines)


# ---------------------------------------------------------------- the rig


class Rig:
    """Everything one case runs against, cleaned up whatever happens."""

    def __init__(self, case_id: str, title: str, items: str, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.result = CaseResult(case_id, title, items)
        self.catcher = Catcher()
        self._stack = contextlib.AsyncExitStack()
        self.daemons: list[DaemonProcess] = []
        self.locks: list[StoreLock] = []
        self.cfg: Path | None = None
        self._t0 = time.monotonic()

    async def __aenter__(self) -> Rig:
        await asyncio.to_thread(self.catcher.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.catcher.release_all()
        for d in self.daemons:
            if d.alive:
                d.kill9()
                self.result.notes.append("a daemon was still running at the end and was killed")
        for lock in self.locks:
            await lock.release()
        await self._stack.aclose()
        await asyncio.to_thread(self.catcher.stop)
        self.result.seconds = time.monotonic() - self._t0

    # -- building --------------------------------------------------------------------------

    async def site(self, name: str) -> FaultSite:
        s = FaultSite(name)
        loop_site: LoopbackSite = await self._stack.enter_async_context(serve_app(s.app()))
        s.url = loop_site.url
        return s

    async def gate(self) -> Gate:
        g = Gate(self.catcher.port)
        self._stack.push_async_callback(g.aclose)
        return g

    async def feeds(self) -> FeedServer:
        f = FeedServer()
        loop_site = await self._stack.enter_async_context(serve_app(f.app()))
        f.base = loop_site.url.rstrip("/")
        return f

    async def enter(self, cm: contextlib.AbstractAsyncContextManager[T]) -> T:
        return await self._stack.enter_async_context(cm)

    def config(self, **kw: Any) -> Path:
        kw.setdefault("smtp_port", self.catcher.port)
        self.cfg = write_config(self.dir / "cfg", **kw)
        return self.cfg

    @property
    def state_path(self) -> Path:
        assert self.cfg is not None
        return self.cfg / "state.sqlite3"

    async def daemon(self, *, nofile: int | None = None) -> DaemonProcess:
        assert self.cfg is not None, "write the configuration first"
        n = len(self.daemons) + 1
        d = DaemonProcess(self.cfg, self.dir / f"daemon-{n}.log", nofile=nofile)
        self.daemons.append(d)
        return await d.start()

    def store_lock(self) -> StoreLock:
        lock = StoreLock(self.state_path)
        self.locks.append(lock)
        return lock

    # -- observing ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.result.checks.append(Check(what, ok, detail))
        return ok

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    def operator(self, text: str) -> None:
        self.result.operator.append(text)

    def count(self, kind: str, site: str, rcpt: str | None = None) -> int:
        return sum(
            1
            for n in notices(self.catcher)
            if n.kind == kind and n.site == site and (rcpt is None or n.rcpt == rcpt)
        )

    async def mail(
        self, kind: str, site: str, rcpt: str = JO, *, within: float = PROMPT, count: int = 1
    ) -> float | None:
        """Seconds until ``count`` messages of ``kind`` for ``site`` reached ``rcpt``, or None
        (and a failed check) if not within ``within`` seconds."""
        t = time.monotonic()
        got = await until(lambda: self.count(kind, site, rcpt) >= count, within)
        took = time.monotonic() - t
        self.check(
            f"{kind} for {site} reaches {rcpt} within {within:.0f}s",
            bool(got),
            f"after {took:.1f}s" if got else "not delivered",
        )
        return took if got else None

    async def probed(
        self, site: FaultSite, *, hits: int = 0, failures: int = 0, within: float = PROMPT
    ) -> bool:
        """Wait until the daemon has probed ``site`` ``hits`` more times (or been served
        ``failures`` more failing answers)."""
        h0, f0 = site.hits, site.failures_served
        ok = await until(
            lambda: site.hits >= h0 + hits and site.failures_served >= f0 + failures, within
        )
        return bool(ok)

    async def get(
        self, d: DaemonProcess, path: str, timeout: float
    ) -> tuple[int, str, float] | None:
        """GET an API path: (status, body, seconds), or None if no answer within ``timeout``."""
        t = time.monotonic()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    d.api_url.rstrip("/") + path, timeout=aiohttp.ClientTimeout(total=timeout)
                ) as resp,
            ):
                body = await resp.text()
                return resp.status, body, time.monotonic() - t
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None

    async def readyz(self, d: DaemonProcess, when: str, timeout: float = 15.0) -> int | None:
        got = await self.get(d, "/readyz", timeout)
        if got is None:
            self.operator(f"/readyz {when}: no answer within {timeout:.0f}s")
            return None
        status, body, took = got
        try:
            problems = json.loads(body).get("problems", [])
        except ValueError:
            problems = [body.strip()[:200]]
        shown = "; ".join(str(p)[:160] for p in problems) or "ready"
        self.operator(f"/readyz {when}: {status} in {took:.1f}s ({shown})")
        return status

    async def metrics(self, d: DaemonProcess, when: str, timeout: float = 10.0) -> None:
        """Record the /metrics lines about the outbox and the store (a fault's gauges)."""
        got = await self.get(d, "/metrics", timeout)
        if got is None:
            self.operator(f"/metrics {when}: no answer within {timeout:.0f}s")
            return
        lines = [
            line
            for line in got[1].splitlines()
            if line
            and not line.startswith("#")
            and any(w in line for w in METRICS_SHOWN)
            and not line.rstrip().endswith(" 0.0")
        ]
        self.operator(
            f"/metrics {when}: " + ("; ".join(lines) if lines else "all outbox and store figures 0")
        )

    def log_problems(self, d: DaemonProcess, since: float, when: str) -> None:
        found = d.problems(since)
        if found:
            listed = ", ".join(f"{name} ×{n}" for name, n in sorted(found.items()))
            self.operator(f"log {when}: {listed}")
        else:
            self.operator(f"log {when}: no warning or error")

    async def hold_fault(self, seconds: float) -> None:
        """The fault lasts this long: the one fixed wait a case makes."""
        await asyncio.sleep(seconds)

    # -- the end -------------------------------------------------------------------------------

    def finish(
        self,
        expected: list[Expect],
        *,
        counted_sites: set[str] | None = None,
        allowed_resends: int = 0,
    ) -> None:
        """Count the notices (after every daemon stopped): delivered, duplicated, unexpected,
        and delivered-but-unrecorded in the outbox. ``counted_sites``: only mail about these
        sites counts as unexpected (default: every site of the expected notices and any other
        site-down/site-recovered). ``allowed_resends``: extra copies with the same Message-ID
        the channel's guarantee allows (SMTP after a crash between 250 and recording)."""
        r = self.result
        seen = notices(self.catcher)
        wanted = {(e.kind, e.site, e.rcpt) for e in expected}
        by_key: dict[tuple[str, str, str], list[Notice]] = {}
        for n in seen:
            by_key.setdefault((n.kind, n.site, n.rcpt), []).append(n)
        r.expected = len(expected)
        r.delivered = sum(1 for e in expected if by_key.get((e.kind, e.site, e.rcpt)))
        same_id = 0
        other_id = 0
        for k in wanted:
            copies = by_key.get(k, [])
            ids = Counter(n.message_id for n in copies)
            same_id += sum(c - 1 for c in ids.values())
            other_id += max(len(ids) - 1, 0)
        r.duplicated = same_id + other_id
        sites = counted_sites if counted_sites is not None else {e.site for e in expected}
        unexpected = [
            n
            for n in seen
            if (n.kind, n.site, n.rcpt) not in wanted
            and (n.site in sites or n.kind in ("site-down", "site-recovered"))
        ]
        r.unexpected = len(unexpected)
        missing = [str(e) for e in expected if not by_key.get((e.kind, e.site, e.rcpt))]
        self.check(
            f"every expected notice delivered ({r.delivered}/{r.expected})",
            not missing,
            "missing: " + "; ".join(missing) if missing else "",
        )
        self.check(
            "no notice sent twice under another Message-ID",
            other_id == 0,
            f"{other_id} extra message(s) for the same notice" if other_id else "",
        )
        self.check(
            f"copies with the same Message-ID: at most {allowed_resends}",
            same_id <= allowed_resends,
            f"{same_id} resent" if same_id else "",
        )
        self.check(
            "no notice nobody should get",
            not unexpected,
            "; ".join(f"{n.kind} {n.site} -> {n.rcpt}" for n in unexpected),
        )
        if self.cfg is not None and self.state_path.exists():
            self._check_recorded(seen)

    def _check_recorded(self, seen: list[Notice]) -> None:
        """Every delivered message is recorded as sent in the outbox of the stopped daemon."""
        if any(d.alive for d in self.daemons):
            self.note("outbox not read: a daemon is still running")
            return
        rows = read_outbox(self.state_path)
        by_id = {
            message_id_for(row.key, MAIL_DOMAIN): row for row in rows if row.notifier == "email"
        }
        unrecorded: list[str] = []
        for mid in dict.fromkeys(n.message_id for n in seen):
            row = by_id.get(mid)
            if row is not None and row.status != "sent":
                unrecorded.append(f"{row.key.split('|', 1)[0]} is {row.status!r}")
        self.result.would_resend = len(unrecorded)
        self.check(
            "every delivered notice is recorded as sent (none would be sent again)",
            not unrecorded,
            "; ".join(unrecorded),
        )


# ---------------------------------------------------------------- running cases


CaseFn = Callable[[Rig], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    items: str
    """The items of issue 8 the case exercises."""
    run: CaseFn
    budget: float
    """Seconds the whole case may take before it is stopped and failed."""


async def _run_async(case: Case, workdir: Path) -> CaseResult:
    rig = Rig(case.id, case.title, case.items, workdir)
    try:
        async with rig:
            try:
                await asyncio.wait_for(case.run(rig), case.budget)
            except TimeoutError:
                rig.result.error = (
                    f"the case did not finish within its budget of {case.budget:.0f}s"
                )
    except Exception:
        rig.result.error = traceback.format_exc(limit=8)
    if not rig.result.passed:
        rig.result.notes += [f"daemon log: {d.log_path}" for d in rig.daemons]
    return rig.result


def run_case(case: Case, workdir: Path) -> CaseResult:
    return asyncio.run(_run_async(case, workdir))


def run_cases(cases: list[Case], workdir: Path) -> dict[str, CaseResult]:
    """Run the cases at once, each in its own thread and event loop."""
    if not cases:
        return {}
    with ThreadPoolExecutor(max_workers=len(cases), thread_name_prefix="fault") as pool:
        futures = {c.id: pool.submit(run_case, c, workdir / c.id) for c in cases}
        return {cid: f.result() for cid, f in futures.items()}


# ---------------------------------------------------------------- the report


def table(results: list[CaseResult]) -> str:
    rows = [
        "| case | issue 8 | expected | delivered | duplicated | unexpected | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        dup = str(r.duplicated) + (f" (+{r.would_resend} would resend)" if r.would_resend else "")
        rows.append(
            f"| {r.case_id} | {r.items} | {r.expected} | {r.delivered} | {dup} | {r.unexpected} "
            f"| {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(rows)


def report(results: list[CaseResult], command: str) -> str:
    passed = sum(r.passed for r in results)
    out = [
        "# Fault-injection run",
        "",
        f"`{command}` — {passed}/{len(results)} cases passed; "
        f"longest case {max((r.seconds for r in results), default=0):.0f}s.",
        "",
        table(results),
        "",
    ]
    for r in results:
        out.append(f"## {r.case_id}: {'pass' if r.passed else 'FAIL'} ({r.seconds:.0f}s)")
        out.append("")
        out.append(r.title)
        out.append("")
        for c in r.checks:
            out.append(
                f"- {'✔' if c.ok else '✘'} {c.what}" + (f" — {c.detail}" if c.detail else "")
            )
        for o in r.operator:
            out.append(f"- operator sees: {o}")
        for n in r.notes:
            out.append(f"- note: {n}")
        if r.error:
            out.append("")
            out.append("```")
            out.append(r.error.rstrip())
            out.append("```")
        out.append("")
    return "\n".join(out)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (up to the hard limit; left
    raised: other cases may hold sockets by then). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target
