"""Every public method and attribute of the SQLite store is declared by a store.base Protocol
(monitord.runtime.RuntimeStore), so code typed against the Protocols can do all SqliteStore
does and a second backend knows everything it must offer."""

from __future__ import annotations

import inspect
from pathlib import Path

from monitord.runtime import RuntimeStore
from monitord.store.base import SecurityStore, Store, TicketStore
from monitord.store.sqlite import SqliteStore

SQLITE_ONLY: dict[str, str] = {
    "path": "the SQLite file (tests, benchmarks and log lines read it)",
    "commits": "transactions committed since open: tests and benchmarks see batching at work",
    "flushed": "an event tests and benchmarks await after a background flush",
}
"""Public names of SqliteStore outside the Protocols, with why."""


def _declared(protocol: type) -> set[str]:
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls is object or not getattr(cls, "_is_protocol", False):
            continue
        names |= {n for n in vars(cls) if not n.startswith("_")}
        names |= {n for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")}
    return names


def _public(store: SqliteStore) -> set[str]:
    return {n for n in dir(store) if not n.startswith("_")}


def test_runtime_store_is_the_three_protocols() -> None:
    assert _declared(RuntimeStore) == (
        _declared(Store) | _declared(SecurityStore) | _declared(TicketStore)
    )


def test_every_public_name_of_the_sqlite_store_is_in_a_protocol(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    missing = sorted(_public(store) - _declared(RuntimeStore) - set(SQLITE_ONLY))
    assert not missing, (
        "SqliteStore offers what no store.base Protocol declares: add it to Store, "
        "SecurityStore or TicketStore (so callers type against the Protocol), or to "
        "SQLITE_ONLY with why:\n" + "\n".join(missing)
    )
    stale = sorted(set(SQLITE_ONLY) - _public(store))
    assert not stale, "no longer on SqliteStore: take them off SQLITE_ONLY:\n" + "\n".join(stale)
    # And every declared method exists, with the same parameters.
    for name in sorted(_declared(RuntimeStore)):
        member = getattr(RuntimeStore, name, None)
        if not inspect.isfunction(member):
            continue
        want = list(inspect.signature(member).parameters)
        got = list(inspect.signature(getattr(SqliteStore, name)).parameters)
        assert got == want, f"SqliteStore.{name}{got} differs from the Protocol's {want}"
