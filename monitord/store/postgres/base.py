"""The PostgreSQL store's core: the connection, open/close, the batched write path, meta.

One connection does the store's work, one operation at a time in call order (an asyncio lock,
fair to waiters), as SqliteStore's single thread does: writes to one key are applied in call
order and a durable write commits the pending batch with it. Probe results are batched and
committed by a background flusher. A connection that breaks is dropped and made again on the
next operation; the failed operation raises StoreError (the batch is kept for the next commit).

With ``exclusive=True`` (the daemon) the store also holds a session advisory lock on its own
connection for its whole life, keyed by its node id (NODE_LOCK_CLASS, hashtext(node)): one
daemon per node id per database. Several nodes (different ids) share a database; only the
leader (monitord.cluster.leader) makes the leader-only writes, and while ``fencing`` is on each
of them first checks, in its own transaction, that the cluster's epoch is still the one this
node was elected with (``fence_epoch``), raising FencedError when it is not.

asyncpg was chosen over psycopg 3 by measurement (bench/bench_pg_driver.py,
docs/benchmarks.md): about half the time and the client CPU for a batch of 500 upserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import structlog

from monitord import limits
from monitord.clock import utcnow
from monitord.errors import FencedError, StoreError
from monitord.notify.base import Notification
from monitord.redact import display_url
from monitord.store.base import IncidentRow, ResultRow
from monitord.store.batching import WriteBatch
from monitord.store.pg_migrations import pg_migrate
from monitord.store.postgres.codec import (
    _Entry,
    _merge,
    _outbox_args,
    _OutboxArgs,
    _result_args,
    _ResultArgs,
    _utc,
)
from monitord.store.sqlite.codec import _dumps

PG_CONNECT_TIMEOUT = timedelta(seconds=10)
"""How long opening a connection may take: a database across a WAN answers in well under a
second; longer means it is down or unreachable, and the caller should hear so."""

PG_STATEMENT_TIMEOUT = timedelta(seconds=30)
"""A statement that runs longer is cancelled by the server (statement_timeout): the biggest,
a 2,000-row retention batch, takes milliseconds; 30 s is a stuck lock or a sick server."""

DAEMON_LOCK_KEY = 0x6D6F6E69_746F7202
"""pg_try_advisory_lock key of the one-daemon-per-database lock of monitord before several
nodes ('monitor' + 2): ``monitord state migrate`` still refuses while one holds it."""

NODE_LOCK_CLASS = 0x6D6F6E03
"""First key of the two-int pg_try_advisory_lock(NODE_LOCK_CLASS, hashtext(node)) each daemon
holds: one daemon per node id per database ('mon' + 3; any 32-bit value no other application
on the database uses)."""

_NODE_LOCK_HOLDER = (
    "SELECT a.application_name || ' (from ' || "
    "COALESCE(host(a.client_addr), 'a local socket') || ', connected ' || "
    "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || "
    "' UTC)' FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.classid = $1::int4::oid AND ($2::text IS NULL OR l.objid = hashtext($2)::oid) "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "ORDER BY a.backend_start LIMIT 1"
)
_FENCE = "SELECT epoch FROM cluster_leader WHERE id = 1 FOR SHARE"

SCHEMES = ("postgresql", "postgres")

_T = TypeVar("_T")

_DB_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
"""A connection's failures (the last but one: a session the server ended while the event loop
was busy meets the next query with "cannot switch to state …"): a StoreError, and the
connection is made again."""


_UPSERT_STATE = (
    "INSERT INTO check_state (key, state, updated) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated = excluded.updated"
)
_UPSERT_RESULT = (
    "INSERT INTO latest_result "
    "(key, client, site, check_id, ok, message, warning, duration, at, details) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (key) DO UPDATE SET client = excluded.client, site = excluded.site, "
    "check_id = excluded.check_id, ok = excluded.ok, message = excluded.message, "
    "warning = excluded.warning, duration = excluded.duration, at = excluded.at, "
    "details = excluded.details"
)
_UPSERT_INCIDENT = (
    "INSERT INTO incident "
    "(id, key, client, site, check_id, started, ended, summary, last_message) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (id) DO UPDATE SET key = excluded.key, client = excluded.client, "
    "site = excluded.site, check_id = excluded.check_id, started = excluded.started, "
    "ended = excluded.ended, summary = excluded.summary, last_message = excluded.last_message"
)
# An item is never due before the open items ahead of it to the same destination in its
# thread (GREATEST ignores the NULL of "none open").
_INSERT_OUTBOX = (
    "INSERT INTO outbox (key, notifier, notification, due_at, created, updated, status, "
    "thread, recipient, grp) "
    "VALUES ($1, $2, $3, GREATEST($4, (SELECT MAX(p.due_at) FROM outbox p "
    "  WHERE p.notifier = $2 AND p.recipient = $7 AND p.thread = $6 "
    "    AND p.status IN ('pending', 'sending'))), "
    "$5, $5, 'pending', $6, $7, $8) ON CONFLICT (key) DO NOTHING RETURNING id"
)
# Due items in order per destination within a thread; rows another node's transaction holds
# are skipped, not waited for (FOR UPDATE SKIP LOCKED): a claim is a lease that recover()
# takes back from a run that is gone.
_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


async def pg_connect(
    url: str, application: str = "monitord", settings: Mapping[str, str] | None = None
) -> asyncpg.Connection:
    """One connection to ``url`` with the store's timeouts (and further session
    ``settings``: the leader lock's keepalives)."""
    conn: asyncpg.Connection = await asyncpg.connect(
        url,
        timeout=PG_CONNECT_TIMEOUT.total_seconds(),
        command_timeout=PG_STATEMENT_TIMEOUT.total_seconds() + 5,
        server_settings={
            "application_name": application[:63],
            "statement_timeout": str(int(PG_STATEMENT_TIMEOUT.total_seconds() * 1000)),
            "TimeZone": "UTC",
            **(settings or {}),
        },
    )
    return conn


