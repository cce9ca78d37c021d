"""The pure core drags no I/O in, and its list cannot silently rot.

The pure core (docs/ARCHITECTURE.md) is the modules below: plain functions and values with
``now`` passed in. Three guards:

1. each core module is imported in a fresh interpreter and none of :data:`IO_MODULES` may be
   loaded — the failure names the chain of imports that brought one in;
2. every module a core module imports when it runs (module level and inside functions; not
   under ``if TYPE_CHECKING:``, which never runs), and every package above it, is in the core
   too: a module is either in :data:`CORE` or imported by no core module, so the list is the
   closure of its own imports and a new import from the core to the edges fails here;
3. no core module names an I/O module in its own imports (that one's load could hide behind an
   earlier import of the same module in guard 1).

The interpreter runs with ``-S`` and an explicit path (this tree, then the venv's
site-packages), so what the installed environment's start-up hooks import (an editable
install's finder imports ``socket``) does not hide or fake an import made by the code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitord"

CORE: tuple[str, ...] = (
    "monitord",
    "monitord.events",
    "monitord.results",
    "monitord.incidents",
    "monitord.site_incident",
    "monitord.routing",
    "monitord.storm",
    "monitord.maintenance",
    "monitord.cluster",
    "monitord.cluster.quorum",
    "monitord.cluster.config_warnings",
    "monitord.cluster.identity",
    "monitord.cluster.view",
    "monitord.store.nodes",
    "monitord.oncall",
    "monitord.tickets",
    "monitord.calendar",
    "monitord.calendar.hours",
    "monitord.calendar.patchday",
    "monitord.calendar.windows",
    "monitord.durations",
    "monitord.redact",
    "monitord.certexpiry",
    "monitord.timeinput",
    "monitord.limits",
    "monitord.errors",
    "monitord.config",
    "monitord.config.models",
    "monitord.contracts",
    "monitord.contracts.ledger",
    "monitord.contracts.models",
    "monitord.notify",
    "monitord.notify.base",
    "monitord.notify.names",
    "monitord.notify.render",
    "monitord.store",
    "monitord.store.base",
    "monitord.drupal",
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
)
"""The pure core, grouped as in docs/ARCHITECTURE.md's module map. The configuration models,
the notification value and its renderer, and the store's Protocols and row values are here
because the core speaks in them; the packages because importing a module runs its package."""

IO_MODULES = ("aiohttp", "asyncio", "sqlite3", "ssl", "socket", "yaml", "subprocess")

HARMLESS_IMPORTERS: dict[str, frozenset[str]] = {"socket": frozenset({"email.utils"})}
"""I/O modules the standard library loads for a pure reason of its own, by importer.
``email.utils`` imports ``socket`` for ``make_msgid``'s host name and nothing else; it comes
with ``importlib.metadata`` (pydantic reads its plugins' entry points, ``holidays`` its own
version) and with ``email.utils.parseaddr`` (the configuration's address check). It opens
nothing: the socket module is loaded, never used. Loaded by anything else, it is a drag."""

_PROBE = """
import json, sys, traceback
IO = set(json.loads(sys.argv[1]))
seen = {}
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in IO and name not in seen:
            chain = [
                f.f_globals.get("__name__")
                for f, _ in traceback.walk_stack(None)
                if not f.f_code.co_filename.startswith("<frozen")
            ]
            chain = [c for c in reversed(chain) if c and c not in ("__main__",)]
            seen[name] = list(dict.fromkeys(chain))
        return None
sys.meta_path.insert(0, Watch())
__import__(sys.argv[2])
print(json.dumps({m: seen.get(m, []) for m in IO if m in sys.modules}))
"""


def loaded_after_import(module: str) -> dict[str, list[str]]:
    """The I/O modules loaded by importing ``module`` alone, each with the chain of modules
    whose import brought it in (outermost first; the last one imported it)."""
    site_packages = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, json.dumps(IO_MODULES), module],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{site_packages}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert isinstance(loaded, dict)
    return loaded


def drags(module: str) -> dict[str, str]:
    """The I/O modules ``module`` drags in, each with how (harmless importers left out)."""
    out: dict[str, str] = {}
    for name, chain in loaded_after_import(module).items():
        importer = chain[-1] if chain else "?"
        if importer in HARMLESS_IMPORTERS.get(name, frozenset()):
            continue
        out[name] = " > ".join(chain)
    return out


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_no_io(module: str) -> None:
    found = drags(module)
    assert found == {}, f"{module} drags I/O in: " + "; ".join(
        f"{name} via {how}" for name, how in sorted(found.items())
    )


def test_the_guard_sees_io() -> None:
    """The check itself can fail: the advisory watcher's inventory runs commands, and the
    store opens SQLite from an event loop's thread; both are seen, with the chain."""
    inventory = drags("monitord.drupal.inventory")
    assert {"asyncio", "subprocess"} <= set(inventory)
    store = drags("monitord.store.sqlite")
    assert "sqlite3" in store
    assert store["sqlite3"].split(" > ")[-1].startswith("monitord.store.sqlite")


def test_harmless_importers_are_narrow() -> None:
    """``socket`` loaded through ``email.utils`` is let through, loaded by the probes is not."""
    assert "socket" not in drags("monitord.config.models")
    assert "socket" in loaded_after_import("monitord.config.models")
    assert "socket" in drags("monitord.probes.base")


# ---------------------------------------------------------------- the list is closed


def _module_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str, name: str, is_package: bool) -> set[str]:
    """Every module name ``source`` (module ``name``) imports when it runs: at module level
    and inside functions, not under ``if TYPE_CHECKING:``. ``from P import x`` yields
    ``P.x`` as well as ``P`` (``x`` may be a submodule; the caller keeps the names it knows)."""
    out: set[str] = set()
    todo: list[ast.AST] = [ast.parse(source)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def core_imports() -> dict[str, set[str]]:
    """Each core module → every module of the package it runs, with the packages above."""
    files = _module_files()
    out: dict[str, set[str]] = {}
    for name in CORE:
        path = files[name]
        found = runtime_imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        out[name] = {p for m in found if m in files for p in _with_parents(m)}
    return out


def test_core_list_names_real_modules() -> None:
    files = _module_files()
    assert [m for m in CORE if m not in files] == []
    assert len(set(CORE)) == len(CORE)


def test_core_is_closed_under_its_imports() -> None:
    """A module is in the core or imported by no core module."""
    core = set(CORE)
    outside = {
        f"{name} -> {target}"
        for name, targets in core_imports().items()
        for target in targets
        if target not in core
    }
    assert outside == set(), (
        "core modules import modules outside the core; make the import pure (move the value "
        "it needs to a pure module) or, if the target is pure, add it to CORE: "
        + ", ".join(sorted(outside))
    )


def test_core_modules_name_no_io_module() -> None:
    files = _module_files()
    named = {
        f"{name} imports {target}"
        for name in CORE
        for target in runtime_imports(
            files[name].read_text(encoding="utf-8"), name, files[name].name == "__init__.py"
        )
        if target.split(".")[0] in IO_MODULES
    }
    assert named == set()


def test_runtime_imports_reads_lazy_imports_and_skips_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    import sqlite3\n"
        "else:\n"
        "    import json\n"
        "def f():\n"
        "    import socket\n"
        "    from ..other import thing\n"
    )
    found = runtime_imports(source, "pkg.sub.mod", is_package=False)
    assert {"pkg.sub", "pkg.sub.sibling", "json", "socket", "pkg.other.thing"} <= found
    assert "sqlite3" not in found
