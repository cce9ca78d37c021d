"""The SQLite store: one file, WAL mode, every statement on one dedicated thread.

The event loop never touches the disk: each operation is a job on a single-worker executor
that owns the only connection, so jobs run one at a time in the order they were submitted.
Probe results are batched on the loop side and committed together by a background flusher;
a write that carries notifications or an incident is committed at once, in the same
transaction as the state and the pending batch, so order per key always holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog

from monitord import limits
from monitord.errors import StoreError
from monitord.events import Event
from monitord.notify.base import Notification
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
from monitord.store.migrations import migrate

STORE_BUSY_TIMEOUT = timedelta(seconds=5)
"""How long a statement waits for a lock held by another process (``monitord status`` reading,
a backup tool) before failing: long enough for any such reader, short enough to be noticed."""

PRUNE_BATCH = 2000
"""Rows deleted per transaction by a retention pass: each batch holds the store's thread (and
the file's write lock) for milliseconds, so probe writes and sends interleave with a long pass."""

PRUNED_META_PREFIX = "pruned.outbox."
"""Meta rows ``pruned.outbox.<status>.<notifier>``: outbox rows pruned so far, so the
notifications-sent/failed counters (/metrics) never go down when old rows are deleted."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


def to_iso(dt: datetime) -> str:
    """The stored form of an instant: fixed-width UTC ISO 8601, so text order is time order."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware UTC datetime to the store")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{what} cannot be stored: it is not plain JSON ({exc}); "
            "use only strings, numbers, booleans, None, lists and dicts with string keys"
        ) from exc


def notification_to_json(n: Notification) -> str:
    return _dumps(
        {
            "key": n.key,
            "notifier": n.notifier,
            "recipient": n.recipient,
            "recipient_name": n.recipient_name,
            "event": n.event.to_json(),
            # Routing's hold time and storm group: only when set, so items stored without
            # them read back unchanged.
            **({"due_at": to_iso(n.due_at)} if n.due_at is not None else {}),
            **({"group": n.group} if n.group is not None else {}),
            **({"page": True} if n.page else {}),
        },
        what=f"notification {n.key!r}",
    )


def notification_from_json(text: str) -> Notification:
    d = json.loads(text)
    return Notification(
        key=d["key"],
        notifier=d["notifier"],
        recipient=d["recipient"],
        recipient_name=d["recipient_name"],
        event=Event.from_json(d["event"]),
        due_at=from_iso(d["due_at"]) if d.get("due_at") else None,
        group=d.get("group"),
        page=bool(d.get("page", False)),
    )


_ResultParams = tuple[str, str, str, str, int, str, str | None, float, str, str]
_IncidentParams = tuple[str, str, str, str, str, str, str | None, str, str]
_OutboxParams = tuple[str, str, str, str, str, str, str, str | None]
"""key, notifier, notification JSON, due_at, created, thread, recipient (lower case), group."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """One check's state and latest result, serialised, waiting to be committed."""

    state: str
    result: _ResultParams | None
    now: str

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


def _result_params(r: ResultRow) -> _ResultParams:
    return (
        r.key,
        r.client,
        r.site,
        r.check,
        int(r.ok),
        r.message,
        r.warning,
        float(r.duration),
        to_iso(r.at),
        _dumps(r.details, what=f"details of the result for {r.key!r}"),
    )


def _incident_params(i: IncidentRow) -> _IncidentParams:
    return (
        i.id,
        i.key,
        i.client,
        i.site,
        i.check,
        to_iso(i.started),
        to_iso(i.ended) if i.ended is not None else None,
        i.summary,
        i.last_message,
    )


