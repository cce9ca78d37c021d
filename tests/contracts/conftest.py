"""Fixtures for the contract tests: loopback SMTP, and the hours ledger on every backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitord.contracts.store import SqliteTimeEntryStore
from monitord.store.postgres.hours import PgTimeEntryStore
from monitord.store.side import HoursStore
from tests.helpers.smtp import smtp_server, smtp_server_factory  # noqa: F401
from tests.helpers.tls import test_ca  # noqa: F401


@dataclass(frozen=True)
class HoursStoreFactory:
    """A new, open hours store on the same storage each call (a second call is "reopened"),
    and ``state``: the monitord.yml ``state:`` mapping that names that storage."""

    state: str
    open: Callable[[], HoursStore]

    def __call__(self) -> HoursStore:
        return self.open()


def _sqlite(_request: pytest.FixtureRequest, tmp_path: Path) -> HoursStoreFactory:
    path = tmp_path / "state.sqlite3"
    return HoursStoreFactory(f"{{path: {path}}}", lambda: SqliteTimeEntryStore(path))


def _postgres(request: pytest.FixtureRequest, _tmp_path: Path) -> HoursStoreFactory:
    # A fresh database of the session's throwaway server (tests/helpers/postgres.py).
    url: str = request.getfixturevalue("postgres_url")
    return HoursStoreFactory(f"{{url: '{url}'}}", lambda: PgTimeEntryStore(url))


HOURS_BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], HoursStoreFactory]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
}
"""Every backend the hours ledger runs on, by name (the test id)."""


@pytest.fixture(params=sorted(HOURS_BACKENDS))
def hours_store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> HoursStoreFactory:
    return HOURS_BACKENDS[request.param](request, tmp_path)
