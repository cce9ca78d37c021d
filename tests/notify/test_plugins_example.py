"""A third-party plugin, installed for real with pip, is discovered, validated, built and used.

The package is tests/plugins/monitord-example-notifier (its own pyproject.toml, entry points in
``monitord.notifiers``). It is installed once per session with ``pip install --no-deps
--target DIR`` from a copy (so no build files land in the tree); each test puts DIR on
``sys.path`` and takes it off again. pip builds it offline with the running environment's
setuptools when that can build wheels, else in pip's usual isolated build environment.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitord.config import loader
from monitord.config.models import Config
from monitord.errors import ConfigError
from monitord.notify.plugins import NOTIFIER_TYPES, available_types, build_notifiers
from monitord.outbox import OutboxSender
from monitord.store.sqlite import SqliteStore
from tests.notify.standins.kit import note


def load_config(directory: Path, **kwargs: Any) -> Config:
    """As the daemon and every command load it: each notifier's type loaded, its options checked."""
    return loader.load_config(directory, notifier_types=NOTIFIER_TYPES, **kwargs)


SOURCE = Path(__file__).resolve().parents[1] / "plugins" / "monitord-example-notifier"
PACKAGE = "monitord_example_notifier"
PIP_TIMEOUT = 180
"""Seconds pip may take (an isolated build fetches setuptools from the package index)."""


def _can_build_offline() -> bool:
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None:
        return False
    major = int(importlib.metadata.version("setuptools").split(".")[0])
    return major >= 61


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("example-plugin")
    src = base / "src"
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = base / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    if _can_build_offline():
        cmd += ["--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*cmd, str(src)], capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"pip could not install the example plugin:\n{result.stderr}"
    assert (target / PACKAGE / "__init__.py").is_file()
    return target


@pytest.fixture
def installed(plugin_dir: Path) -> Iterator[Path]:
    sys.path.insert(0, str(plugin_dir))
    importlib.invalidate_caches()
    try:
        yield plugin_dir
    finally:
        sys.path.remove(str(plugin_dir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()


def _config(tmp_path: Path, notifiers: str) -> Path:
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective}\nstate: {path: state.sqlite3}\nnotifiers:\n" + notifiers
    )
    return tmp_path


def test_not_installed_means_unknown(tmp_path: Path) -> None:
    assert "jsonl" not in available_types()
    with pytest.raises(ConfigError, match="unknown notifier type 'jsonl'"):
        load_config(_config(tmp_path, "  audit: {type: jsonl, path: out.jsonl}\n"))


async def test_installed_plugin_is_discovered_validated_built_and_used(
    installed: Path, tmp_path: Path
) -> None:
    assert {"jsonl", "example-old-api", "example-no-send", "example-missing"} <= set(
        available_types()
    )
    # Validated by the plugin's own Options model, located in the file.
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "  audit: {type: jsonl, path: out/, colour: red}\n"))
    text = str(err.value)
    assert "monitord.yml:4:36: notifiers.audit.colour: unknown key `colour`" in text
    assert "allowed keys: path" in text
    assert "notifiers.audit.path: 'out/' is a directory — name a file" in text

    # Broken entry points of the same package do not matter while no notifier names them.
    config = load_config(_config(tmp_path, "  audit: {type: jsonl, path: out.jsonl}\n"))
    notifiers = build_notifiers(config, clock=lambda: datetime(2026, 11, 26, 14, 5, tzinfo=UTC))
    # The built-in `tickets` (tickets-local) comes too: the config names no ticket notifier.
    assert list(notifiers) == ["audit", "tickets"]
    assert type(notifiers["audit"]).__module__ == PACKAGE

    # Used through the durable outbox like any built-in notifier.
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open()
    try:
        n = note("site-down", "audit")
        now = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
        await store.enqueue([n], now)
        sender = OutboxSender(store, notifiers, lambda: now)
        assert await sender.run_once() == 1
        items = await store.outbox_items()
        assert [(i.status, i.external_id) for i in items] == [("sent", n.key)]
    finally:
        await store.close()
        for built in notifiers.values():
            await built.aclose()
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert '"kind": "site-down"' in lines[0]


@pytest.mark.parametrize(
    ("type_name", "words"),
    [
        ("example-old-api", ["notifier plugin 'example-old-api'", "api_version is 42"]),
        ("example-no-send", ["notifier plugin 'example-no-send'", "has no send() method"]),
        ("example-missing", ["notifier plugin 'example-missing'", "cannot be imported"]),
    ],
)
def test_broken_plugins_are_config_errors_naming_them(
    installed: Path, tmp_path: Path, type_name: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, f"  audit: {{type: {type_name}, path: out.jsonl}}\n"))
    (issue,) = err.value.issues
    assert issue.line == 4
    assert issue.path == "notifiers.audit.type"
    for word in words:
        assert word in issue.problem
    assert "monitord-example-notifier" in issue.problem
    assert "upgrade" in issue.fix or "reinstall" in issue.fix
