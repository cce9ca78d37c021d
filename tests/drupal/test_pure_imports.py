"""The pure drupal modules drag no I/O in: each is imported in a fresh interpreter, and none of
the modules that open sockets, files of state, processes or event loops may be loaded.

The interpreter runs with ``-S`` and an explicit path (this tree, then the venv's
site-packages), so what the installed environment's start-up hooks import (an editable
install's finder imports ``socket``) does not hide or fake an import made by the code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE = [
    "monitord.drupal.advisory",
    "monitord.drupal.versions",
    "monitord.drupal.description",
    "monitord.drupal.feeds",
    "monitord.drupal.osv",
    "monitord.drupal.releases",
    "monitord.drupal.packages",
    "monitord.drupal.match",
    "monitord.drupal.psa",
    "monitord.drupal.decide",
    "monitord.drupal.events",
    "monitord.drupal.plan",
]

IO_MODULES = ("aiohttp", "asyncio", "sqlite3", "ssl", "socket", "yaml", "subprocess")

CALENDAR_SOCKET = {
    "monitord.drupal.decide",
    "monitord.drupal.events",
    "monitord.drupal.plan",
}
"""Modules that need the agency calendar (patch days): ``monitord.calendar`` uses the
``holidays`` library, which reads its version through ``importlib.metadata`` → ``email`` →
``socket`` (imported, never used). The calendar is outside drupal/; for these modules the
guard holds for everything but ``socket``."""


def loaded_after_import(module: str) -> list[str]:
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"print(json.dumps([m for m in {list(IO_MODULES)!r} if m in sys.modules]))\n"
    )
    site_packages = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{site_packages}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert isinstance(loaded, list)
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_pure_drupal_module_loads_no_io(module: str) -> None:
    loaded = set(loaded_after_import(module))
    if module in CALENDAR_SOCKET:
        loaded.discard("socket")
    assert loaded == set(), f"{module} drags I/O modules in: {sorted(loaded)}"


def test_the_guard_sees_io() -> None:
    """The check itself can fail: the watcher service is I/O and is seen as such."""
    loaded = set(loaded_after_import("monitord.drupal.inventory"))
    assert {"asyncio", "subprocess"} <= loaded
