"""The PostgreSQL store: the same Protocols and semantics as store.sqlite, on asyncpg.

One connection does the store's work, one operation at a time in call order (an asyncio lock,
fair to waiters), as SqliteStore's single thread does: writes to one key are applied in call
order and a durable write commits the pending batch with it. Probe results are batched and
committed by a background flusher. A connection that breaks is dropped and made again on the
next operation; the failed operation raises StoreError (the batch is kept for the next commit).

With ``exclusive=True`` (the daemon) the store also holds a session advisory lock on its own
connection for its whole life: one daemon per store, as the SQLite store's lock file gives.
Several nodes on one database come with leadership, which is not built yet.

asyncpg was chosen over psycopg 3 by measurement (bench/bench_pg_driver.py,
docs/benchmarks.md): about half the time and the client CPU for a batch of 500 upserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import structlog

from monitord import limits
from monitord.clock import utcnow
from monitord.errors import StoreError
from monitord.notify.base import Notification
from monitord.redact import display_url
from monitord.store.base import (
    OUTBOX_STATUSES,
    AdvisoryRow,
    DecisionRow,
    IncidentRow,
    LocalTicketRow,
    OutboxItem,
    OutboxStats,
    PatchItemRow,
    Pruned,
    ResultRow,
    SecurityChanges,
    TicketNoteRow,
    TicketOutcome,
    TicketRefRow,
)
from monitord.store.pg_migrations import pg_migrate
from monitord.store.sqlite import (
    PRUNE_BATCH,
    PRUNED_META_PREFIX,
    notification_from_json,
    notification_to_json,
)
from monitord.store.sqlite.codec import _dumps

PG_CONNECT_TIMEOUT = timedelta(seconds=10)
"""How long opening a connection may take: a database across a WAN answers in well under a
second; longer means it is down or unreachable, and the caller should hear so."""

PG_STATEMENT_TIMEOUT = timedelta(seconds=30)
"""A statement that runs longer is cancelled by the server (statement_timeout): the biggest,
a 2,000-row retention batch, takes milliseconds; 30 s is a stuck lock or a sick server."""

DAEMON_LOCK_KEY = 0x6D6F6E69_746F7202
"""pg_try_advisory_lock key of the one-daemon guarantee ('monitor' + 2)."""

SCHEMES = ("postgresql", "postgres")

_T = TypeVar("_T")

_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware UTC datetime to the store")
    return dt.astimezone(UTC)


def _opt(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.astimezone(UTC)


_OutboxArgs = tuple[str, str, str, datetime, datetime, str, str, str | None]


def _outbox_args(ns: Sequence[Notification], created: datetime, due: datetime) -> list[_OutboxArgs]:
    return [
        (
            n.key,
            n.notifier,
            notification_to_json(n),
            max(due, _utc(n.due_at)) if n.due_at is not None else due,
            created,
            n.event.thread,
            n.recipient.lower(),
            n.group,
        )
        for n in ns
    ]


_ResultArgs = tuple[str, str, str, str, bool, str, str | None, float, datetime, str]


def _result_args(r: ResultRow) -> _ResultArgs:
    return (
        r.key,
        r.client,
        r.site,
        r.check,
        bool(r.ok),
        r.message,
        r.warning,
        float(r.duration),
        _utc(r.at),
        _dumps(r.details, what=f"details of the result for {r.key!r}"),
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    state: str
    result: _ResultArgs | None
    now: datetime

    def superseded_by(self, newer: _Entry) -> _Entry:
        return _Entry(
            newer.state, newer.result if newer.result is not None else self.result, newer.now
        )


def _merge(older: dict[str, _Entry], newer: dict[str, _Entry]) -> dict[str, _Entry]:
    if not older:
        return newer
    out = dict(older)
    for key, entry in newer.items():
        prev = out.get(key)
        out[key] = entry if prev is None else prev.superseded_by(entry)
    return out


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
_CLAIM_OUTBOX = (
    "UPDATE outbox SET status = 'sending', claimed_at = $1, updated = $1, "
    "attempts = attempts + 1, run_id = $2, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox o "
    "  WHERE status = 'pending' AND due_at <= $1 AND NOT (notifier = ANY($4::text[])) "
    "    AND NOT EXISTS (SELECT 1 FROM outbox p "
    "      WHERE p.notifier = o.notifier AND p.recipient = o.recipient "
    "        AND p.thread = o.thread AND p.id < o.id "
    "        AND p.status IN ('pending', 'sending')) "
    "  ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_CLAIM_GROUP = (
    "UPDATE outbox SET status = 'sending', claimed_at = $1, updated = $1, "
    "attempts = attempts + 1, run_id = $2, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND due_at <= $1 "
    "  AND grp = $3 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_MARK_ATTEMPT = (
    "UPDATE outbox SET attempt_started = $2, updated = $2 "
    "WHERE id = ANY($1::bigint[]) AND status = 'sending' AND run_id = $3"
)
_RECOVER_UNSTARTED = (
    "UPDATE outbox SET status = 'pending', attempts = GREATEST(attempts - 1, 0), "
    "run_id = NULL, updated = $2 WHERE status = 'sending' AND run_id IS DISTINCT FROM $1 "
    "AND claimed_at <= $3 AND attempt_started IS NULL"
)
_RECOVER_UNCERTAIN = (
    "UPDATE outbox SET run_id = $1, claimed_at = $2, updated = $2 "
    "WHERE status = 'sending' AND run_id IS DISTINCT FROM $1 AND claimed_at <= $3 "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_SELECT_OUTBOX = (
    "SELECT id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id FROM outbox WHERE ($1::text IS NULL OR status = $1) "
    "ORDER BY id DESC LIMIT $2"
)
_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = $2, updated = $2, external_id = $3, "
    "last_error = NULL WHERE id = $1"
)
_MARK_RETRY = (
    "UPDATE outbox SET status = 'pending', due_at = $3, last_error = $4, updated = $2 "
    "WHERE id = $1 AND status = 'sending'"
)
_MARK_FAILED = (
    "UPDATE outbox SET status = 'failed', last_error = $3, updated = $2 "
    "WHERE id = $1 AND status <> 'sent'"
)
_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_UPSERT_ADVISORY = (
    "INSERT INTO advisory (id, source, fingerprint, data, first_seen, last_seen, history) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (id, source) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "data = excluded.data, last_seen = excluded.last_seen, history = excluded.history"
)
_UPSERT_DECISION = (
    "INSERT INTO advisory_decision "
    "(advisory, site, client, fingerprint, installed, decision, patch_day, reason, decided_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (advisory, site) DO UPDATE SET client = excluded.client, "
    "fingerprint = excluded.fingerprint, installed = excluded.installed, "
    "decision = excluded.decision, patch_day = excluded.patch_day, reason = excluded.reason, "
    "decided_at = excluded.decided_at"
)
_SELECT_QUEUE = (
    "SELECT site, advisory, client, project, installed, fixed, link, patch_day, queued_at, "
    "ticketed_at FROM patch_queue WHERE (NOT $1::boolean OR ticketed_at IS NULL) "
    "ORDER BY patch_day, site, advisory"
)
_UPSERT_QUEUE = (
    "INSERT INTO patch_queue "
    "(site, advisory, client, project, installed, fixed, link, patch_day, queued_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (site, advisory) DO UPDATE SET client = excluded.client, "
    "project = excluded.project, installed = excluded.installed, fixed = excluded.fixed, "
    "link = excluded.link, patch_day = excluded.patch_day "
    "WHERE patch_queue.ticketed_at IS NULL"
)
_DELETE_QUEUE = "DELETE FROM patch_queue WHERE site = $1 AND advisory = $2 AND ticketed_at IS NULL"
_TICKET_QUEUE = (
    "UPDATE patch_queue SET ticketed_at = $1 WHERE site = $2 AND advisory = $3 "
    "AND ticketed_at IS NULL"
)
_TICKET_SELECT = (
    "SELECT id, thread, client, site, check_id, kind, priority, title, body, opened_at, "
    "respond_by, status, acked_at, acked_by, resolved_at, reminded_at FROM ticket "
)
_SELECT_TICKETS = (
    _TICKET_SELECT + "WHERE (NOT $1::boolean OR status <> 'resolved') "
    "AND ($2::text IS NULL OR client = $2) ORDER BY id DESC LIMIT $3"
)
_SELECT_TICKET_BY_ID = _TICKET_SELECT + "WHERE id = $1"
_SELECT_TICKET_BY_THREAD = _TICKET_SELECT + "WHERE thread = $1"
_INSERT_TICKET = (
    "INSERT INTO ticket (thread, client, site, check_id, kind, priority, title, body, "
    "opened_at, respond_by, status, updated) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11) RETURNING id"
)
_INSERT_NOTE = (
    "INSERT INTO ticket_note (ticket_id, key, at, kind, text, by) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING"
)
_ACK_TICKET = (
    "UPDATE ticket SET status = 'acked', acked_at = $2, acked_by = $3, updated = $2 "
    "WHERE id = $1 AND status = 'open'"
)
_RESOLVE_TICKET = (
    "UPDATE ticket SET status = 'resolved', resolved_at = $2, updated = $2 "
    "WHERE id = $1 AND status <> 'resolved'"
)
_REMIND_TICKET = (
    "UPDATE ticket SET reminded_at = $2, updated = $2 "
    "WHERE id = $1 AND status = 'open' AND reminded_at IS NULL"
)
_UPSERT_REF = (
    "INSERT INTO ticket_ref (notifier, thread, external_id, created) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (notifier, thread) DO NOTHING"
)
_RESOLVE_REF = (
    "UPDATE ticket_ref SET resolved_at = $1 WHERE notifier = $2 AND thread = $3 "
    "AND resolved_at IS NULL"
)
_INSERT_APPLIED = (
    "INSERT INTO ticket_applied (notifier, key, external_id, at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (notifier, key) DO NOTHING"
)
_PRUNE_OUTBOX = (
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
    "WHERE status = $3 AND updated < $1 LIMIT $2) RETURNING notifier"
)
_COUNT_PRUNED = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + excluded.value::bigint)::text"
)
_PRUNE_INCIDENTS = (
    "DELETE FROM incident WHERE id IN (SELECT id FROM incident "
    "WHERE started < $1 AND ended IS NOT NULL AND ended < $1 ORDER BY started LIMIT $2)"
)
_PRUNE_QUEUE = (
    "DELETE FROM patch_queue WHERE (site, advisory) IN (SELECT site, advisory FROM patch_queue "
    "WHERE ticketed_at IS NOT NULL AND ticketed_at < $1 LIMIT $2)"
)
_PRUNE_APPLIED = (
    "DELETE FROM ticket_applied WHERE (notifier, key) IN (SELECT notifier, key "
    "FROM ticket_applied WHERE at < $1 LIMIT $2)"
)
_RESOLVED_TICKETS = "SELECT id FROM ticket WHERE status = 'resolved' AND resolved_at < $1 LIMIT $2"
_PRUNE_TICKET_REFS = (
    "DELETE FROM ticket_ref WHERE (notifier, thread) IN (SELECT notifier, thread "
    "FROM ticket_ref WHERE resolved_at IS NOT NULL AND resolved_at < $1 LIMIT $2)"
)


def _affected(status: str) -> int:
    """Rows an asyncpg command status (``UPDATE 3``, ``DELETE 0``) names."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _result_row(row: asyncpg.Record) -> ResultRow:
    return ResultRow(
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        ok=bool(row["ok"]),
        message=row["message"],
        warning=row["warning"],
        duration=row["duration"],
        at=row["at"].astimezone(UTC),
        details=json.loads(row["details"]),
    )


