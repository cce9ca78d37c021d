"""The cluster harness: several real ``monitord run`` nodes on one real PostgreSQL database.

A :class:`ClusterRig` holds one scenario's world: an SMTP catcher, loopback sites that fail
for chosen *source addresses* (each node binds its probes to its own 127.0.0.x, so a site can
fail for one node and not another), an optional TCP forwarder in front of PostgreSQL per node
(so one node can be cut off from the database while the others are not), and the nodes,
each a :class:`tests.faults.harness.DaemonProcess` (``kill -9`` is real) reading the same
configuration directory with its own ``$MONITORD_NODE``. Waits poll the nodes' JSON logs,
the catcher and the database with a deadline; nothing sleeps for an outcome.

Scenarios run each in its own thread and event loop (:func:`run_scenarios`), all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP

from monitord.checks import check_key
from tests.faults.harness import (
    HOLD_MAX,
    JO,
    JO_CONTACT,
    Catcher,
    DaemonProcess,
    SiteConf,
    notices,
    until,
    write_config,
)
from tests.helpers.postgres import PgServer
from tests.helpers.sites import HOST, serve_app
from tests.helpers.smtp import plain_text

NODES = ("n1", "n2", "n3")
ADDRESS = {"n1": "127.0.0.1", "n2": "127.0.0.2", "n3": "127.0.0.3"}
"""Each node's source address: its probes come from there, so a site can tell them apart."""

NODES_YAML = "nodes:\n" + "".join(f"  {n}: {{source_address: {a}}}\n" for n, a in ADDRESS.items())

CHECKS = "[{type: http, interval: 1s, timeout: 2s}]"
ALERT = "{failure_threshold: 2, success_threshold: 2, repeat_every: null}"
"""Two results in a row per node: one slow probe on a loaded machine does not flip a node."""

SITE_KINDS = ("site-down", "site-recovered")

# Deadlines (seconds): generous for a loaded 2-core machine, never waited out when the answer
# is known.
VERDICT = 25.0
"""A state change seen by a quorum of nodes reaches the catcher within this: two results per
node (2 s), a write (0.5 s), a decision round (1 s), the outbox (at most 5 s idle)."""
TAKEOVER_LIMIT = 30.0
"""The issue's promise: a new leader within 30 s of the leader's death or isolation."""
STEP_DOWN_LIMIT = 10.0
"""A leader cut off from the database says it no longer leads within this (two pings)."""
DB_TIMEOUT = 10.0
"""A look at the database from the test (connect and query)."""


# ---------------------------------------------------------------- sites and the database path


