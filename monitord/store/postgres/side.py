"""Tables of their own in the PostgreSQL store, for the synchronous parts (the hours ledger, the
report's tables): the counterpart of store.sqlite.side on ``state.url``.

Those parts are synchronous code, called from commands and from the daemon's worker threads;
the project's driver, asyncpg, is asynchronous. :class:`SyncPostgres` bridges the two without
a second driver: a private event loop runs in a dedicated thread and owns one connection; a
call from any thread runs an ``async`` function on that connection there and waits for its
answer. Calls are serialised (one operation at a time on the connection, in call order). A
call that fails drops the connection (a broken one is never reused); the next call opens a
new one, so a restarted server is reconnected to on the next use. The loop keeps running
between calls, so a connection the server ended is seen as closed before it is used again.

Each part's schema is versioned in a ``<part>_schema_version`` table of its own, as on SQLite,
with the same version numbers meaning the same tables (so ``monitord state migrate`` copies
like for like), applied under the store's migration lock (store.pg_migrations), so two nodes
opening an old database migrate it once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self, TypeVar

import asyncpg

from monitord.errors import StoreError
from monitord.redact import display_url
from monitord.store.pg_migrations import MIGRATION_LOCK_KEY
from monitord.store.postgres.base import PG_CONNECT_TIMEOUT, PG_STATEMENT_TIMEOUT, pg_connect
from monitord.store.sqlite.side import SideMigration

_T = TypeVar("_T")

SYNC_CALL_TIMEOUT = PG_CONNECT_TIMEOUT + PG_STATEMENT_TIMEOUT + timedelta(seconds=10)
"""How long a synchronous caller waits for one call: a connect and a statement at their own
limits, and a margin. Reached only when the loop thread is stuck; the caller hears so."""

Op = Callable[[asyncpg.Connection], Awaitable[_T]]


class SyncPostgres:
    """One asyncpg connection driven from synchronous code (see the module docstring)."""

    def __init__(self, url: str, application: str) -> None:
        self.url = url
        self.where = display_url(url)
        self._application = application
        self._conn: asyncpg.Connection | None = None
        self._loop = asyncio.new_event_loop()
        self._lock: asyncio.Lock | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"pg-{application}", daemon=True
        )
        self._thread.start()
        self._closed = False

    def call(self, doing: str, op: Op[_T]) -> _T:
        """``op(connection)`` on the loop thread; its result, or a StoreError saying what
        could not be done (``doing``) and why."""
        if self._closed:
            raise StoreError(f"the state store {self.where} is closed")
        fut: Future[_T] = asyncio.run_coroutine_threadsafe(self._run(doing, op), self._loop)
        return fut.result(SYNC_CALL_TIMEOUT.total_seconds())

    async def _run(self, doing: str, op: Op[_T]) -> _T:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await pg_connect(self.url, application=self._application)
                return await op(self._conn)
            except StoreError:
                raise
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
                TimeoutError,
            ) as exc:
                self._drop()
                text = str(exc).replace(self.url, self.where)
                raise StoreError(
                    f"the state store {self.where} could not {doing}: "
                    f"{type(exc).__name__}: {text}. Check that PostgreSQL is running and "
                    "reachable and that state.url names the right host, database, user and "
                    "password."
                ) from exc

    def schema_version(self, table: str) -> int:
        """The version recorded in a part's schema-version ``table``."""

        async def op(conn: asyncpg.Connection) -> int:
            return int(await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {table}"))  # noqa: S608 (a class constant)

        return self.call("read the schema version", op)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), PG_CONNECT_TIMEOUT.total_seconds())
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                conn.terminate()

    def close(self) -> None:
        """Close the connection and end the loop thread; harmless twice."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(
                SYNC_CALL_TIMEOUT.total_seconds()
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


async def pg_side_migrate(
    conn: asyncpg.Connection,
    table: str,
    what: str,
    where: str,
    migrations: tuple[SideMigration, ...],
) -> int:
    """Bring a part's tables up to date in one transaction under the migration lock; the
    resulting version. ``table`` is its schema-version table, ``what`` names it in errors."""
    latest = migrations[-1].version
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (version integer PRIMARY KEY, "
            "description text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        version = int(await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {table}"))  # noqa: S608 (a class constant)
        if version > latest:
            raise StoreError(
                f"{what} in {where} have schema version {version}, but this monitord only "
                f"knows versions up to {latest}: upgrade monitord"
            )
        now = datetime.now(UTC)
        for m in migrations:
            if m.version <= version:
                continue
            for stmt in m.statements:
                await conn.execute(stmt)
            await conn.execute(
                f"INSERT INTO {table} (version, description, applied_at) VALUES ($1, $2, $3)",  # noqa: S608
                m.version,
                m.description,
                now,
            )
            version = m.version
    return version


def open_side_tables(
    url: str, application: str, table: str, what: str, migrations: tuple[SideMigration, ...]
) -> SyncPostgres:
    """A connection to ``url`` for a part whose tables (``migrations``, versioned in
    ``table``) are brought up to date first; closed again if that fails."""
    pg = SyncPostgres(url, application)
    try:
        pg.call(
            f"bring {what} up to date",
            lambda c: pg_side_migrate(c, table, what, pg.where, migrations),
        )
    except BaseException:
        pg.close()
        raise
    return pg


class PgSideTables:
    """A part's own tables in the PostgreSQL store (the hours ledger, the report's tables):
    the connection, opened with the part's schema brought up to date, and its life cycle. A
    subclass names ``SCHEMA_TABLE``, ``WHAT``, ``APPLICATION`` and ``MIGRATIONS``."""

    SCHEMA_TABLE: ClassVar[str]
    WHAT: ClassVar[str]
    APPLICATION: ClassVar[str]
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]]

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = open_side_tables(
            url, self.APPLICATION, self.SCHEMA_TABLE, self.WHAT, self.MIGRATIONS
        )
        self.where = self.pg.where

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pg.close()

    def schema_version(self) -> int:
        return self.pg.schema_version(self.SCHEMA_TABLE)