class PostgresBase:
    """The connection, its life cycle and the write path every concern's mixin builds on."""

    def __init__(
        self,
        url: str,
        *,
        exclusive: bool = False,
        holder: str = "",
        node: str = "",
        batch_size: int = limits.STORE_BATCH_SIZE,
        flush_interval: timedelta = limits.STORE_FLUSH_INTERVAL,
    ) -> None:
        self.url = url
        self.where = display_url(url)
        """The database as it may be shown (password masked)."""
        self._exclusive = exclusive
        self._holder = holder
        self.node = node or socket.gethostname()
        """This daemon's node id (the host name unless given)."""
        self.fence_epoch: int | None = None
        """The epoch this node was elected leader with; None while it is not the leader."""
        self.fencing = False
        """When True (cluster mode), every leader-only write first checks the cluster's epoch
        is still ``fence_epoch`` and raises FencedError when it is not."""
        self._batch: WriteBatch[_ResultArgs, datetime] = WriteBatch(batch_size, flush_interval)
        self._log = structlog.get_logger("monitord.store").bind(store=self.where)
        self._conn: asyncpg.Connection | None = None
        self._lock_conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._open = False
        self._flusher: asyncio.Task[None] | None = None
        self._carry: dict[str, _Entry] = {}
        self.commits = 0
        """Transactions committed since open."""
        self.flushed = asyncio.Event()
        """Set after each background flush."""
        self.flush_listeners: list[Callable[[StoreError | None], None]] = []
        """Told after each background flush: its error, or None when it committed."""

    # -- connection ---------------------------------------------------------------------------

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        text = str(exc).replace(self.url, self.where)
        return StoreError(
            f"the state store {self.where} could not {doing}: {type(exc).__name__}: {text}. "
            "Check that PostgreSQL is running and reachable, that state.url names the right "
            "host, database, user and password, and that the user may write to the database."
        )

    async def _connection(self) -> asyncpg.Connection:
        if self._exclusive and (self._lock_conn is None or self._lock_conn.is_closed()):
            # The server ended the lock's session (a restart, an administrator): take the lock
            # again before any write, or stop with the refusal if another daemon has it now.
            self._lock_conn = None
            await self._take_node_lock()
            self._log.warning(
                "store.daemon_lock_retaken",
                hint="the database ended the daemon lock's connection; it is held again",
            )
        if self._conn is None or self._conn.is_closed():
            self._conn = await pg_connect(self.url)
        return self._conn

    async def _drop_broken(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _do(
        self,
        doing: str,
        fn: Callable[[asyncpg.Connection], Awaitable[_T]],
        *,
        tx: bool = True,
        fenced: bool = False,
    ) -> _T:
        """``fn`` on the store's connection, in a transaction unless ``tx`` is False; a
        ``fenced`` (leader-only) write is checked first (:meth:`_fence`)."""
        if not self._open:
            raise StoreError(f"the state store {self.where} is not open; call open() first")
        async with self._lock:
            try:
                conn = await self._connection()
                if not tx:
                    return await fn(conn)
                async with conn.transaction():
                    if fenced:
                        await self._fence(conn)
                    out = await fn(conn)
                self.commits += 1
                return out
            except _DB_ERRORS as exc:
                if not isinstance(exc, asyncpg.PostgresError) or (
                    self._conn is not None and self._conn.is_closed()
                ):
                    await self._drop_broken()
                raise self._error(doing, exc) from exc

    # -- lifecycle ------------------------------------------------------------------------------

    async def _take_node_lock(self) -> None:
        me = self._holder or f"monitord pid {os.getpid()} on host {socket.gethostname()}"
        conn = await pg_connect(self.url, application=me)
        try:
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", NODE_LOCK_CLASS, self.node
            )
            if not got:
                holder = await conn.fetchval(_NODE_LOCK_HOLDER, NODE_LOCK_CLASS, self.node)
                raise StoreError(
                    f"another monitord is already running as node {self.node!r} on the store "
                    f"{self.where}: {holder or 'a process that has just let go or is starting'}. "
                    "Only one daemon may run as one node (two would probe and send everything "
                    "twice as one). Stop that one first (systemctl stop monitord on its "
                    "host), or, to run several nodes on this database, give each node its "
                    "own id (--node, $MONITORD_NODE or node: {id: …} in monitord.yml)."
                )
        except BaseException:
            conn.terminate()
            raise
        self._lock_conn = conn

    async def _fence(self, conn: asyncpg.Connection) -> None:
        """Refuse a leader-only write (FencedError) when fencing is on and the cluster's epoch
        is not this node's: another node was elected since. FOR SHARE holds the epoch for the
        transaction, so an election waits for the write to commit, never the other way."""
        if not self.fencing:
            return
        epoch = await conn.fetchval(_FENCE)
        if self.fence_epoch is None or epoch != self.fence_epoch:
            raise FencedError(self.where, self.fence_epoch, None if epoch is None else int(epoch))

    def drop_pending(self) -> None:
        """Forget the batched writes not yet committed, and those a failed commit kept: a
        node that steps down must not write them later (the new leader writes its own)."""
        self._batch.take()
        self._carry = {}

    async def open(self) -> None:
        if self._open:
            return
        try:
            if self._exclusive:
                await self._take_node_lock()
            conn = await pg_connect(self.url)
            try:
                await pg_migrate(conn, self.where, utcnow())
            except BaseException:
                conn.terminate()
                raise
        except StoreError:
            await self._release_node_lock()
            raise
        except _DB_ERRORS as exc:
            await self._release_node_lock()
            raise StoreError(
                f"cannot open the state store {self.where}: {type(exc).__name__}: "
                f"{str(exc).replace(self.url, self.where)}. Check state.url (host, port, "
                "database, user, password) and that PostgreSQL is running and reachable."
            ) from exc
        self._conn = conn
        self._open = True
        self._carry = {}
        self.commits = 0
        self._flusher = asyncio.create_task(self._flush_loop(), name="monitord-store-flusher")

    async def _release_node_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(*_DB_ERRORS):
                await conn.close(timeout=PG_CONNECT_TIMEOUT.total_seconds())

    async def close(self) -> None:
        if not self._open:
            return
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        try:
            await self.flush()
        finally:
            self._open = False
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(*_DB_ERRORS):
                    await conn.close(timeout=PG_CONNECT_TIMEOUT.total_seconds())
            await self._release_node_lock()

    # -- states and results --------------------------------------------------------------------

    def _take_pending(self) -> dict[str, _Entry]:
        return self._batch.take()

    async def _commit(
        self,
        doing: str,
        batch: dict[str, _Entry],
        durable: list[tuple[str, _Entry]] | None,
        incident: IncidentRow | None,
        outbox: list[_OutboxArgs],
    ) -> None:
        async def run(conn: asyncpg.Connection) -> None:
            await self._fence(conn)
            await conn.executemany(_UPSERT_STATE, [(k, e.state, e.now) for k, e in entries])
            results = [e.result for _, e in entries if e.result is not None]
            if results:
                await conn.executemany(_UPSERT_RESULT, results)
            if incident is not None:
                i = incident
                await conn.execute(
                    _UPSERT_INCIDENT,
                    i.id,
                    i.key,
                    i.client,
                    i.site,
                    i.check,
                    _utc(i.started),
                    _utc(i.ended) if i.ended is not None else None,
                    i.summary,
                    i.last_message,
                )
            for args in outbox:
                await conn.fetchval(_INSERT_OUTBOX, *args)

        async with self._lock:
            # The batch merged under the lock, so a flush and a durable write never reorder.
            batch = _merge(self._carry, batch)
            self._carry = {}
            if not batch and durable is None and incident is None and not outbox:
                return
            entries = list(batch.items()) + (durable or [])
            try:
                conn = await self._connection()
                async with conn.transaction():
                    await run(conn)
                self.commits += 1
            except FencedError:
                raise  # never written by this node now: not kept for a later commit
            except BaseException as exc:
                self._carry = _merge(batch, self._carry)
                if isinstance(exc, _DB_ERRORS):
                    if not isinstance(exc, asyncpg.PostgresError):
                        await self._drop_broken()
                    raise self._error(doing, exc) from exc
                raise

    async def flush(self) -> None:
        """Commit the batched writes now (one transaction)."""
        if not self._open:
            raise StoreError(f"the state store {self.where} is not open; call open() first")
        await self._commit("save check states", self._take_pending(), None, None, [])

    async def _flush_loop(self) -> None:
        await self._batch.run(self.flush, self.flush_listeners, self.flushed, self._log)

    async def write(
        self,
        key: str,
        state: dict[str, Any],
        result: ResultRow | None,
        notifications: Sequence[Notification] = (),
        incident: IncidentRow | None = None,
        *,
        now: datetime,
        also: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        if not self._open:
            raise StoreError(f"the state store {self.where} is not open; call open() first")
        at = _utc(now)
        entry = _Entry(
            _dumps(state, what=f"state of {key!r}"),
            _result_args(result) if result is not None else None,
            at,
        )
        if notifications or incident is not None or also:
            outbox = _outbox_args(notifications, at, at)
            durable = [(key, entry)]
            durable += [
                (k, _Entry(_dumps(v, what=f"state of {k!r}"), None, at))
                for k, v in (also or {}).items()
            ]
            await self._commit(
                "save a check state with its notifications",
                self._take_pending(),
                durable,
                incident,
                outbox,
            )
            return
        self._batch.add(key, entry)

    @staticmethod
    async def _insert_outbox(conn: asyncpg.Connection, rows: Sequence[_OutboxArgs]) -> int:
        new = 0
        for args in rows:  # one by one: each row's due time sees the rows before it
            if await conn.fetchval(_INSERT_OUTBOX, *args) is not None:
                new += 1
        return new

    async def _exec(self, doing: str, sql: str, *args: Any, fenced: bool = False) -> str:
        async def run(conn: asyncpg.Connection) -> str:
            status: str = await conn.execute(sql, *args)
            return status

        return await self._do(doing, run, fenced=fenced)

    # -- meta ----------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async def run(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
            return None if value is None else str(value)

        return await self._do("read a stored value", run, tx=False)

    async def add_meta(self, key: str, value: str) -> str:
        async def run(conn: asyncpg.Connection) -> str:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, value
            )
            return str(await conn.fetchval("SELECT value FROM meta WHERE key = $1", key))

        return await self._do("save a stored value", run)

    async def set_meta(self, key: str, value: str, *, leader_only: bool = True) -> None:
        await self._exec("save a stored value", _UPSERT_META, key, value, fenced=leader_only)


def postgres_holder(started: datetime, node: str = "") -> str:
    """The application_name of a daemon's lock connection: who holds the node, for the
    refusal message of a second daemon (PostgreSQL keeps 63 bytes of it)."""
    who = f"node {node} " if node else ""
    return f"monitord {who}pid {os.getpid()} on {socket.gethostname()} since {started:%H:%M:%S}Z"


async def node_lock_holders(conn: asyncpg.Connection) -> str | None:
    """Who holds a node lock on this database (any node), or None when no daemon runs."""
    holder = await conn.fetchval(_NODE_LOCK_HOLDER, NODE_LOCK_CLASS, None)
    return None if holder is None else str(holder)
