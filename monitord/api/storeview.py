"""What the status page, /metrics, ``monitord status`` and the Drupal inventory read from the
state store beside (or inside) the daemon: thin callers of the store's read-only view
(store.base.StoreReader), picked by the configuration — the SQLite file at ``state.path``
(store.sqlite.reader) or the PostgreSQL database of ``state.url`` (store.postgres.reader).
Blocking — run them on a thread."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from monitord.store.base import QueuedItem, StoreExtras, StoreReader
from monitord.store.sqlite.reader import PATCH_QUEUE_SHOWN, SqliteReader

if TYPE_CHECKING:
    from monitord.config.models import Config

__all__ = [
    "PATCH_QUEUE_SHOWN",
    "QueuedItem",
    "SharedReader",
    "StoreExtras",
    "read_extras",
    "read_meta",
    "reader_for",
]


def _store_of(config: Config) -> str:
    """What names ``config``'s store: its PostgreSQL URL, else its SQLite file."""
    url = config.main.state.url
    return url if url is not None else str(config.state_path())


def reader_for(config: Config) -> StoreReader:
    """A new reader of ``config``'s store: the PostgreSQL database when ``state.url`` is set,
    else the SQLite file at ``state.path``. Close it when done."""
    url = config.main.state.url
    if url is not None:
        from monitord.store.postgres.reader import PgReader

        return PgReader(url)
    return SqliteReader(config.state_path())


def read_extras(config: Config) -> StoreExtras:
    """The aggregates of ``config``'s store (store.base.StoreReader.extras), read by a reader
    opened and closed here."""
    reader = reader_for(config)
    try:
        return reader.extras()
    finally:
        reader.close()


def read_meta(config: Config, prefix: str) -> dict[str, str]:
    """Meta rows of ``config``'s store whose key starts with ``prefix``
    (store.base.StoreReader.meta).

    Raises errors.StoreError (or ``OSError``) when the store cannot be read — e.g. the SQLite
    file of a ``DynamicUser=`` service read by another user, or a PostgreSQL server that is
    down.
    """
    reader = reader_for(config)
    try:
        return reader.meta(prefix)
    finally:
        reader.close()


class SharedReader:
    """One reader kept open across calls, for the daemon's API: every scrape of /metrics and
    every status request reads through the same PostgreSQL connection instead of opening one
    each (on SQLite a reader holds nothing open, so this changes nothing there). Made on first
    use, made anew when the configuration names another store; :meth:`close` at the
    service's stop (a later call opens a new one). Safe from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: str | None = None
        self._reader: StoreReader | None = None

    def _for(self, config: Config) -> StoreReader:
        store = _store_of(config)
        with self._lock:
            old = None
            if self._reader is None or self._store != store:
                old, self._reader, self._store = self._reader, reader_for(config), store
            reader = self._reader
        if old is not None:
            old.close()
        return reader

    def extras(self, config: Config) -> StoreExtras:
        """store.base.StoreReader.extras of ``config``'s store."""
        return self._for(config).extras()

    def close(self) -> None:
        with self._lock:
            reader, self._reader, self._store = self._reader, None, None
        if reader is not None:
            reader.close()
