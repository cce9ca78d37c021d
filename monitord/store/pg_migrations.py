"""Versioned schema migrations for the PostgreSQL store (store.postgres).

The version numbers mean what they mean for SQLite (store.migrations): a store at version N
has the same tables and columns on either backend, so ``monitord state migrate`` copies like
for like. Instants are ``timestamptz``; JSON stays text (written by the same serialiser).

All pending migrations are applied at open in ONE transaction holding a transaction-level
advisory lock (MIGRATION_LOCK_KEY), so two nodes opening an old store at once migrate it once:
the second waits for the lock, then finds the schema current. Never edit a released migration:
append a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from monitord.errors import StoreError

if TYPE_CHECKING:
    import asyncpg

MIGRATION_LOCK_KEY = 0x6D6F6E69_746F7201
"""pg_advisory_xact_lock key taken while migrating ('monitor' + 1): any fixed 64-bit value that
no other application on the database uses."""


@dataclass(frozen=True, slots=True)
class PgMigration:
    version: int
    description: str
    statements: tuple[str, ...]


PG_MIGRATIONS: tuple[PgMigration, ...] = (
    PgMigration(
        1,
        "check state, latest results, incidents, meta, outbox",
        (
            """CREATE TABLE check_state (
                key text PRIMARY KEY,
                state text NOT NULL,
                updated timestamptz NOT NULL
            )""",
            """CREATE TABLE latest_result (
                key text PRIMARY KEY,
                client text NOT NULL,
                site text NOT NULL,
                check_id text NOT NULL,
                ok boolean NOT NULL,
                message text NOT NULL,
                warning text,
                duration double precision NOT NULL,
                at timestamptz NOT NULL,
                details text NOT NULL
            )""",
            """CREATE TABLE incident (
                id text PRIMARY KEY,
                key text NOT NULL,
                client text NOT NULL,
                site text NOT NULL,
                check_id text NOT NULL,
                started timestamptz NOT NULL,
                ended timestamptz,
                summary text NOT NULL,
                last_message text NOT NULL
            )""",
            "CREATE INDEX incident_started ON incident (started)",
            "CREATE INDEX incident_open ON incident (started) WHERE ended IS NULL",
            """CREATE TABLE meta (
                key text PRIMARY KEY,
                value text NOT NULL
            )""",
            """CREATE TABLE outbox (
                id bigserial PRIMARY KEY,
                key text NOT NULL UNIQUE,
                notifier text NOT NULL,
                notification text NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                due_at timestamptz NOT NULL,
                status text NOT NULL
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
                last_error text,
                created timestamptz NOT NULL,
                updated timestamptz NOT NULL,
                claimed_at timestamptz,
                sent_at timestamptz,
                external_id text
            )""",
            "CREATE INDEX outbox_due ON outbox (status, due_at)",
            "CREATE INDEX outbox_claimed ON outbox (status, claimed_at)",
        ),
    ),
    PgMigration(
        2,
        "security advisories, advisory decisions per site, the patch-day queue",
        (
            """CREATE TABLE advisory (
                id text NOT NULL,
                source text NOT NULL,
                fingerprint text NOT NULL,
                data text NOT NULL,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                history text NOT NULL DEFAULT '[]',
                PRIMARY KEY (id, source)
            )""",
            """CREATE TABLE advisory_decision (
                advisory text NOT NULL,
                site text NOT NULL,
                client text NOT NULL,
                fingerprint text NOT NULL,
                installed text,
                decision text NOT NULL
                    CHECK (decision IN ('now', 'patch-day', 'unknown', 'none')),
                patch_day timestamptz,
                reason text NOT NULL,
                decided_at timestamptz NOT NULL,
                PRIMARY KEY (advisory, site)
            )""",
            """CREATE TABLE patch_queue (
                site text NOT NULL,
                advisory text NOT NULL,
                client text NOT NULL,
                project text NOT NULL,
                installed text NOT NULL,
                fixed text,
                link text NOT NULL,
                patch_day timestamptz NOT NULL,
                queued_at timestamptz NOT NULL,
                ticketed_at timestamptz,
                PRIMARY KEY (site, advisory)
            )""",
            "CREATE INDEX patch_queue_due ON patch_queue (patch_day) WHERE ticketed_at IS NULL",
        ),
    ),
    PgMigration(
        3,
        "local tickets with their notes; the ticket notifiers' external ids by thread",
        (
            """CREATE TABLE ticket (
                id bigserial PRIMARY KEY,
                thread text NOT NULL UNIQUE,
                client text NOT NULL,
                site text,
                check_id text,
                kind text NOT NULL,
                priority text NOT NULL,
                title text NOT NULL,
                body text NOT NULL,
                opened_at timestamptz NOT NULL,
                respond_by timestamptz NOT NULL,
                status text NOT NULL CHECK (status IN ('open', 'acked', 'resolved')),
                acked_at timestamptz,
                acked_by text,
                resolved_at timestamptz,
                reminded_at timestamptz,
                updated timestamptz NOT NULL
            )""",
            "CREATE INDEX ticket_open ON ticket (respond_by) WHERE status = 'open'",
            """CREATE TABLE ticket_note (
                id bigserial PRIMARY KEY,
                ticket_id bigint NOT NULL REFERENCES ticket (id),
                key text NOT NULL UNIQUE,
                at timestamptz NOT NULL,
                kind text NOT NULL,
                text text NOT NULL,
                by text
            )""",
            "CREATE INDEX ticket_note_ticket ON ticket_note (ticket_id, id)",
            """CREATE TABLE ticket_ref (
                notifier text NOT NULL,
                thread text NOT NULL,
                external_id text NOT NULL,
                created timestamptz NOT NULL,
                resolved_at timestamptz,
                PRIMARY KEY (notifier, thread)
            )""",
            """CREATE TABLE ticket_applied (
                notifier text NOT NULL,
                key text NOT NULL,
                external_id text NOT NULL,
                at timestamptz NOT NULL,
                PRIMARY KEY (notifier, key)
            )""",
        ),
    ),
    # SQLite's 4 indexed the outbox by a JSON expression that 5 replaced with columns; a
    # PostgreSQL store starts with 5's columns, so 4 has nothing to do here.
    PgMigration(4, "outbox: open items per thread (superseded by 5 on PostgreSQL)", ()),
    PgMigration(
        5,
        "outbox: thread, recipient and group as columns (delivery in order per recipient); "
        "the sender run that claimed an item and when its send began",
        (
            "ALTER TABLE outbox ADD COLUMN thread text NOT NULL DEFAULT ''",
            "ALTER TABLE outbox ADD COLUMN recipient text NOT NULL DEFAULT ''",
            "ALTER TABLE outbox ADD COLUMN grp text",
            "ALTER TABLE outbox ADD COLUMN run_id text",
            "ALTER TABLE outbox ADD COLUMN attempt_started timestamptz",
            "CREATE INDEX outbox_open_dest ON outbox (notifier, recipient, thread, id) "
            "WHERE status IN ('pending', 'sending')",
            "CREATE INDEX outbox_group ON outbox (grp) WHERE status = 'pending' AND grp IS NOT NULL",
            "CREATE INDEX outbox_sending_run ON outbox (run_id) WHERE status = 'sending'",
        ),
    ),
    PgMigration(
        6,
        "retention: find finished rows by age (outbox, tickets)",
        (
            "CREATE INDEX outbox_sent ON outbox (updated) WHERE status = 'sent'",
            "CREATE INDEX outbox_failed ON outbox (updated) WHERE status = 'failed'",
            "CREATE INDEX ticket_resolved ON ticket (resolved_at) WHERE status = 'resolved'",
            "CREATE INDEX ticket_ref_resolved ON ticket_ref (resolved_at) "
            "WHERE resolved_at IS NOT NULL",
            "CREATE INDEX ticket_applied_at ON ticket_applied (at)",
        ),
    ),
    PgMigration(
        7,
        "cluster: nodes and their heartbeats, the leader and its epoch, each node's view of "
        "each check",
        (
            """CREATE TABLE cluster_node (
                id text PRIMARY KEY,
                host text NOT NULL,
                pid integer NOT NULL,
                started timestamptz NOT NULL,
                heartbeat timestamptz NOT NULL,
                run_id text NOT NULL,
                source_address text,
                version text NOT NULL
            )""",
            """CREATE TABLE cluster_leader (
                id integer PRIMARY KEY CHECK (id = 1),
                epoch bigint NOT NULL DEFAULT 0,
                node text,
                since timestamptz,
                renewed timestamptz
            )""",
            "INSERT INTO cluster_leader (id) VALUES (1)",
            "CREATE SEQUENCE node_result_seq",
            """CREATE TABLE node_result (
                key text NOT NULL,
                node text NOT NULL,
                ok boolean NOT NULL,
                status text NOT NULL CHECK (status IN ('unknown', 'up', 'down')),
                failures integer NOT NULL,
                successes integer NOT NULL,
                message text NOT NULL,
                at timestamptz NOT NULL,
                seq bigint NOT NULL DEFAULT nextval('node_result_seq'),
                PRIMARY KEY (key, node)
            )""",
            "CREATE INDEX node_result_seq_idx ON node_result (seq)",
        ),
    ),
)

PG_LATEST_VERSION = PG_MIGRATIONS[-1].version


async def pg_current_version(conn: asyncpg.Connection) -> int:
    """The schema version recorded in the database; 0 for an empty one."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))


async def pg_migrate(
    conn: asyncpg.Connection,
    where: str,
    now: datetime,
    migrations: tuple[PgMigration, ...] = PG_MIGRATIONS,
) -> int:
    """Bring the schema up to date in one transaction under the migration lock; return the
    resulting version. ``where`` names the database (password masked) for errors."""
    latest = migrations[-1].version if migrations else 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL
            )"""
        )
        version = await pg_current_version(conn)
        if version > latest:
            raise StoreError(
                f"the state store {where} has schema version {version}, but this monitord only "
                f"knows versions up to {latest}: it was written by a newer monitord. Upgrade "
                "monitord, or point state.url at another database."
            )
        for m in migrations:
            if m.version <= version:
                continue
            for stmt in m.statements:
                await conn.execute(stmt)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)",
                m.version,
                m.description,
                now,
            )
            version = m.version
    return version
