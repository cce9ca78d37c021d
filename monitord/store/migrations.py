"""Versioned schema migrations for the SQLite store.

Each migration is applied once, in order, in its own transaction, and recorded in the
``schema_version`` table. Never edit a released migration: append a new one. A store whose
schema is newer than this monitord knows is refused (an older monitord must not write to it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitord.clock import utcnow
from monitord.errors import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "check state, latest results, incidents, meta, outbox",
        (
            """CREATE TABLE check_state (
                key TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                updated TEXT NOT NULL
            )""",
            """CREATE TABLE latest_result (
                key TEXT PRIMARY KEY,
                client TEXT NOT NULL,
                site TEXT NOT NULL,
                check_id TEXT NOT NULL,
                ok INTEGER NOT NULL,
                message TEXT NOT NULL,
                warning TEXT,
                duration REAL NOT NULL,
                at TEXT NOT NULL,
                details TEXT NOT NULL
            )""",
            """CREATE TABLE incident (
                id TEXT PRIMARY KEY,
                key TEXT NOT NULL,
                client TEXT NOT NULL,
                site TEXT NOT NULL,
                check_id TEXT NOT NULL,
                started TEXT NOT NULL,
                ended TEXT,
                summary TEXT NOT NULL,
                last_message TEXT NOT NULL
            )""",
            "CREATE INDEX incident_started ON incident (started)",
            "CREATE INDEX incident_open ON incident (started) WHERE ended IS NULL",
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                key TEXT NOT NULL UNIQUE,
                notifier TEXT NOT NULL,
                notification TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at TEXT NOT NULL,
                status TEXT NOT NULL
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
                last_error TEXT,
                created TEXT NOT NULL,
                updated TEXT NOT NULL,
                claimed_at TEXT,
                sent_at TEXT,
                external_id TEXT
            )""",
            "CREATE INDEX outbox_due ON outbox (status, due_at)",
            "CREATE INDEX outbox_claimed ON outbox (status, claimed_at)",
        ),
    ),
    Migration(
        2,
        "security advisories, advisory decisions per site, the patch-day queue",
        (
            # One row per advisory and source ("rss", or "psa-json:<package>": psa.json lists
            # one SA per project). ``history`` is the JSON list of fingerprints it had before,
            # so a lagging mirror re-serving an old version is not taken for a revision.
            """CREATE TABLE advisory (
                id TEXT NOT NULL,
                source TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                data TEXT NOT NULL,
                first_seen TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                history TEXT NOT NULL DEFAULT '[]',
                PRIMARY KEY (id, source)
            )""",
            """CREATE TABLE advisory_decision (
                advisory TEXT NOT NULL,
                site TEXT NOT NULL,
                client TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                installed TEXT,
                decision TEXT NOT NULL
                    CHECK (decision IN ('now', 'patch-day', 'unknown', 'none')),
                patch_day TEXT,
                reason TEXT NOT NULL,
                decided_at TEXT NOT NULL,
                PRIMARY KEY (advisory, site)
            )""",
            """CREATE TABLE patch_queue (
                site TEXT NOT NULL,
                advisory TEXT NOT NULL,
                client TEXT NOT NULL,
                project TEXT NOT NULL,
                installed TEXT NOT NULL,
                fixed TEXT,
                link TEXT NOT NULL,
                patch_day TEXT NOT NULL,
                queued_at TEXT NOT NULL,
                ticketed_at TEXT,
                PRIMARY KEY (site, advisory)
            )""",
            "CREATE INDEX patch_queue_due ON patch_queue (patch_day) WHERE ticketed_at IS NULL",
        ),
    ),
    Migration(
        3,
        "local tickets with their notes; the ticket notifiers' external ids by thread",
        (
            # tickets-local: one ticket per event thread (incident or advisory).
            """CREATE TABLE ticket (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                thread TEXT NOT NULL UNIQUE,
                client TEXT NOT NULL,
                site TEXT,
                check_id TEXT,
                kind TEXT NOT NULL,
                priority TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                respond_by TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('open', 'acked', 'resolved')),
                acked_at TEXT,
                acked_by TEXT,
                resolved_at TEXT,
                reminded_at TEXT,
                updated TEXT NOT NULL
            )""",
            "CREATE INDEX ticket_open ON ticket (respond_by) WHERE status = 'open'",
            # Every change to a local ticket; ``key`` (the notification's, or the CLI's) makes
            # a re-sent notification a no-op.
            """CREATE TABLE ticket_note (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ticket_id INTEGER NOT NULL REFERENCES ticket (id),
                key TEXT NOT NULL UNIQUE,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                by TEXT
            )""",
            "CREATE INDEX ticket_note_ticket ON ticket_note (ticket_id, id)",
            # External ticket notifiers (jira, zendesk…): the ticket made for a thread, so a
            # follow-up comments on it instead of opening a second one.
            """CREATE TABLE ticket_ref (
                notifier TEXT NOT NULL,
                thread TEXT NOT NULL,
                external_id TEXT NOT NULL,
                created TEXT NOT NULL,
                resolved_at TEXT,
                PRIMARY KEY (notifier, thread)
            )""",
            # Notification keys a ticket notifier has already applied (created, commented,
            # resolved): an outbox re-send of one is answered from here.
            """CREATE TABLE ticket_applied (
                notifier TEXT NOT NULL,
                key TEXT NOT NULL,
                external_id TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (notifier, key)
            )""",
        ),
    ),
    Migration(
        4,
        "outbox: find the open items of one thread per notifier (delivery in order)",
        (
            # The claim skips an item while an older one of the same thread for the same
            # notifier is still open, so a recovery never overtakes its DOWN notice.
            "CREATE INDEX outbox_open_thread ON outbox "
            "(notifier, json_extract(notification, '$.event.thread'), id) "
            "WHERE status IN ('pending', 'sending')",
        ),
    ),
    Migration(
        5,
        "outbox: thread, recipient and group as columns (delivery in order per recipient); "
        "the sender run that claimed an item and when its send began",
        (
            "ALTER TABLE outbox ADD COLUMN thread TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE outbox ADD COLUMN recipient TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE outbox ADD COLUMN grp TEXT",
            # The sender run (a random id per daemon start) that claimed the item, and when
            # it began handing the item to its notifier: a SENDING item of another run with
            # an attempt begun may have been delivered (uncertain); one without was not.
            "ALTER TABLE outbox ADD COLUMN run_id TEXT",
            "ALTER TABLE outbox ADD COLUMN attempt_started TEXT",
            "UPDATE outbox SET "
            "thread = COALESCE(json_extract(notification, '$.event.thread'), ''), "
            "recipient = lower(COALESCE(json_extract(notification, '$.recipient'), '')), "
            "grp = json_extract(notification, '$.group')",
            # Items a sender of an older monitord held: their send may have begun.
            "UPDATE outbox SET attempt_started = claimed_at WHERE status = 'sending'",
            "DROP INDEX outbox_open_thread",
            # The claim skips an item while an older one to the same destination (notifier and
            # recipient) in the same thread is still open: a recovery never overtakes its
            # DOWN, and one person's held mail never holds another's page.
            "CREATE INDEX outbox_open_dest ON outbox (notifier, recipient, thread, id) "
            "WHERE status IN ('pending', 'sending')",
            "CREATE INDEX outbox_group ON outbox (grp) "
            "WHERE status = 'pending' AND grp IS NOT NULL",
            "CREATE INDEX outbox_sending_run ON outbox (run_id) WHERE status = 'sending'",
        ),
    ),
    Migration(
        6,
        "retention: find finished rows by age (outbox, tickets)",
        (
            # The hourly retention pass (SqliteStore.prune) reads only the rows it deletes:
            # without these it walked a month of delivered rows each time (100 ms a pass at 10,000
            # sites, 0.4 ms with them: docs/benchmarks.md §7).
            "CREATE INDEX outbox_sent ON outbox (updated) WHERE status = 'sent'",
            "CREATE INDEX outbox_failed ON outbox (updated) WHERE status = 'failed'",
            "CREATE INDEX ticket_resolved ON ticket (resolved_at) WHERE status = 'resolved'",
            "CREATE INDEX ticket_ref_resolved ON ticket_ref (resolved_at) "
            "WHERE resolved_at IS NOT NULL",
            "CREATE INDEX ticket_applied_at ON ticket_applied (at)",
        ),
    ),
    Migration(
        7,
        "cluster: nodes and their heartbeats, the leader and its epoch, each node's view of "
        "each check",
        # Several nodes need PostgreSQL (store.pg_migrations 7); the same tables here, unused,
        # keep the two backends' versions and tables alike (``monitord state migrate``
        # does not copy them: store.copy.CLUSTER_TABLES).
        (
            """CREATE TABLE cluster_node (
                id TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started TEXT NOT NULL,
                heartbeat TEXT NOT NULL,
                run_id TEXT NOT NULL,
                source_address TEXT,
                version TEXT NOT NULL
            )""",
            """CREATE TABLE cluster_leader (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                epoch INTEGER NOT NULL DEFAULT 0,
                node TEXT,
                since TEXT,
                renewed TEXT
            )""",
            """CREATE TABLE node_result (
                key TEXT NOT NULL,
                node TEXT NOT NULL,
                ok INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('unknown', 'up', 'down')),
                failures INTEGER NOT NULL,
                successes INTEGER NOT NULL,
                message TEXT NOT NULL,
                at TEXT NOT NULL,
                seq INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (key, node)
            )""",
            "CREATE INDEX node_result_seq_idx ON node_result (seq)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database; 0 for an empty one."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(version)


def migrate(
    conn: sqlite3.Connection,
    path: Path,
    now: datetime | None = None,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> int:
    """Bring the schema up to date; return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its
    own ``BEGIN IMMEDIATE`` transaction so a failure leaves the previous version intact.
    """
    latest = migrations[-1].version if migrations else 0
    applied_at = (now or utcnow()).astimezone(UTC).isoformat(timespec="microseconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )"""
        )
        version = current_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version > latest:
        raise StoreError(
            f"the state store {path} has schema version {version}, but this monitord only "
            f"knows versions up to {latest}: it was written by a newer monitord. Upgrade "
            "monitord, or point state.path at another file."
        )
    for m in migrations:
        if m.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in m.statements:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (m.version, m.description, applied_at),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = m.version
    return version
