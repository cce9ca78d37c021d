"""The store contract suite: the behaviour every store backend must show, exercised only
through the store.base Protocols (monitord.runtime.RuntimeStore), so a second backend runs it
unchanged by adding itself to BACKENDS.

A backend entry builds, from pytest's ``tmp_path``, a ``StoreFactory``: a callable returning a
new, unopened store on the same storage each time it is called (a second call is "the daemon
restarted"). For SQLite that is a file in ``tmp_path``; for PostgreSQL a fresh database of
the session's throwaway server, dropped when the test ends. See docs/ARCHITECTURE.md, "Adding a store
backend".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from monitord.runtime import RuntimeStore
from monitord.store.sqlite import SqliteStore

StoreFactory = Callable[[], RuntimeStore]


def _sqlite(tmp_path: Path) -> StoreFactory:
    path = tmp_path / "state.sqlite3"
    return lambda: SqliteStore(path)


def _postgres(request: pytest.FixtureRequest) -> StoreFactory:
    from monitord.store.postgres import PostgresStore

    # A fresh database of the session's throwaway server (tests/helpers/postgres.py).
    url: str = request.getfixturevalue("postgres_url")
    return lambda: PostgresStore(url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": lambda _request, tmp_path: _sqlite(tmp_path),
    "postgresql": lambda request, _tmp_path: _postgres(request),
}
"""Every store backend the contract runs against, by name (the test id)."""


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[RuntimeStore]:
    s = store_factory()
    await s.open()
    try:
        yield s
    finally:
        await s.close()
