"""What a notifier plugin builds on: the typed package (PEP 561 ``py.typed``, in the wheel too)
and the names the plugin-facing modules export (``__all__``), which cover what
docs/notifiers.md tells a plugin author to import."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

PLUGIN_MODULES = (
    "monitord.clock",
    "monitord.errors",
    "monitord.events",
    "monitord.notify.base",
    "monitord.notify.http",
    "monitord.notify.plugins",
    "monitord.notify.render",
)
"""The modules a notifier plugin imports from (docs/notifiers.md "Writing a notifier plugin")."""

PIP_TIMEOUT = 180
"""Seconds pip may take (its isolated build fetches setuptools from the package index)."""


def test_the_package_says_it_is_typed() -> None:
    assert resources.files("monitord").joinpath("py.typed").is_file()


@pytest.mark.parametrize("name", PLUGIN_MODULES)
def test_plugin_facing_modules_export_what_they_define(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__dict__.get("__all__")
    assert exported, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []


def test_the_documented_imports_are_exported() -> None:
    doc = (ROOT / "docs" / "notifiers.md").read_text()
    section = doc[doc.index("## Writing a notifier plugin") :]
    imports = re.findall(r"^from (monitord[\w.]*) import (.+)$", section, re.MULTILINE)
    assert imports, "the plugin section shows no monitord import"
    for name, names in imports:
        assert name in PLUGIN_MODULES
        exported = importlib.import_module(name).__all__
        for imported in (n.strip() for n in names.split(",")):
            assert imported in exported, f"{name} does not export {imported}"
    for name, attr in re.findall(r"`(monitord(?:\.\w+)+)\.(\w+)", section):
        if name in PLUGIN_MODULES:
            assert attr in importlib.import_module(name).__all__, f"{name}.{attr}"


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    """Built as pip builds it for an install, from a copy (no build files land in the tree)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "monitord", src / "monitord", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path / "wheel"
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    assert result.returncode == 0, f"pip could not build monitord's wheel:\n{result.stderr}"
    (wheel,) = out.glob("monitord-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "monitord/py.typed" in names
    assert {m.replace(".", "/") + ".py" for m in PLUGIN_MODULES} <= names
