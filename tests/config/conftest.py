"""Shared helpers for the configuration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Variables that change how a configuration is found or resolved: every test starts without them.
_AMBIENT = ("CREDENTIALS_DIRECTORY", "MONITORD_CONFIG", "STATE_DIRECTORY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _AMBIENT:
        monkeypatch.delenv(name, raising=False)
    yield
