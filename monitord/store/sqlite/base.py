"""The SQLite store's core: one connection on one dedicated thread, open/close, the write path.

The event loop never touches the disk: each operation is a job on a single-worker executor
that owns the only connection, so jobs run one at a time in the order they were submitted.
Probe results are batched on the loop side and committed together by a background flusher;
a write that carries notifications or an incident is committed at once, in the same
transaction as the state and the pending batch, so order per key always holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog

from monitord import limits
from monitord.errors import StoreError
from monitord.notify.base import Notification
from monitord.store.base import IncidentRow, ResultRow
from monitord.store.batching import WriteBatch
from monitord.store.migrations import migrate
from monitord.store.sqlite.codec import (
    _dumps,
    _Entry,
    _incident_params,
    _IncidentParams,
    _merge,
    _outbox_params,
    _OutboxParams,
    _result_params,
    _ResultParams,
    to_iso,
)

STORE_BUSY_TIMEOUT = timedelta(seconds=5)
"""How long a statement waits for a lock held by another process (``monitord status`` reading,
a backup tool) before failing: long enough for any such reader, short enough to be noticed."""

_P = ParamSpec("_P")
_T = TypeVar("_T")

# SQL is written out literally (no string building), statuses bound as parameters.
_UPSERT_STATE = (
    "INSERT INTO check_state (key, state, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated = excluded.updated"
)
_UPSERT_RESULT = (
    "INSERT INTO latest_result "
    "(key, client, site, check_id, ok, message, warning, duration, at, details) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET client = excluded.client, site = excluded.site, "
    "check_id = excluded.check_id, ok = excluded.ok, message = excluded.message, "
    "warning = excluded.warning, duration = excluded.duration, at = excluded.at, "
    "details = excluded.details"
)
_UPSERT_INCIDENT = (
    "INSERT INTO incident "
    "(id, key, client, site, check_id, started, ended, summary, last_message) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET key = excluded.key, client = excluded.client, "
    "site = excluded.site, check_id = excluded.check_id, started = excluded.started, "
    "ended = excluded.ended, summary = excluded.summary, last_message = excluded.last_message"
)
# An item is never due before the open items ahead of it to the same destination (notifier
# and recipient) in its thread, so "in order per destination" only ever waits for items that
# are due themselves: a recovery sent "always" still follows its DOWN held to office hours.
_INSERT_OUTBOX = (
    "INSERT INTO outbox (key, notifier, notification, due_at, created, updated, status, "
    "thread, recipient, grp) "
    "VALUES (?1, ?2, ?3, max(?4, COALESCE((SELECT MAX(p.due_at) FROM outbox p "
    "  WHERE p.notifier = ?2 AND p.recipient = ?7 AND p.thread = ?6 "
    "    AND p.status IN ('pending', 'sending')), '')), "
    "?5, ?5, 'pending', ?6, ?7, ?8) ON CONFLICT (key) DO NOTHING"
)
_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class SqliteBase:
    """The connection, its thread and the write path; the other parts of the store
    (checks, outbox, security, tickets, retention) are mixins over it."""

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = limits.STORE_BATCH_SIZE,
        flush_interval: timedelta = limits.STORE_FLUSH_INTERVAL,
    ) -> None:
        self.path = Path(path)
        self._batch: WriteBatch[_ResultParams, str] = WriteBatch(batch_size, flush_interval)
        self._log = structlog.get_logger("monitord.store").bind(path=str(self.path))
        self._executor: ThreadPoolExecutor | None = None
        self._flusher: asyncio.Task[None] | None = None
        # Touched only on the store thread:
        self._conn: sqlite3.Connection | None = None
        self._carry: dict[str, _Entry] = {}
        self.commits = 0
        """Transactions committed since open (read it to see batching at work)."""
        self.flushed = asyncio.Event()
        """Set after each background flush; a test or benchmark may clear and await it."""
        self.flush_listeners: list[Callable[[StoreError | None], None]] = []
        """Told after each background flush: its error, or None when it committed (the
        daemon's store health, monitord.pipeline)."""

    # -- the store thread ------------------------------------------------------------------

    async def _run(
        self, doing: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        if self._executor is None:
            raise StoreError(f"the state store {self.path} is not open; call open() first")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        except sqlite3.Error as exc:
            raise StoreError(
                f"the state store {self.path} could not {doing}: {exc}. Check that the file "
                "and its directory are writable, the disk has room, and no other program "
                "holds the file locked."
            ) from exc

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the state store {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.execute("COMMIT")
        self.commits += 1

    def _open_sync(self) -> None:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=STORE_BUSY_TIMEOUT.total_seconds(),
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the state store {self.path}: {exc}; check the path in "
                "state.path and that its directory is writable"
            ) from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(STORE_BUSY_TIMEOUT.total_seconds() * 1000)}")
            try:
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"{self.path} is not a monitord state store ({exc}); move it away or set "
                    "state.path to another file"
                ) from exc
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"the state store {self.path} cannot use write-ahead logging (journal mode "
                    f"is {mode!r}); put it on a local disk, not a network file system"
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._carry = {}

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit_sync(
        self,
        batch: dict[str, _Entry],
        durable: list[tuple[str, _Entry]] | None,
        incident: _IncidentParams | None,
        outbox: list[_OutboxParams],
    ) -> None:
        batch = _merge(self._carry, batch)
        self._carry = {}
        if not batch and durable is None and incident is None and not outbox:
            return
        entries = list(batch.items())
        if durable is not None:
            entries += durable
        try:
            with self._tx() as conn:
                conn.executemany(_UPSERT_STATE, [(k, e.state, e.now) for k, e in entries])
                results = [e.result for _, e in entries if e.result is not None]
                if results:
                    conn.executemany(_UPSERT_RESULT, results)
                if incident is not None:
                    conn.execute(_UPSERT_INCIDENT, incident)
                if outbox:
                    conn.executemany(_INSERT_OUTBOX, outbox)
        except BaseException:
            # Keep the batched rows for the next commit (they are older than anything queued
            # since); a durable write's own rows are not kept: its caller gets the error.
            self._carry = _merge(batch, self._carry)
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._executor is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create {self.path.parent} for the state store: {exc.strerror}; "
                "create it, or set state.path to a writable place"
            ) from exc
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitord-store")
        try:
            await self._run("be opened", self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self.commits = 0
        self._flusher = asyncio.create_task(self._flush_loop(), name="monitord-store-flusher")

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        try:
            await self.flush()
        finally:
            try:
                await self._run("be closed", self._close_sync)
            finally:
                self._executor.shutdown(wait=False)
                self._executor = None

    # -- states and results ------------------------------------------------------------------

    def _take_pending(self) -> dict[str, _Entry]:
        return self._batch.take()

    async def flush(self) -> None:
        """Commit the batched writes now (one transaction)."""
        # Take the batch and submit its job without yielding, so no write slips between.
        batch = self._take_pending()
        await self._run("save check states", self._commit_sync, batch, None, None, [])

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
        if self._executor is None:
            raise StoreError(f"the state store {self.path} is not open; call open() first")
        now_s = to_iso(now)
        # Serialise now: the caller may change its dict after we return.
        entry = _Entry(
            _dumps(state, what=f"state of {key!r}"),
            _result_params(result) if result is not None else None,
            now_s,
        )
        if notifications or incident is not None or also:
            outbox = _outbox_params(notifications, now_s, now_s)
            inc = _incident_params(incident) if incident is not None else None
            durable = [(key, entry)]
            durable += [
                (k, _Entry(_dumps(v, what=f"state of {k!r}"), None, now_s))
                for k, v in (also or {}).items()
            ]
            batch = self._take_pending()
            await self._run(
                "save a check state with its notifications",
                self._commit_sync,
                batch,
                durable,
                inc,
                outbox,
            )
            return
        self._batch.add(key, entry)

    def _update_sync(self, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> None:
        with self._tx() as conn:
            conn.execute(sql, params)

    # -- meta --------------------------------------------------------------------------------

    def _get_meta_sync(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    async def get_meta(self, key: str) -> str | None:
        return await self._run("read a stored value", self._get_meta_sync, key)

    def _add_meta_sync(self, key: str, value: str) -> str:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, value)
            )
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"])

    async def add_meta(self, key: str, value: str) -> str:
        return await self._run("save a stored value", self._add_meta_sync, key, value)

    async def set_meta(self, key: str, value: str, *, leader_only: bool = True) -> None:
        await self._run("save a stored value", self._update_sync, _UPSERT_META, (key, value))