def _outbox_params(ns: Sequence[Notification], created: str, due: str) -> list[_OutboxParams]:
    """Outbox rows; an item is due at the later of ``due`` and its own ``due_at`` (and, in
    _INSERT_OUTBOX, of the open items before it to the same destination in its thread)."""
    return [
        (
            n.key,
            n.notifier,
            notification_to_json(n),
            max(due, to_iso(n.due_at)) if n.due_at is not None else due,
            created,
            n.event.thread,
            n.recipient.lower(),
            n.group,
        )
        for n in ns
    ]


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
_SELECT_RESULTS = (
    "SELECT key, client, site, check_id, ok, message, warning, duration, at, details "
    "FROM latest_result"
)
_UPSERT_INCIDENT = (
    "INSERT INTO incident "
    "(id, key, client, site, check_id, started, ended, summary, last_message) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET key = excluded.key, client = excluded.client, "
    "site = excluded.site, check_id = excluded.check_id, started = excluded.started, "
    "ended = excluded.ended, summary = excluded.summary, last_message = excluded.last_message"
)
_SELECT_OPEN_INCIDENTS = (
    "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
    "FROM incident WHERE ended IS NULL ORDER BY started, id"
)
_SELECT_INCIDENTS = (
    "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
    "FROM incident ORDER BY started DESC, id DESC LIMIT ?"
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
# Due items, in order per destination within a thread: not while an older item to the same
# notifier and recipient in the thread is open (another recipient's held mail never holds a
# page). Notifiers in :busy (their send slots are full) are left for a later round.
_CLAIM_OUTBOX = (
    "UPDATE outbox SET status = 'sending', claimed_at = :now, updated = :now, "
    "attempts = attempts + 1, run_id = :run, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox o "
    "  WHERE status = 'pending' AND due_at <= :now "
    "    AND notifier NOT IN (SELECT value FROM json_each(:busy)) "
    "    AND NOT EXISTS (SELECT 1 FROM outbox p "
    "      WHERE p.notifier = o.notifier AND p.recipient = o.recipient "
    "        AND p.thread = o.thread AND p.id < o.id "
    "        AND p.status IN ('pending', 'sending')) "
    "  ORDER BY due_at, id LIMIT :limit) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_CLAIM_GROUP = (
    "UPDATE outbox SET status = 'sending', claimed_at = :now, updated = :now, "
    "attempts = attempts + 1, run_id = :run, attempt_started = NULL "
    "WHERE status = 'pending' AND due_at <= :now AND grp = :grp "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_MARK_ATTEMPT = (
    "UPDATE outbox SET attempt_started = :now, updated = :now "
    "WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'sending' AND run_id = :run"
)
# Items another sender run claimed (before :before) and left SENDING: that run is gone (one
# daemon per store). Those whose send had not begun go back to pending, as if never claimed;
# the others may have been delivered: this run takes them over to resolve them.
_RECOVER_UNSTARTED = (
    "UPDATE outbox SET status = 'pending', attempts = max(attempts - 1, 0), run_id = NULL, "
    "updated = :now WHERE status = 'sending' AND run_id IS NOT :run "
    "AND claimed_at <= :before AND attempt_started IS NULL"
)
_RECOVER_UNCERTAIN = (
    "UPDATE outbox SET run_id = :run, claimed_at = :now, updated = :now "
    "WHERE status = 'sending' AND run_id IS NOT :run AND claimed_at <= :before "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_SELECT_OUTBOX = (
    "SELECT id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id FROM outbox WHERE (:status IS NULL OR status = :status) "
    "ORDER BY id DESC LIMIT :limit"
)
_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = :now, updated = :now, "
    "external_id = :external_id, last_error = NULL WHERE id = :id"
)
# Only a claimed item goes back to pending or to failed: one already sent stays sent.
_MARK_RETRY = (
    "UPDATE outbox SET status = 'pending', due_at = :due_at, last_error = :error, "
    "updated = :now WHERE id = :id AND status = 'sending'"
)
_MARK_FAILED = (
    "UPDATE outbox SET status = 'failed', last_error = :error, updated = :now "
    "WHERE id = :id AND status != 'sent'"
)
_OUTBOX_DEPTH = "SELECT COUNT(*), MIN(created) FROM outbox WHERE status IN ('pending', 'sending')"
_OUTBOX_FAILED = "SELECT COUNT(*) FROM outbox WHERE status = 'failed'"
_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_SELECT_ADVISORIES = (
    "SELECT id, source, fingerprint, data, first_seen, last_seen, history FROM advisory "
    "ORDER BY id, source"
)
_UPSERT_ADVISORY = (
    "INSERT INTO advisory (id, source, fingerprint, data, first_seen, last_seen, history) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id, source) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "data = excluded.data, last_seen = excluded.last_seen, history = excluded.history"
)
_SELECT_DECISIONS = (
    "SELECT advisory, site, client, fingerprint, installed, decision, patch_day, reason, "
    "decided_at FROM advisory_decision"
)
_UPSERT_DECISION = (
    "INSERT INTO advisory_decision "
    "(advisory, site, client, fingerprint, installed, decision, patch_day, reason, decided_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (advisory, site) DO UPDATE SET client = excluded.client, "
    "fingerprint = excluded.fingerprint, installed = excluded.installed, "
    "decision = excluded.decision, patch_day = excluded.patch_day, reason = excluded.reason, "
    "decided_at = excluded.decided_at"
)
_SELECT_QUEUE = (
    "SELECT site, advisory, client, project, installed, fixed, link, patch_day, queued_at, "
    "ticketed_at FROM patch_queue WHERE (:pending = 0 OR ticketed_at IS NULL) "
    "ORDER BY patch_day, site, advisory"
)
_UPSERT_QUEUE = (
    "INSERT INTO patch_queue "
    "(site, advisory, client, project, installed, fixed, link, patch_day, queued_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (site, advisory) DO UPDATE SET client = excluded.client, "
    "project = excluded.project, installed = excluded.installed, fixed = excluded.fixed, "
    "link = excluded.link, patch_day = excluded.patch_day "
    "WHERE patch_queue.ticketed_at IS NULL"
)
_DELETE_QUEUE = "DELETE FROM patch_queue WHERE site = ? AND advisory = ? AND ticketed_at IS NULL"
_TICKET_QUEUE = (
    "UPDATE patch_queue SET ticketed_at = ? WHERE site = ? AND advisory = ? AND ticketed_at IS NULL"
)


def _result_row(row: sqlite3.Row) -> ResultRow:
    return ResultRow(
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        ok=bool(row["ok"]),
        message=row["message"],
        warning=row["warning"],
        duration=row["duration"],
        at=from_iso(row["at"]),
        details=json.loads(row["details"]),
    )


def _incident_row(row: sqlite3.Row) -> IncidentRow:
    return IncidentRow(
        id=row["id"],
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        started=from_iso(row["started"]),
        ended=from_iso(row["ended"]) if row["ended"] is not None else None,
        summary=row["summary"],
        last_message=row["last_message"],
    )


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        key=row["key"],
        notifier=row["notifier"],
        notification=notification_from_json(row["notification"]),
        attempts=row["attempts"],
        due_at=from_iso(row["due_at"]),
        status=row["status"],
        last_error=row["last_error"],
        created=from_iso(row["created"]),
        external_id=row["external_id"],
    )


# ---------------------------------------------------------------- local tickets

_TICKET_SELECT = (
    "SELECT id, thread, client, site, check_id, kind, priority, title, body, opened_at, "
    "respond_by, status, acked_at, acked_by, resolved_at, reminded_at FROM ticket "
)
_SELECT_TICKETS = (
    _TICKET_SELECT + "WHERE (:open_only = 0 OR status != 'resolved') "
    "AND (:client IS NULL OR client = :client) ORDER BY id DESC LIMIT :limit"
)
_SELECT_TICKET_BY_ID = _TICKET_SELECT + "WHERE id = ?"
_SELECT_TICKET_BY_THREAD = _TICKET_SELECT + "WHERE thread = ?"
_INSERT_TICKET = (
    "INSERT INTO ticket (thread, client, site, check_id, kind, priority, title, body, "
    "opened_at, respond_by, status, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)"
)
_INSERT_NOTE = (
    "INSERT INTO ticket_note (ticket_id, key, at, kind, text, by) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING"
)
_SELECT_NOTES = (
    "SELECT ticket_id, key, at, kind, text, by FROM ticket_note WHERE ticket_id = ? ORDER BY id"
)
_NOTE_EXISTS = "SELECT 1 FROM ticket_note WHERE key = ?"
_ACK_TICKET = (
    "UPDATE ticket SET status = 'acked', acked_at = :now, acked_by = :by, updated = :now "
    "WHERE id = :id AND status = 'open'"
)
_RESOLVE_TICKET = (
    "UPDATE ticket SET status = 'resolved', resolved_at = :now, updated = :now "
    "WHERE id = :id AND status != 'resolved'"
)
_REMIND_TICKET = (
    "UPDATE ticket SET reminded_at = :now, updated = :now "
    "WHERE id = :id AND status = 'open' AND reminded_at IS NULL"
)
_SELECT_REF = (
    "SELECT notifier, thread, external_id, created, resolved_at FROM ticket_ref "
    "WHERE notifier = ? AND thread = ?"
)
_UPSERT_REF = (
    "INSERT INTO ticket_ref (notifier, thread, external_id, created) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (notifier, thread) DO NOTHING"
)
_RESOLVE_REF = (
    "UPDATE ticket_ref SET resolved_at = ? WHERE notifier = ? AND thread = ? "
    "AND resolved_at IS NULL"
)
_INSERT_APPLIED = (
    "INSERT INTO ticket_applied (notifier, key, external_id, at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (notifier, key) DO NOTHING"
)
_SELECT_APPLIED = "SELECT external_id FROM ticket_applied WHERE notifier = ? AND key = ?"


def _opt_time(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


def _ticket_row(row: sqlite3.Row) -> LocalTicketRow:
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
        opened_at=from_iso(row["opened_at"]),
        respond_by=from_iso(row["respond_by"]),
        status=row["status"],
        acked_at=_opt_time(row["acked_at"]),
        acked_by=row["acked_by"],
        resolved_at=_opt_time(row["resolved_at"]),
        reminded_at=_opt_time(row["reminded_at"]),
    )


# Retention: only finished rows, oldest first, a batch at a time.
# The status is literal (not bound), as the partial indexes outbox_sent/failed need; named, as
# the planner would otherwise walk every delivered row through outbox_claimed.
_PRUNE_OUTBOX = {
    "sent": (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_sent "
        "WHERE status = 'sent' AND updated < ?1 LIMIT ?2) RETURNING notifier"
    ),
    "failed": (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_failed "
        "WHERE status = 'failed' AND updated < ?1 LIMIT ?2) RETURNING notifier"
    ),
}
_COUNT_PRUNED = (
    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + CAST(?2 AS INTEGER) "
    "AS TEXT)"
)
_PRUNE_INCIDENTS = (
    "DELETE FROM incident WHERE id IN (SELECT id FROM incident "
    "WHERE started < ?1 AND ended IS NOT NULL AND ended < ?1 ORDER BY started LIMIT ?2)"
)
_PRUNE_QUEUE = (
    "DELETE FROM patch_queue WHERE rowid IN (SELECT rowid FROM patch_queue "
    "WHERE ticketed_at IS NOT NULL AND ticketed_at < ?1 LIMIT ?2)"
)
_PRUNE_APPLIED = (
    "DELETE FROM ticket_applied WHERE rowid IN (SELECT rowid FROM ticket_applied "
    "WHERE at < ?1 LIMIT ?2)"
)

_RESOLVED_TICKETS = "SELECT id FROM ticket WHERE status = 'resolved' AND resolved_at < ? LIMIT ?"
_PRUNE_TICKET_REFS = (
    "DELETE FROM ticket_ref WHERE rowid IN (SELECT rowid FROM ticket_ref "
    "WHERE resolved_at IS NOT NULL AND resolved_at < ?1 LIMIT ?2)"
)


class SqliteStore:
    """The default store (store.base.Store) in one SQLite file.

    ``batch_size`` and ``flush_interval`` default to limits.STORE_BATCH_SIZE and
    limits.STORE_FLUSH_INTERVAL; tests and benchmarks may pass others.
    """

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = limits.STORE_BATCH_SIZE,
        flush_interval: timedelta = limits.STORE_FLUSH_INTERVAL,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.path = Path(path)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._log = structlog.get_logger("monitord.store").bind(path=str(self.path))
        self._executor: ThreadPoolExecutor | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._pending: dict[str, _Entry] = {}
        self._has_pending = asyncio.Event()
        self._full = asyncio.Event()
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
        batch, self._pending = self._pending, {}
        self._has_pending.clear()
        self._full.clear()
        return batch

    async def flush(self) -> None:
        """Commit the batched writes now (one transaction)."""
        # Take the batch and submit its job without yielding, so no write slips between.
        batch = self._take_pending()
        await self._run("save check states", self._commit_sync, batch, None, None, [])

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
        prev = self._pending.get(key)
        self._pending[key] = entry if prev is None else prev.superseded_by(entry)
        self._has_pending.set()
        if len(self._pending) >= self._batch_size:
            self._full.set()

    def _load_states_sync(self) -> dict[str, dict[str, Any]]:
        rows = self._db().execute("SELECT key, state FROM check_state").fetchall()
        return {row["key"]: json.loads(row["state"]) for row in rows}

    async def load_states(self) -> dict[str, dict[str, Any]]:
        await self.flush()
        return await self._run("read check states", self._load_states_sync)

    def _latest_results_sync(self) -> dict[str, ResultRow]:
        rows = self._db().execute(_SELECT_RESULTS).fetchall()
        return {row["key"]: _result_row(row) for row in rows}

    async def latest_results(self) -> dict[str, ResultRow]:
        await self.flush()
        return await self._run("read latest results", self._latest_results_sync)

    # -- incidents ---------------------------------------------------------------------------

    def _incidents_sync(self, only_open: bool, limit: int) -> list[IncidentRow]:
        if only_open:
            rows = self._db().execute(_SELECT_OPEN_INCIDENTS).fetchall()
        else:
            rows = self._db().execute(_SELECT_INCIDENTS, (limit,)).fetchall()
        return [_incident_row(row) for row in rows]

    async def open_incidents(self) -> list[IncidentRow]:
        return await self._run("read incidents", self._incidents_sync, True, 0)

    async def incidents(self, limit: int = 100) -> list[IncidentRow]:
        return await self._run("read incidents", self._incidents_sync, False, limit)

    # -- outbox ------------------------------------------------------------------------------

    def _enqueue_sync(self, rows: list[_OutboxParams]) -> int:
        with self._tx() as conn:
            before = conn.total_changes
            conn.executemany(_INSERT_OUTBOX, rows)
            return conn.total_changes - before

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        due_at: datetime | None = None,
    ) -> int:
        now_s = to_iso(now)
        rows = _outbox_params(notifications, now_s, to_iso(due_at) if due_at else now_s)
        if not rows:
            return 0
        return await self._run("add notifications to the outbox", self._enqueue_sync, rows)

    def _claim_sync(self, params: dict[str, Any]) -> list[OutboxItem]:
        with self._tx() as conn:
            rows = conn.execute(_CLAIM_OUTBOX, params).fetchall()
        items = [_outbox_item(row) for row in rows]
        items.sort(key=lambda i: (i.due_at, i.id))
        return items

    async def claim_due(
        self, now: datetime, limit: int, run_id: str = "", busy: Collection[str] = ()
    ) -> list[OutboxItem]:
        if limit < 1:
            return []
        params = {
            "now": to_iso(now),
            "limit": limit,
            "run": run_id,
            "busy": json.dumps(sorted(busy)),
        }
        return await self._run("claim outbox items", self._claim_sync, params)

    def _claim_group_sync(self, group: str, now: str, run_id: str) -> list[OutboxItem]:
        with self._tx() as conn:
            params = {"now": now, "grp": group, "run": run_id}
            rows = conn.execute(_CLAIM_GROUP, params).fetchall()
        return sorted((_outbox_item(row) for row in rows), key=lambda i: (i.due_at, i.id))

    async def claim_group(self, group: str, now: datetime, run_id: str = "") -> list[OutboxItem]:
        return await self._run(
            "claim outbox items of a group", self._claim_group_sync, group, to_iso(now), run_id
        )

    async def mark_attempt(self, item_ids: Sequence[int], now: datetime, run_id: str) -> None:
        params = {"ids": json.dumps(list(item_ids)), "now": to_iso(now), "run": run_id}
        await self._run("record a delivery attempt", self._update_sync, _MARK_ATTEMPT, params)

    def _recover_sync(self, params: dict[str, Any]) -> list[OutboxItem]:
        with self._tx() as conn:
            conn.execute(_RECOVER_UNSTARTED, params)
            rows = conn.execute(_RECOVER_UNCERTAIN, params).fetchall()
        items = [dataclasses.replace(_outbox_item(row), uncertain=True) for row in rows]
        items.sort(key=lambda i: (i.due_at, i.id))
        return items

    async def recover(
        self, run_id: str, now: datetime, claimed_before: datetime
    ) -> list[OutboxItem]:
        params = {"run": run_id, "now": to_iso(now), "before": to_iso(claimed_before)}
        return await self._run("recover unfinished deliveries", self._recover_sync, params)

    def _update_sync(self, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> None:
        with self._tx() as conn:
            conn.execute(sql, params)

    async def mark_sent(self, item_id: int, now: datetime, external_id: str | None) -> None:
        params = {"id": item_id, "now": to_iso(now), "external_id": external_id}
        await self._run("record a delivery", self._update_sync, _MARK_SENT, params)

    async def mark_retry(self, item_id: int, now: datetime, due_at: datetime, error: str) -> None:
        params = {"id": item_id, "now": to_iso(now), "due_at": to_iso(due_at), "error": error}
        await self._run("record a delivery failure", self._update_sync, _MARK_RETRY, params)

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None:
        params = {"id": item_id, "now": to_iso(now), "error": error}
        await self._run("record a failed delivery", self._update_sync, _MARK_FAILED, params)

    def _stats_sync(self, now: datetime) -> OutboxStats:
        conn = self._db()
        depth, oldest = conn.execute(_OUTBOX_DEPTH).fetchone()
        (failed,) = conn.execute(_OUTBOX_FAILED).fetchone()
        age = max(0.0, (now - from_iso(oldest)).total_seconds()) if oldest else 0.0
        return OutboxStats(depth=int(depth), oldest_age_seconds=age, failed=int(failed))

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        to_iso(now)  # validates it is aware
        return await self._run("read outbox statistics", self._stats_sync, now)

    def _items_sync(self, status: str | None, limit: int) -> list[OutboxItem]:
        params = {"status": status, "limit": limit}
        return [_outbox_item(row) for row in self._db().execute(_SELECT_OUTBOX, params)]

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        if status is not None and status not in OUTBOX_STATUSES:
            raise ValueError(
                f"unknown outbox status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}"
            )
        return await self._run("read the outbox", self._items_sync, status, limit)

    # -- meta --------------------------------------------------------------------------------

    def _get_meta_sync(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    async def get_meta(self, key: str) -> str | None:
        return await self._run("read a stored value", self._get_meta_sync, key)

    async def set_meta(self, key: str, value: str) -> None:
        await self._run("save a stored value", self._update_sync, _UPSERT_META, (key, value))

    # -- security advisories, decisions, the patch-day queue ----------------------------------

    def _load_advisories_sync(self) -> list[AdvisoryRow]:
        rows = self._db().execute(_SELECT_ADVISORIES).fetchall()
        return [
            AdvisoryRow(
                id=row["id"],
                source=row["source"],
                fingerprint=row["fingerprint"],
                data=json.loads(row["data"]),
                first_seen=from_iso(row["first_seen"]),
                last_seen=from_iso(row["last_seen"]),
                history=tuple(json.loads(row["history"])),
            )
            for row in rows
        ]

    async def load_advisories(self) -> list[AdvisoryRow]:
        """Every advisory known, from every source."""
        return await self._run("read advisories", self._load_advisories_sync)

    def _load_decisions_sync(self) -> dict[tuple[str, str], DecisionRow]:
        out: dict[tuple[str, str], DecisionRow] = {}
        for row in self._db().execute(_SELECT_DECISIONS):
            out[(row["advisory"], row["site"])] = DecisionRow(
                advisory=row["advisory"],
                site=row["site"],
                client=row["client"],
                fingerprint=row["fingerprint"],
                installed=row["installed"],
                decision=row["decision"],
                patch_day=from_iso(row["patch_day"]) if row["patch_day"] else None,
                reason=row["reason"],
                decided_at=from_iso(row["decided_at"]),
            )
        return out

    async def load_decisions(self) -> dict[tuple[str, str], DecisionRow]:
        """Every (advisory, site) decision, keyed by that pair."""
        return await self._run("read advisory decisions", self._load_decisions_sync)

    def _patch_queue_sync(self, pending_only: bool) -> list[PatchItemRow]:
        rows = self._db().execute(_SELECT_QUEUE, {"pending": int(pending_only)}).fetchall()
        return [
            PatchItemRow(
                site=row["site"],
                advisory=row["advisory"],
                client=row["client"],
                project=row["project"],
                installed=row["installed"],
                fixed=row["fixed"],
                link=row["link"],
                patch_day=from_iso(row["patch_day"]),
                queued_at=from_iso(row["queued_at"]),
                ticketed_at=from_iso(row["ticketed_at"]) if row["ticketed_at"] else None,
            )
            for row in rows
        ]

    async def patch_queue(self, *, pending_only: bool = True) -> list[PatchItemRow]:
        """Queued patch-day items (only those not yet ticketed unless ``pending_only=False``)."""
        return await self._run("read the patch-day queue", self._patch_queue_sync, pending_only)

    def _save_security_sync(
        self,
        advisories: list[tuple[Any, ...]],
        decisions: list[tuple[Any, ...]],
        queue_add: list[tuple[Any, ...]],
        queue_remove: list[tuple[str, str]],
        ticketed: list[tuple[str, str, str]],
        outbox: list[_OutboxParams],
    ) -> int:
        with self._tx() as conn:
            conn.executemany(_UPSERT_ADVISORY, advisories)
            conn.executemany(_UPSERT_DECISION, decisions)
            conn.executemany(_UPSERT_QUEUE, queue_add)
            conn.executemany(_DELETE_QUEUE, queue_remove)
            conn.executemany(_TICKET_QUEUE, ticketed)
            before = conn.total_changes
            conn.executemany(_INSERT_OUTBOX, outbox)
            return conn.total_changes - before

    async def save_security(self, changes: SecurityChanges, now: datetime) -> int:
        """Apply one poll's advisories, decisions, queue changes and notifications atomically.

        Returns how many notifications were new (a key already in the outbox is ignored).
        """
        now_s = to_iso(now)
        advisories = [
            (
                a.id,
                a.source,
                a.fingerprint,
                _dumps(a.data, what=f"advisory {a.id!r}"),
                to_iso(a.first_seen),
                to_iso(a.last_seen),
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
                to_iso(d.patch_day) if d.patch_day else None,
                d.reason,
                to_iso(d.decided_at),
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
                to_iso(q.patch_day),
                to_iso(q.queued_at),
            )
            for q in changes.queue_add
        ]
        ticketed = [(now_s, site, adv) for site, adv in changes.ticketed]
        outbox = [
            row
            for n, due in changes.notifications
            for row in _outbox_params([n], now_s, to_iso(due))
        ]
        return await self._run(
            "save advisory decisions",
            self._save_security_sync,
            advisories,
            decisions,
            queue_add,
            list(changes.queue_remove),
            ticketed,
            outbox,
        )

    # -- local tickets ---------------------------------------------------------------------

    def _apply_local_sync(
        self, ticket: Any, key: str, resolving: bool, text: str, now: str
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        from monitord.tickets import OUTCOMES, plan_action

        with self._tx() as conn:
            found = conn.execute(_SELECT_TICKET_BY_THREAD, (ticket.thread,)).fetchone()
            applied = conn.execute(_NOTE_EXISTS, (key,)).fetchone() is not None
            action = plan_action(resolving, found is not None, applied)
            if action == "open":
                cur = conn.execute(
                    _INSERT_TICKET,
                    (
                        ticket.thread,
                        ticket.client,
                        ticket.site,
                        ticket.check,
                        ticket.kind,
                        ticket.priority,
                        ticket.title,
                        ticket.body,
                        to_iso(ticket.opened_at),
                        to_iso(ticket.respond_by),
                        now,
                    ),
                )
                conn.execute(_INSERT_NOTE, (cur.lastrowid, key, now, "opened", text, None))
            elif action in ("comment", "resolve"):
                kind = "recovered" if action == "resolve" else "comment"
                conn.execute(_INSERT_NOTE, (found["id"], key, now, kind, text, None))
                if action == "resolve":
                    conn.execute(_RESOLVE_TICKET, {"id": found["id"], "now": now})
            row = conn.execute(_SELECT_TICKET_BY_THREAD, (ticket.thread,)).fetchone()
        return OUTCOMES[action], (_ticket_row(row) if row is not None else None)

    async def apply_local_ticket(
        self, ticket: Any, key: str, resolving: bool, text: str, now: datetime
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        """See store.base.TicketStore.apply_local_ticket."""
        result: tuple[TicketOutcome, LocalTicketRow | None] = await self._run(
            "record a ticket", self._apply_local_sync, ticket, key, resolving, text, to_iso(now)
        )
        return result

    def _tickets_sync(
        self, open_only: bool, client: str | None, limit: int
    ) -> list[LocalTicketRow]:
        params = {"open_only": int(open_only), "client": client, "limit": limit}
        return [_ticket_row(r) for r in self._db().execute(_SELECT_TICKETS, params)]

    async def local_tickets(
        self, *, open_only: bool = False, client: str | None = None, limit: int = 1000
    ) -> list[LocalTicketRow]:
        rows: list[LocalTicketRow] = await self._run(
            "read tickets", self._tickets_sync, open_only, client, limit
        )
        return rows

    def _ticket_sync(self, ticket_id: int) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        conn = self._db()
        row = conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone()
        if row is None:
            return None
        notes = [
            TicketNoteRow(
                ticket_id=n["ticket_id"],
                key=n["key"],
                at=from_iso(n["at"]),
                kind=n["kind"],
                text=n["text"],
                by=n["by"],
            )
            for n in conn.execute(_SELECT_NOTES, (ticket_id,))
        ]
        return _ticket_row(row), notes

    async def local_ticket(
        self, ticket_id: int
    ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        found: tuple[LocalTicketRow, list[TicketNoteRow]] | None = await self._run(
            "read a ticket", self._ticket_sync, ticket_id
        )
        return found

    def _change_sync(
        self, ticket_id: int, sql: str, kind: str, text: str, by: str | None, now: str
    ) -> LocalTicketRow | None:
        with self._tx() as conn:
            if conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone() is None:
                return None
            cur = conn.execute(sql, {"id": ticket_id, "now": now, "by": by})
            if cur.rowcount:
                key = f"{kind}|{ticket_id}|{now}"
                conn.execute(_INSERT_NOTE, (ticket_id, key, now, kind, text, by))
            row = conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone()
        return _ticket_row(row)

    async def ack_local_ticket(
        self, ticket_id: int, by: str | None, now: datetime
    ) -> LocalTicketRow | None:
        row: LocalTicketRow | None = await self._run(
            "acknowledge a ticket",
            self._change_sync,
            ticket_id,
            _ACK_TICKET,
            "ack",
            f"acknowledged by {by}" if by else "acknowledged",
            by,
            to_iso(now),
        )
        return row

    async def resolve_local_ticket(
        self, ticket_id: int, note: str | None, now: datetime
    ) -> LocalTicketRow | None:
        row: LocalTicketRow | None = await self._run(
            "resolve a ticket",
            self._change_sync,
            ticket_id,
            _RESOLVE_TICKET,
            "resolve",
            note or "resolved",
            None,
            to_iso(now),
        )
        return row

    def _remind_sync(self, reminders: list[tuple[int, list[_OutboxParams]]], now: str) -> int:
        marked = 0
        with self._tx() as conn:
            for ticket_id, outbox in reminders:
                if not conn.execute(_REMIND_TICKET, {"id": ticket_id, "now": now}).rowcount:
                    continue
                marked += 1
                text = f"overdue: {len(outbox)} reminder(s) queued"
                conn.execute(
                    _INSERT_NOTE, (ticket_id, f"reminder|{ticket_id}", now, "reminder", text, None)
                )
                conn.executemany(_INSERT_OUTBOX, outbox)
        return marked

    async def remind_local_tickets(
        self, reminders: Mapping[int, Sequence[Notification]], now: datetime
    ) -> int:
        """See store.base.TicketStore.remind_local_tickets."""
        now_s = to_iso(now)
        rows = [(tid, _outbox_params(ns, now_s, now_s)) for tid, ns in reminders.items()]
        marked: int = await self._run("record ticket reminders", self._remind_sync, rows, now_s)
        return marked

    def _applied_sync(self, notifier: str, key: str) -> str | None:
        row = self._db().execute(_SELECT_APPLIED, (notifier, key)).fetchone()
        return None if row is None else str(row["external_id"])

    async def ticket_applied(self, notifier: str, key: str) -> str | None:
        found: str | None = await self._run(
            "read the ticket map", self._applied_sync, notifier, key
        )
        return found

    def _ref_sync(self, notifier: str, thread: str) -> TicketRefRow | None:
        row = self._db().execute(_SELECT_REF, (notifier, thread)).fetchone()
        if row is None:
            return None
        return TicketRefRow(
            notifier=row["notifier"],
            thread=row["thread"],
            external_id=row["external_id"],
            created=from_iso(row["created"]),
            resolved_at=_opt_time(row["resolved_at"]),
        )

    async def ticket_ref(self, notifier: str, thread: str) -> TicketRefRow | None:
        found: TicketRefRow | None = await self._run(
            "read the ticket map", self._ref_sync, notifier, thread
        )
        return found

    def _record_sync(
        self,
        notifier: str,
        thread: str,
        key: str | None,
        external_id: str,
        now: str,
        resolved: bool,
    ) -> None:
        with self._tx() as conn:
            conn.execute(_UPSERT_REF, (notifier, thread, external_id, now))
            if key is not None:
                conn.execute(_INSERT_APPLIED, (notifier, key, external_id, now))
            if resolved:
                conn.execute(_RESOLVE_REF, (now, notifier, thread))

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
        await self._run(
            "record a ticket in the ticket map",
            self._record_sync,
            notifier,
            thread,
            key,
            external_id,
            to_iso(now),
            resolved,
        )

    # -- retention ---------------------------------------------------------------------------

    def _prune_outbox_sync(self, status: str, cutoff: str) -> int:
        with self._tx() as conn:
            rows = conn.execute(_PRUNE_OUTBOX[status], (cutoff, PRUNE_BATCH)).fetchall()
            counts: dict[str, int] = {}
            for (notifier,) in rows:
                counts[str(notifier)] = counts.get(str(notifier), 0) + 1
            conn.executemany(
                _COUNT_PRUNED,
                [(f"{PRUNED_META_PREFIX}{status}.{n}", str(c)) for n, c in sorted(counts.items())],
            )
            return len(rows)

    def _prune_tickets_sync(self, cutoff: str) -> int:
        with self._tx() as conn:
            ids = [r[0] for r in conn.execute(_RESOLVED_TICKETS, (cutoff, PRUNE_BATCH))]
            conn.executemany("DELETE FROM ticket_note WHERE ticket_id = ?", [(i,) for i in ids])
            conn.executemany("DELETE FROM ticket WHERE id = ?", [(i,) for i in ids])
            refs = conn.execute(_PRUNE_TICKET_REFS, (cutoff, PRUNE_BATCH)).rowcount
            return max(len(ids), refs)

    def _prune_sync(self, sql: str, cutoff: str) -> int:
        with self._tx() as conn:
            return conn.execute(sql, (cutoff, PRUNE_BATCH)).rowcount

    async def _prune_all(self, doing: str, fn: Callable[[], int]) -> int:
        total = 0
        while True:
            n = await self._run(doing, fn)
            total += n
            if n < PRUNE_BATCH:
                return total

    async def prune(
        self,
        *,
        sent_before: datetime,
        failed_before: datetime,
        incidents_before: datetime,
    ) -> Pruned:
        """Delete what is finished and older than its retention (config ``state.retention``):
        outbox rows delivered before ``sent_before`` (and the ticket operations' idempotency
        records of that age), rows given up on before ``failed_before``, incidents ended and
        patch-day items ticketed, local tickets (with their notes) and external ticket
        references resolved before ``incidents_before``. Pending and sending rows, open
        incidents and unresolved tickets are never touched. In batches of PRUNE_BATCH rows, one transaction
        each."""
        sent_s, failed_s, inc_s = (
            to_iso(sent_before),
            to_iso(failed_before),
            to_iso(incidents_before),
        )
        return Pruned(
            sent=await self._prune_all(
                "prune delivered notifications",
                lambda: self._prune_outbox_sync("sent", sent_s),
            ),
            failed=await self._prune_all(
                "prune failed notifications",
                lambda: self._prune_outbox_sync("failed", failed_s),
            ),
            incidents=await self._prune_all(
                "prune ended incidents", lambda: self._prune_sync(_PRUNE_INCIDENTS, inc_s)
            ),
            patch_items=await self._prune_all(
                "prune ticketed patch-day items", lambda: self._prune_sync(_PRUNE_QUEUE, inc_s)
            ),
            ticket_applied=await self._prune_all(
                "prune ticket records", lambda: self._prune_sync(_PRUNE_APPLIED, sent_s)
            ),
            tickets=await self._prune_all(
                "prune resolved tickets", lambda: self._prune_tickets_sync(inc_s)
            ),
        )