class PeerSite:
    """A loopback site answering 503 to probes from the addresses in ``failing``, 200 to the
    rest; it counts the probes it served per source address."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = ""
        self.failing: set[str] = set()
        self.hits: Counter[str] = Counter()

    def fail_for(self, *nodes: str) -> None:
        self.failing = {ADDRESS[n] for n in nodes}

    def fail_all(self) -> None:
        self.fail_for(*NODES)

    def fix(self) -> None:
        self.failing = set()

    def app(self) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            remote = request.remote or ""
            self.hits[remote] += 1
            status = 503 if remote in self.failing else 200
            return web.Response(status=status, text=f"<h1>{self.name}</h1>")

        app = web.Application()
        app.router.add_get("/", page)
        return app


class Forwarder:
    """A TCP forwarder on 127.0.0.1 in front of PostgreSQL, for one node. :meth:`cut` kills
    every connection through it (both sides reset, so the server ends those sessions and
    frees their locks) and refuses new ones until :meth:`mend`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.is_cut = False
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Forwarder:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_r, up_w = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.transport.abort()
            self._tasks.discard(task)
            return
        pair = (writer, up_w)
        self._pairs.add(pair)
        try:
            await asyncio.gather(_pump(reader, up_w), _pump(up_r, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._pairs.discard(pair)
            for w in pair:
                w.transport.abort()
            self._tasks.discard(task)

    def cut(self) -> None:
        self.is_cut = True
        self.cuts += 1
        for pair in list(self._pairs):
            for w in pair:
                w.transport.abort()

    def mend(self) -> None:
        self.is_cut = False

    async def aclose(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    while data := await src.read(65536):
        dst.write(data)
        await dst.drain()
    dst.transport.abort()


class GateCatcher(Catcher):
    """The catcher, with a gate: once ``accepted`` messages have arrived, every later MAIL
    command waits (before its reply) until :meth:`open_gate`. A transaction already past
    its MAIL goes on to its end, so with the gate closed and :attr:`open_transactions` at
    zero, no message can arrive until the gate opens: a sender killed then has every message
    it handed over accepted (and may have recorded them), and the ones held never began."""

    def __init__(self) -> None:
        super().__init__()
        self._gate_after: int | None = None
        self._opened = threading.Event()
        self._opened.set()
        self.held = 0
        """MAIL commands waiting at the closed gate now."""
        self.open_transactions = 0
        """Transactions past MAIL whose DATA has not ended (meaningful while the gate is
        closed: a transaction let through afterwards by a dead sender never ends)."""

    def close_gate_after(self, accepted: int) -> None:
        with self._cond:
            self._gate_after = accepted

    def open_gate(self) -> None:
        with self._cond:
            self._gate_after = None
        self._opened.set()

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._cond:
            after = self._gate_after
            closed = after is not None and len(self._messages) >= after
            if closed:
                self._opened.clear()
                self.held += 1
        if closed:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._opened.wait, HOLD_MAX)
            with self._cond:
                self.held -= 1
        reply = await super().handle_MAIL(server, session, envelope, address, options)
        if reply.startswith("250"):
            with self._cond:
                self.open_transactions += 1
        return reply

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            with self._cond:
                self.open_transactions -= 1


# ---------------------------------------------------------------- results


@dataclass(slots=True)
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass(slots=True)
class ScenarioResult:
    name: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    """Measurements the report prints (takeover seconds, notice counts)."""
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def explain(self) -> str:
        lines = [f"{self.name} ({self.seconds:.0f}s)"]
        lines += [
            f"  {'ok  ' if c.ok else 'FAIL'} {c.what}" + (f": {c.detail}" if c.detail else "")
            for c in self.checks
        ]
        lines += [f"  {k}: {v}" for k, v in self.figures.items()]
        lines += [f"  note: {n}" for n in self.notes]
        if self.error:
            lines.append("  error: " + self.error)
        return "\n".join(lines)


# ---------------------------------------------------------------- the rig


@dataclass(frozen=True, slots=True)
class Seen:
    """A log entry of one node."""

    node: str
    entry: dict[str, Any]

    @property
    def t(self) -> float:
        return float(self.entry["_t"])


class ClusterRig:
    """One scenario's world (see the module docstring), cleaned up whatever happens."""

    def __init__(self, name: str, workdir: Path, pg: PgServer, db_url: str) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pg = pg
        """The PostgreSQL server (a scenario that restarts it has one of its own)."""
        self.db_url = db_url
        """The database, straight (the test's own look; nodes may go through forwarders)."""
        self.result = ScenarioResult(name)
        self.catcher = GateCatcher()
        self.nodes: dict[str, DaemonProcess] = {}
        self.forwarders: dict[str, Forwarder] = {}
        self.cfg: Path | None = None
        self._stack = contextlib.AsyncExitStack()
        self._t0 = time.monotonic()

    async def __aenter__(self) -> ClusterRig:
        await asyncio.to_thread(self.catcher.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for d in self.nodes.values():
            if d.alive:
                d.kill9()
        for f in self.forwarders.values():
            await f.aclose()
        await self._stack.aclose()
        await asyncio.to_thread(self.catcher.stop)
        self.result.seconds = time.monotonic() - self._t0
        if not self.result.passed:
            self.result.notes += [f"{n} log: {d.log_path}" for n, d in self.nodes.items()]

    # -- building ----------------------------------------------------------------------------

    async def site(self, name: str) -> PeerSite:
        s = PeerSite(name)
        loop_site = await self._stack.enter_async_context(serve_app(s.app()))
        s.url = loop_site.url
        return s

    async def serve(self, app: web.Application) -> str:
        """Serve ``app`` on a loopback port for the scenario; its base URL (no slash at the end)."""
        loop_site = await self._stack.enter_async_context(serve_app(app))
        return loop_site.url.rstrip("/")

    async def forwarder(self, node: str, target_port: int) -> Forwarder:
        f = await Forwarder(target_port).start()
        self.forwarders[node] = f
        return f

    def config(
        self,
        sites: Sequence[PeerSite],
        *,
        url: str | None = None,
        unprobed: Sequence[SiteConf] = (),
        contacts: tuple[str, ...] = (JO_CONTACT,),
        security: str = "security: {enabled: false}\n",
    ) -> Path:
        """The one configuration directory every node reads: the store at ``url`` (default:
        the database itself; ``${PGPORT}`` in it names each node's own port), the three
        nodes' source addresses, and the sites (one http check each, every second), then
        the ``unprobed`` sites as they are written (Drupal sites without checks)."""
        d = write_config(
            self.dir / "cfg",
            smtp_port=self.catcher.port,
            sites=[SiteConf(s.name, s.url, checks=CHECKS, alert=ALERT) for s in sites]
            + list(unprobed),
            contacts=contacts,
            main_extra=NODES_YAML,
            security=security,
        )
        yml = d / "monitord.yml"
        text, n = re.subn(
            r"^state: \{path: [^}]*\}$",
            f'state: {{url: "{url or self.db_url}"}}',
            yml.read_text(),
            flags=re.M,
        )
        assert n == 1, "the configuration's state line moved"
        yml.write_text(text)
        self.cfg = d
        return d

    async def start(self, *nodes: str) -> None:
        """Start the nodes at once and wait until each has logged ``started``."""
        assert self.cfg is not None, "write the configuration first"
        for node in nodes:
            state_dir = self.dir / node
            state_dir.mkdir(exist_ok=True)
            env = {"MONITORD_NODE": node, "STATE_DIRECTORY": str(state_dir)}
            if node in self.forwarders:
                env["PGPORT"] = str(self.forwarders[node].port)
            self.nodes[node] = DaemonProcess(self.cfg, self.dir / f"{node}.log", env=env)
        await asyncio.gather(*(self.nodes[n].start() for n in nodes))

    async def stop_all(self) -> None:
        stopped = await asyncio.gather(*(d.stop() for d in self.nodes.values() if d.alive))
        self.check("every running node stops cleanly on SIGTERM", all(stopped))

    # -- observing: logs -----------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def logged(
        self,
        event: str,
        *,
        nodes: Sequence[str] | None = None,
        since: float = 0.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[Seen]:
        """Every ``event`` the nodes logged since a ``time.monotonic()`` instant, in time order."""
        out: list[Seen] = []
        for name in nodes if nodes is not None else list(self.nodes):
            for e in self.nodes[name].snapshot():
                if e.get("event") == event and e["_t"] >= since and (where is None or where(e)):
                    out.append(Seen(name, e))
        return sorted(out, key=lambda s: s.t)

    async def first(
        self,
        event: str,
        timeout: float,
        *,
        nodes: Sequence[str] | None = None,
        since: float = 0.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Seen | None:
        """The first ``event`` logged since ``since`` (waiting up to ``timeout`` seconds)."""

        def look() -> Seen | None:
            found = self.logged(event, nodes=nodes, since=since, where=where)
            return found[0] if found else None

        return await until(look, timeout)

    def leader(self) -> Seen | None:
        """The node that leads now by its log: its last ``cluster.leader`` is the latest of
        any running node, and it has not logged losing it since."""
        running = [n for n, d in self.nodes.items() if d.alive]
        elected = self.logged("cluster.leader", nodes=running)
        if not elected:
            return None
        last = elected[-1]
        lost = self.logged("cluster.leader_lost", nodes=[last.node], since=last.t)
        return None if lost else last

    async def wait_leader(self, timeout: float = VERDICT) -> Seen:
        found = await until(self.leader, timeout)
        if found is None:
            raise AssertionError(f"no node logged cluster.leader within {timeout:.0f}s")
        return found

    # -- observing: the database ---------------------------------------------------------------

    async def sql(self, query: str, *args: Any) -> list[Any]:
        """Rows of one query on the database (a connection of its own, closed after)."""
        conn = await asyncpg.connect(self.db_url, timeout=DB_TIMEOUT)
        try:
            return list(await conn.fetch(query, *args, timeout=DB_TIMEOUT))
        finally:
            await conn.close()

    async def node_views(self, sites: Sequence[PeerSite]) -> dict[tuple[str, str], str]:
        """(site, node) → the node's own status of the site's http check (node_result)."""
        keys = {check_key("acme", s.name, "http"): s.name for s in sites}
        rows = await self.sql(
            "SELECT key, node, status FROM node_result WHERE key = ANY($1::text[])", list(keys)
        )
        return {(keys[r["key"]], r["node"]): r["status"] for r in rows}

    async def all_see(
        self, sites: Sequence[PeerSite], status: str, nodes: Sequence[str] = NODES
    ) -> bool:
        """Wait until every node's own status of every site is ``status``."""

        async def look() -> bool:
            try:
                views = await self.node_views(sites)
            except (OSError, asyncpg.PostgresError):
                return False
            return all(views.get((s.name, n)) == status for s in sites for n in nodes)

        deadline = time.monotonic() + VERDICT
        while time.monotonic() < deadline:
            if await look():
                return True
            await asyncio.sleep(0.2)
        return False

    async def results_after(
        self, site: PeerSite, node: str, since_db: Any, count: int, timeout: float = VERDICT
    ) -> list[tuple[Any, str]]:
        """``node``'s results about ``site`` written after the database time ``since_db``
        (each distinct ``at`` once, with its status), until ``count`` were seen."""
        key = check_key("acme", site.name, "http")
        seen: dict[Any, str] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < count and time.monotonic() < deadline:
            rows = await self.sql(
                "SELECT at, status FROM node_result WHERE key = $1 AND node = $2 AND at > $3",
                key,
                node,
                since_db,
            )
            for r in rows:
                seen.setdefault(r["at"], r["status"])
            await asyncio.sleep(0.2)
        return sorted(seen.items())

    async def db_now(self) -> Any:
        return (await self.sql("SELECT now() AS t"))[0]["t"]

    async def incidents(self, site: str) -> list[Any]:
        return await self.sql(
            "SELECT id, started, ended, last_message FROM incident WHERE site = $1", site
        )

    async def tickets(self, site: str) -> list[Any]:
        return await self.sql("SELECT id, kind, status FROM ticket WHERE site = $1", site)

    async def epoch(self) -> int:
        rows = await self.sql("SELECT epoch FROM cluster_leader WHERE id = 1")
        return int(rows[0]["epoch"]) if rows else 0

    # -- observing: the catcher ----------------------------------------------------------------

    def count(self, kind: str, site: str, rcpt: str = JO) -> int:
        return sum(
            1 for n in notices(self.catcher) if n.kind == kind and n.site == site and n.rcpt == rcpt
        )

    async def mail(self, kind: str, site: str, *, within: float = VERDICT, count: int = 1) -> bool:
        t = time.monotonic()
        got = bool(await until(lambda: self.count(kind, site) >= count, within))
        self.check(
            f"{kind} for {site} reaches {JO} within {within:.0f}s",
            got,
            f"after {time.monotonic() - t:.1f}s" if got else "not delivered",
        )
        return got

    def texts(self, kind: str, site: str) -> list[str]:
        out = []
        for mail in self.catcher.messages:
            msg = mail.message
            if msg.get("X-Monitord-Kind") == kind and msg.get("X-Monitord-Site") == site:
                out.append(f"{msg.get('Subject', '')}\n{plain_text(msg)}")
        return out

    # -- judging ---------------------------------------------------------------------------------

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.result.checks.append(Check(what, ok, detail))
        return ok

    def figure(self, name: str, value: object) -> None:
        self.result.figures[name] = str(value)

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    def exactly(self, expected: Mapping[tuple[str, str], int], sites: Sequence[PeerSite]) -> None:
        """Every site's DOWN and RECOVERED notices at the catcher: exactly as ``expected``
        ((kind, site) → count, absent = 0) to the contact, at most that to anyone, and no
        notice twice under one Message-ID."""
        seen = notices(self.catcher)
        for s in sites:
            for kind in SITE_KINDS:
                want = expected.get((kind, s.name), 0)
                mine = [n for n in seen if n.kind == kind and n.site == s.name]
                to_jo = sum(1 for n in mine if n.rcpt == JO)
                per_rcpt = Counter(n.rcpt for n in mine)
                worst = max(per_rcpt.values(), default=0)
                self.check(
                    f"{kind} for {s.name}: exactly {want}",
                    to_jo == want and worst <= want,
                    f"{to_jo} to {JO}, {dict(per_rcpt)} in all",
                )
        ids = Counter((n.message_id, n.rcpt) for n in seen)
        twice = [mid for mid, c in ids.items() if c > 1]
        self.check("no message delivered twice", not twice, f"{twice}")

    async def unsent(self) -> list[str]:
        """The e-mails in the outbox not recorded as sent (key and status)."""
        rows = await self.sql("SELECT key, status FROM outbox WHERE notifier = 'email'")
        return [f"{r['key'].split('|', 1)[0]} {r['status']}" for r in rows if r["status"] != "sent"]

    async def all_sent(self, timeout: float = VERDICT) -> bool:
        """Wait until every e-mail in the outbox is recorded as sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await self.unsent():
                return True
            await asyncio.sleep(0.1)
        return False

    async def outbox_settled(self) -> None:
        """Every e-mail in the outbox is recorded as sent (none would be sent again)."""
        rows = await self.sql("SELECT key, status FROM outbox WHERE notifier = 'email'")
        unsent = [
            f"{r['key'].split('|', 1)[0]} {r['status']}" for r in rows if r["status"] != "sent"
        ]
        self.check("every e-mail in the outbox is recorded as sent", not unsent, "; ".join(unsent))


# ---------------------------------------------------------------- running scenarios


RESULTS = pytest.StashKey[dict[str, "ScenarioResult"]]()
"""Where the scenarios' results wait for the terminal summary (conftest.py)."""

ScenarioFn = Callable[[ClusterRig], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    run: ScenarioFn
    budget: float
    """Seconds the scenario may take before it is stopped and failed."""
    dedicated_server: bool = False
    """Runs on a PostgreSQL server of its own (it restarts it), not the session's."""


ServerFor = Callable[[Scenario], PgServer]


async def _run_async(scenario: Scenario, workdir: Path, pg: PgServer) -> ScenarioResult:
    url = await asyncio.to_thread(pg.create_database)
    rig = ClusterRig(scenario.id, workdir, pg, url)
    try:
        async with rig:
            try:
                await asyncio.wait_for(scenario.run(rig), scenario.budget)
            except TimeoutError:
                rig.result.error = f"did not finish within its budget of {scenario.budget:.0f}s"
    except Exception:
        rig.result.error = traceback.format_exc(limit=10)
    return rig.result


def run_scenarios(
    scenarios: Sequence[Scenario], workdir: Path, server_for: ServerFor
) -> dict[str, ScenarioResult]:
    """Run the scenarios at once, each in its own thread and event loop, each on a database
    of its own on the server ``server_for`` gives it."""
    if not scenarios:
        return {}
    with ThreadPoolExecutor(max_workers=len(scenarios), thread_name_prefix="cluster") as pool:
        futures = {
            s.id: pool.submit(asyncio.run, _run_async(s, workdir / s.id, server_for(s)))
            for s in scenarios
        }
        return {sid: f.result() for sid, f in futures.items()}