def _incident_row(row: asyncpg.Record) -> IncidentRow:
    return IncidentRow(
        id=row["id"],
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        started=row["started"].astimezone(UTC),
        ended=_opt(row["ended"]),
        summary=row["summary"],
        last_message=row["last_message"],
    )


def _outbox_item(row: asyncpg.Record) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        key=row["key"],
        notifier=row["notifier"],
        notification=notification_from_json(row["notification"]),
        attempts=row["attempts"],
        due_at=row["due_at"].astimezone(UTC),
        status=row["status"],
        last_error=row["last_error"],
        created=row["created"].astimezone(UTC),
        external_id=row["external_id"],
    )


def _ticket_row(row: asyncpg.Record) -> LocalTicketRow:
    return LocalTicketRow(
        id=row["id"],
        thread=row["thread"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        kind=row["kind"],
        priority=row["priority"],
        title=row["title"],
        body=row["body"],
        opened_at=row["opened_at"].astimezone(UTC),
        respond_by=row["respond_by"].astimezone(UTC),
        status=row["status"],
        acked_at=_opt(row["acked_at"]),
        acked_by=row["acked_by"],
        resolved_at=_opt(row["resolved_at"]),
        reminded_at=_opt(row["reminded_at"]),
    )


def _sorted(items: list[OutboxItem]) -> list[OutboxItem]:
    return sorted(items, key=lambda i: (i.due_at, i.id))


async def pg_connect(url: str, application: str = "monitord") -> asyncpg.Connection:
    """One connection to ``url`` with the store's timeouts."""
    conn: asyncpg.Connection = await asyncpg.connect(
        url,
        timeout=PG_CONNECT_TIMEOUT.total_seconds(),
        command_timeout=PG_STATEMENT_TIMEOUT.total_seconds() + 5,
        server_settings={
            "application_name": application[:63],
            "statement_timeout": str(int(PG_STATEMENT_TIMEOUT.total_seconds() * 1000)),
            "TimeZone": "UTC",
        },
    )
    return conn


class PostgresStore:
    """The store (store.base: Store, SecurityStore, TicketStore) in a PostgreSQL database."""

    def __init__(
        self,
        url: str,
        *,
        exclusive: bool = False,
        holder: str = "",
        batch_size: int = limits.STORE_BATCH_SIZE,
        flush_interval: timedelta = limits.STORE_FLUSH_INTERVAL,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.url = url
        self.where = display_url(url)
        """The database as it may be shown (password masked)."""
        self._exclusive = exclusive
        self._holder = holder
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._log = structlog.get_logger("monitord.store").bind(store=self.where)
        self._conn: asyncpg.Connection | None = None
        self._lock_conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._open = False
        self._flusher: asyncio.Task[None] | None = None
        self._pending: dict[str, _Entry] = {}
        self._carry: dict[str, _Entry] = {}
        self._has_pending = asyncio.Event()
        self._full = asyncio.Event()
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
            await self._take_daemon_lock()
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
    ) -> _T:
        if not self._open:
            raise StoreError(f"the state store {self.where} is not open; call open() first")
        async with self._lock:
            try:
                conn = await self._connection()
                if not tx:
                    return await fn(conn)
                async with conn.transaction():
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

    async def _take_daemon_lock(self) -> None:
        me = self._holder or f"monitord pid {os.getpid()} on host {socket.gethostname()}"
        conn = await pg_connect(self.url, application=me)
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", DAEMON_LOCK_KEY)
            if not got:
                holder = await conn.fetchval(
                    "SELECT a.application_name || ' (from ' || "
                    "COALESCE(host(a.client_addr), 'a local socket') || ', connected ' || "
                    "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || "
                    "' UTC)' FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
                    DAEMON_LOCK_KEY,
                )
                raise StoreError(
                    f"another monitord is already running on the store {self.where}: "
                    f"{holder or 'a process that has just let go or is starting'}. Only one "
                    "daemon may use a store (two would send every notice twice; several "
                    "nodes on one database are not supported yet). Stop that one first "
                    "(systemctl stop monitord on its host), or give this one its own "
                    "state.url."
                )
        except BaseException:
            conn.terminate()
            raise
        self._lock_conn = conn

    async def open(self) -> None:
        if self._open:
            return
        try:
            if self._exclusive:
                await self._take_daemon_lock()
            conn = await pg_connect(self.url)
            try:
                await pg_migrate(conn, self.where, utcnow())
            except BaseException:
                conn.terminate()
                raise
        except StoreError:
            await self._release_daemon_lock()
            raise
        except _DB_ERRORS as exc:
            await self._release_daemon_lock()
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

    async def _release_daemon_lock(self) -> None:
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
            await self._release_daemon_lock()

    # -- states and results --------------------------------------------------------------------

    def _take_pending(self) -> dict[str, _Entry]:
        batch, self._pending = self._pending, {}
        self._has_pending.clear()
        self._full.clear()
        return batch

    async def _commit(
        self,
        doing: str,
        batch: dict[str, _Entry],
        durable: list[tuple[str, _Entry]] | None,
        incident: IncidentRow | None,
        outbox: list[_OutboxArgs],
    ) -> None:
        async def run(conn: asyncpg.Connection) -> None:
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
        interval = self._flush_interval.total_seconds()
        while True:
            await self._has_pending.wait()
            if not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), timeout=interval)
            error: StoreError | None = None
            try:
                await self.flush()
            except StoreError as exc:
                error = exc
                self._log.error(
                    "store.flush_failed",
                    error=str(exc),
                    hint="the batched results are kept and written with the next commit",
                )
            for listener in self.flush_listeners:
                listener(error)
            self.flushed.set()

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
        prev = self._pending.get(key)
        self._pending[key] = entry if prev is None else prev.superseded_by(entry)
        self._has_pending.set()
        if len(self._pending) >= self._batch_size:
            self._full.set()

    async def load_states(self) -> dict[str, dict[str, Any]]:
        await self.flush()

        async def run(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
            rows = await conn.fetch("SELECT key, state FROM check_state")
            return {r["key"]: json.loads(r["state"]) for r in rows}

        return await self._do("read check states", run, tx=False)

    async def latest_results(self) -> dict[str, ResultRow]:
        await self.flush()

        async def run(conn: asyncpg.Connection) -> dict[str, ResultRow]:
            rows = await conn.fetch(
                "SELECT key, client, site, check_id, ok, message, warning, duration, at, "
                "details FROM latest_result"
            )
            return {r["key"]: _result_row(r) for r in rows}

        return await self._do("read latest results", run, tx=False)

    # -- incidents ---------------------------------------------------------------------------------

    async def open_incidents(self) -> list[IncidentRow]:
        async def run(conn: asyncpg.Connection) -> list[IncidentRow]:
            rows = await conn.fetch(
                "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
                "FROM incident WHERE ended IS NULL ORDER BY started, id"
            )
            return [_incident_row(r) for r in rows]

        return await self._do("read incidents", run, tx=False)

    async def incidents(self, limit: int = 100) -> list[IncidentRow]:
        async def run(conn: asyncpg.Connection) -> list[IncidentRow]:
            rows = await conn.fetch(
                "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
                "FROM incident ORDER BY started DESC, id DESC LIMIT $1",
                limit,
            )
            return [_incident_row(r) for r in rows]

        return await self._do("read incidents", run, tx=False)

    # -- outbox ------------------------------------------------------------------------------------

    @staticmethod
    async def _insert_outbox(conn: asyncpg.Connection, rows: Sequence[_OutboxArgs]) -> int:
        new = 0
        for args in rows:  # one by one: each row's due time sees the rows before it
            if await conn.fetchval(_INSERT_OUTBOX, *args) is not None:
                new += 1
        return new

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        due_at: datetime | None = None,
    ) -> int:
        at = _utc(now)
        rows = _outbox_args(notifications, at, _utc(due_at) if due_at else at)
        if not rows:
            return 0
        return await self._do(
            "add notifications to the outbox", lambda c: self._insert_outbox(c, rows)
        )

    async def claim_due(
        self, now: datetime, limit: int, run_id: str = "", busy: Collection[str] = ()
    ) -> list[OutboxItem]:
        if limit < 1:
            return []
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            rows = await conn.fetch(_CLAIM_OUTBOX, at, run_id, limit, sorted(busy))
            return _sorted([_outbox_item(r) for r in rows])

        return await self._do("claim outbox items", run)

    async def claim_group(self, group: str, now: datetime, run_id: str = "") -> list[OutboxItem]:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            rows = await conn.fetch(_CLAIM_GROUP, at, run_id, group)
            return _sorted([_outbox_item(r) for r in rows])

        return await self._do("claim outbox items of a group", run)

    async def _exec(self, doing: str, sql: str, *args: Any) -> str:
        async def run(conn: asyncpg.Connection) -> str:
            status: str = await conn.execute(sql, *args)
            return status

        return await self._do(doing, run)

    async def mark_attempt(self, item_ids: Sequence[int], now: datetime, run_id: str) -> None:
        await self._exec(
            "record a delivery attempt", _MARK_ATTEMPT, list(item_ids), _utc(now), run_id
        )

    async def recover(
        self, run_id: str, now: datetime, claimed_before: datetime
    ) -> list[OutboxItem]:
        at, before = _utc(now), _utc(claimed_before)

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            await conn.execute(_RECOVER_UNSTARTED, run_id, at, before)
            rows = await conn.fetch(_RECOVER_UNCERTAIN, run_id, at, before)
            return _sorted([dataclasses.replace(_outbox_item(r), uncertain=True) for r in rows])

        return await self._do("recover unfinished deliveries", run)

    async def mark_sent(self, item_id: int, now: datetime, external_id: str | None) -> None:
        await self._exec("record a delivery", _MARK_SENT, item_id, _utc(now), external_id)

    async def mark_retry(self, item_id: int, now: datetime, due_at: datetime, error: str) -> None:
        await self._exec(
            "record a delivery failure", _MARK_RETRY, item_id, _utc(now), _utc(due_at), error
        )

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None:
        await self._exec("record a failed delivery", _MARK_FAILED, item_id, _utc(now), error)

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> OutboxStats:
            depth, oldest = await conn.fetchrow(
                "SELECT COUNT(*), MIN(created) FROM outbox WHERE status IN ('pending', 'sending')"
            )
            failed = await conn.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            age = max(0.0, (at - oldest).total_seconds()) if oldest is not None else 0.0
            return OutboxStats(depth=int(depth), oldest_age_seconds=age, failed=int(failed))

        return await self._do("read outbox statistics", run, tx=False)

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        if status is not None and status not in OUTBOX_STATUSES:
            raise ValueError(
                f"unknown outbox status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}"
            )

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            return [_outbox_item(r) for r in await conn.fetch(_SELECT_OUTBOX, status, limit)]

        return await self._do("read the outbox", run, tx=False)

    # -- meta ----------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async def run(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
            return None if value is None else str(value)

        return await self._do("read a stored value", run, tx=False)

    async def set_meta(self, key: str, value: str) -> None:
        await self._exec("save a stored value", _UPSERT_META, key, value)

    # -- security advisories, decisions, the patch-day queue -------------------------------------

    async def load_advisories(self) -> list[AdvisoryRow]:
        async def run(conn: asyncpg.Connection) -> list[AdvisoryRow]:
            rows = await conn.fetch(
                "SELECT id, source, fingerprint, data, first_seen, last_seen, history "
                "FROM advisory ORDER BY id, source"
            )
            return [
                AdvisoryRow(
                    id=r["id"],
                    source=r["source"],
                    fingerprint=r["fingerprint"],
                    data=json.loads(r["data"]),
                    first_seen=r["first_seen"].astimezone(UTC),
                    last_seen=r["last_seen"].astimezone(UTC),
                    history=tuple(json.loads(r["history"])),
                )
                for r in rows
            ]

        return await self._do("read advisories", run, tx=False)

    async def load_decisions(self) -> dict[tuple[str, str], DecisionRow]:
        async def run(conn: asyncpg.Connection) -> dict[tuple[str, str], DecisionRow]:
            rows = await conn.fetch(
                "SELECT advisory, site, client, fingerprint, installed, decision, patch_day, "
                "reason, decided_at FROM advisory_decision"
            )
            return {
                (r["advisory"], r["site"]): DecisionRow(
                    advisory=r["advisory"],
                    site=r["site"],
                    client=r["client"],
                    fingerprint=r["fingerprint"],
                    installed=r["installed"],
                    decision=r["decision"],
                    patch_day=_opt(r["patch_day"]),
                    reason=r["reason"],
                    decided_at=r["decided_at"].astimezone(UTC),
                )
                for r in rows
            }

        return await self._do("read advisory decisions", run, tx=False)

    async def patch_queue(self, *, pending_only: bool = True) -> list[PatchItemRow]:
        async def run(conn: asyncpg.Connection) -> list[PatchItemRow]:
            return [
                PatchItemRow(
                    site=r["site"],
                    advisory=r["advisory"],
                    client=r["client"],
                    project=r["project"],
                    installed=r["installed"],
                    fixed=r["fixed"],
                    link=r["link"],
                    patch_day=r["patch_day"].astimezone(UTC),
                    queued_at=r["queued_at"].astimezone(UTC),
                    ticketed_at=_opt(r["ticketed_at"]),
                )
                for r in await conn.fetch(_SELECT_QUEUE, pending_only)
            ]

        return await self._do("read the patch-day queue", run, tx=False)

    async def save_security(self, changes: SecurityChanges, now: datetime) -> int:
        at = _utc(now)
        advisories = [
            (
                a.id,
                a.source,
                a.fingerprint,
                _dumps(a.data, what=f"advisory {a.id!r}"),
                _utc(a.first_seen),
                _utc(a.last_seen),
                _dumps(list(a.history), what=f"history of advisory {a.id!r}"),
            )
            for a in changes.advisories
        ]
        decisions = [
            (
                d.advisory,
                d.site,
                d.client,
                d.fingerprint,
                d.installed,
                d.decision,
                _utc(d.patch_day) if d.patch_day else None,
                d.reason,
                _utc(d.decided_at),
            )
            for d in changes.decisions
        ]
        queue_add = [
            (
                q.site,
                q.advisory,
                q.client,
                q.project,
                q.installed,
                q.fixed,
                q.link,
                _utc(q.patch_day),
                _utc(q.queued_at),
            )
            for q in changes.queue_add
        ]
        outbox = [
            row for n, due in changes.notifications for row in _outbox_args([n], at, _utc(due))
        ]

        async def run(conn: asyncpg.Connection) -> int:
            if advisories:
                await conn.executemany(_UPSERT_ADVISORY, advisories)
            if decisions:
                await conn.executemany(_UPSERT_DECISION, decisions)
            if queue_add:
                await conn.executemany(_UPSERT_QUEUE, queue_add)
            if changes.queue_remove:
                await conn.executemany(_DELETE_QUEUE, list(changes.queue_remove))
            if changes.ticketed:
                await conn.executemany(
                    _TICKET_QUEUE, [(at, site, adv) for site, adv in changes.ticketed]
                )
            return await self._insert_outbox(conn, outbox)

        return await self._do("save advisory decisions", run)

    # -- local tickets -------------------------------------------------------------------------

    async def apply_local_ticket(
        self, ticket: Any, key: str, resolving: bool, text: str, now: datetime
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        """See store.base.TicketStore.apply_local_ticket."""
        from monitord.tickets import OUTCOMES, plan_action

        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> tuple[TicketOutcome, LocalTicketRow | None]:
            found = await conn.fetchrow(_SELECT_TICKET_BY_THREAD, ticket.thread)
            applied = (
                await conn.fetchval("SELECT 1 FROM ticket_note WHERE key = $1", key) is not None
            )
            action = plan_action(resolving, found is not None, applied)
            if action == "open":
                tid = await conn.fetchval(
                    _INSERT_TICKET,
                    ticket.thread,
                    ticket.client,
                    ticket.site,
                    ticket.check,
                    ticket.kind,
                    ticket.priority,
                    ticket.title,
                    ticket.body,
                    _utc(ticket.opened_at),
                    _utc(ticket.respond_by),
                    at,
                )
                await conn.execute(_INSERT_NOTE, tid, key, at, "opened", text, None)
            elif action in ("comment", "resolve") and found is not None:
                kind = "recovered" if action == "resolve" else "comment"
                await conn.execute(_INSERT_NOTE, found["id"], key, at, kind, text, None)
                if action == "resolve":
                    await conn.execute(_RESOLVE_TICKET, found["id"], at)
            row = await conn.fetchrow(_SELECT_TICKET_BY_THREAD, ticket.thread)
            return OUTCOMES[action], (_ticket_row(row) if row is not None else None)

        return await self._do("record a ticket", run)

    async def local_tickets(
        self, *, open_only: bool = False, client: str | None = None, limit: int = 1000
    ) -> list[LocalTicketRow]:
        async def run(conn: asyncpg.Connection) -> list[LocalTicketRow]:
            rows = await conn.fetch(_SELECT_TICKETS, open_only, client, limit)
            return [_ticket_row(r) for r in rows]

        return await self._do("read tickets", run, tx=False)

    async def local_ticket(
        self, ticket_id: int
    ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        async def run(
            conn: asyncpg.Connection,
        ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
            row = await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id)
            if row is None:
                return None
            notes = [
                TicketNoteRow(
                    ticket_id=n["ticket_id"],
                    key=n["key"],
                    at=n["at"].astimezone(UTC),
                    kind=n["kind"],
                    text=n["text"],
                    by=n["by"],
                )
                for n in await conn.fetch(
                    "SELECT ticket_id, key, at, kind, text, by FROM ticket_note "
                    "WHERE ticket_id = $1 ORDER BY id",
                    ticket_id,
                )
            ]
            return _ticket_row(row), notes

        return await self._do("read a ticket", run)

    async def _change_ticket(
        self,
        doing: str,
        ticket_id: int,
        sql: str,
        kind: str,
        text: str,
        by: str | None,
        now: datetime,
    ) -> LocalTicketRow | None:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> LocalTicketRow | None:
            if await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id) is None:
                return None
            args: tuple[Any, ...] = (ticket_id, at, by) if sql == _ACK_TICKET else (ticket_id, at)
            if _affected(await conn.execute(sql, *args)):
                note_key = f"{kind}|{ticket_id}|{at.isoformat(timespec='microseconds')}"
                await conn.execute(_INSERT_NOTE, ticket_id, note_key, at, kind, text, by)
            return _ticket_row(await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id))

        return await self._do(doing, run)

    async def ack_local_ticket(
        self, ticket_id: int, by: str | None, now: datetime
    ) -> LocalTicketRow | None:
        text = f"acknowledged by {by}" if by else "acknowledged"
        return await self._change_ticket(
            "acknowledge a ticket", ticket_id, _ACK_TICKET, "ack", text, by, now
        )

    async def resolve_local_ticket(
        self, ticket_id: int, note: str | None, now: datetime
    ) -> LocalTicketRow | None:
        return await self._change_ticket(
            "resolve a ticket", ticket_id, _RESOLVE_TICKET, "resolve", note or "resolved", None, now
        )

    async def remind_local_tickets(
        self, reminders: Mapping[int, Sequence[Notification]], now: datetime
    ) -> int:
        at = _utc(now)
        rows = [(tid, _outbox_args(ns, at, at)) for tid, ns in reminders.items()]

        async def run(conn: asyncpg.Connection) -> int:
            marked = 0
            for ticket_id, outbox in rows:
                if not _affected(await conn.execute(_REMIND_TICKET, ticket_id, at)):
                    continue
                marked += 1
                text = f"overdue: {len(outbox)} reminder(s) queued"
                await conn.execute(
                    _INSERT_NOTE, ticket_id, f"reminder|{ticket_id}", at, "reminder", text, None
                )
                await self._insert_outbox(conn, outbox)
            return marked

        return await self._do("record ticket reminders", run)

    async def ticket_applied(self, notifier: str, key: str) -> str | None:
        async def run(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval(
                "SELECT external_id FROM ticket_applied WHERE notifier = $1 AND key = $2",
                notifier,
                key,
            )
            return None if value is None else str(value)

        return await self._do("read the ticket map", run, tx=False)

    async def ticket_ref(self, notifier: str, thread: str) -> TicketRefRow | None:
        async def run(conn: asyncpg.Connection) -> TicketRefRow | None:
            r = await conn.fetchrow(
                "SELECT notifier, thread, external_id, created, resolved_at FROM ticket_ref "
                "WHERE notifier = $1 AND thread = $2",
                notifier,
                thread,
            )
            if r is None:
                return None
            return TicketRefRow(
                notifier=r["notifier"],
                thread=r["thread"],
                external_id=r["external_id"],
                created=r["created"].astimezone(UTC),
                resolved_at=_opt(r["resolved_at"]),
            )

        return await self._do("read the ticket map", run, tx=False)

    async def record_ticket(
        self,
        notifier: str,
        thread: str,
        key: str | None,
        external_id: str,
        now: datetime,
        *,
        resolved: bool = False,
    ) -> None:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute(_UPSERT_REF, notifier, thread, external_id, at)
            if key is not None:
                await conn.execute(_INSERT_APPLIED, notifier, key, external_id, at)
            if resolved:
                await conn.execute(_RESOLVE_REF, at, notifier, thread)

        await self._do("record a ticket in the ticket map", run)

    # -- retention -------------------------------------------------------------------------------

    async def _prune_all(
        self, doing: str, fn: Callable[[asyncpg.Connection], Awaitable[int]]
    ) -> int:
        total = 0
        while True:
            n = await self._do(doing, fn)
            total += n
            if n < PRUNE_BATCH:
                return total

    def _prune_outbox(
        self, status: str, cutoff: datetime
    ) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            rows = await conn.fetch(_PRUNE_OUTBOX, cutoff, PRUNE_BATCH, status)
            counts: dict[str, int] = {}
            for r in rows:
                counts[str(r["notifier"])] = counts.get(str(r["notifier"]), 0) + 1
            if counts:
                await conn.executemany(
                    _COUNT_PRUNED,
                    [
                        (f"{PRUNED_META_PREFIX}{status}.{n}", str(c))
                        for n, c in sorted(counts.items())
                    ],
                )
            return len(rows)

        return run

    @staticmethod
    def _prune_sql(sql: str, cutoff: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            return _affected(await conn.execute(sql, cutoff, PRUNE_BATCH))

        return run

    @staticmethod
    def _prune_tickets(cutoff: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            ids = [r["id"] for r in await conn.fetch(_RESOLVED_TICKETS, cutoff, PRUNE_BATCH)]
            if ids:
                await conn.execute("DELETE FROM ticket_note WHERE ticket_id = ANY($1)", ids)
                await conn.execute("DELETE FROM ticket WHERE id = ANY($1)", ids)
            refs = _affected(await conn.execute(_PRUNE_TICKET_REFS, cutoff, PRUNE_BATCH))
            return max(len(ids), refs)

        return run

    async def prune(
        self,
        *,
        sent_before: datetime,
        failed_before: datetime,
        incidents_before: datetime,
    ) -> Pruned:
        """What SqliteStore.prune deletes, with the same retention and batches."""
        sent, failed, inc = _utc(sent_before), _utc(failed_before), _utc(incidents_before)
        return Pruned(
            sent=await self._prune_all(
                "prune delivered notifications", self._prune_outbox("sent", sent)
            ),
            failed=await self._prune_all(
                "prune failed notifications", self._prune_outbox("failed", failed)
            ),
            incidents=await self._prune_all(
                "prune ended incidents", self._prune_sql(_PRUNE_INCIDENTS, inc)
            ),
            patch_items=await self._prune_all(
                "prune ticketed patch-day items", self._prune_sql(_PRUNE_QUEUE, inc)
            ),
            ticket_applied=await self._prune_all(
                "prune ticket records", self._prune_sql(_PRUNE_APPLIED, sent)
            ),
            tickets=await self._prune_all("prune resolved tickets", self._prune_tickets(inc)),
        )


def postgres_holder(started: datetime) -> str:
    """The application_name of a daemon's lock connection: who holds the store, for the
    refusal message of a second daemon (PostgreSQL keeps 63 bytes of it)."""
    return f"monitord pid {os.getpid()} on {socket.gethostname()} since {started:%H:%M:%S}Z"
