"""What the status page, /metrics and ``monitord status`` read from a store file beside the
daemon: thin callers of the store's read-only view (store.base.StoreReader), blocking — run
them on a thread."""

from __future__ import annotations

from pathlib import Path

from monitord.store.base import QueuedItem, StoreExtras
from monitord.store.sqlite.reader import PATCH_QUEUE_SHOWN, SqliteReader

__all__ = ["PATCH_QUEUE_SHOWN", "QueuedItem", "StoreExtras", "read_extras", "read_meta"]


def read_extras(path: Path) -> StoreExtras:
    """The aggregates, read from the store file at ``path`` (store.base.StoreReader.extras)."""
    return SqliteReader(path).extras()


def read_meta(path: Path, prefix: str) -> dict[str, str]:
    """Meta rows whose key starts with ``prefix`` (store.base.StoreReader.meta).

    Raises errors.StoreError (or ``OSError``) when the file cannot be read — e.g. the store of
    a ``DynamicUser=`` service read by another user.
    """
    return SqliteReader(path).meta(prefix)
