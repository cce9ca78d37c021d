"""Guards on the shape of the package: no new import cycle, no new oversized module, and the
configuration models importable without the YAML loader.

The import graph is read from the source with :mod:`ast`, not by importing: an edge A → B for
every ``import B`` / ``from B import x`` in A (``from P import m`` where ``m`` is a submodule of
``P`` is an edge to ``P.m``), wherever it stands: at module level, under ``if TYPE_CHECKING:``
and inside functions. The last two do not run at import time, but they are how a cycle is
hidden: two modules that know each other through an annotation or a lazy import are still a
cycle of the design, and the one that breaks when the import moves. (Counting them adds no
noise today: commands import the package lazily, and nothing imports a command.)

The allow-lists below may only shrink: a cycle or a long module that disappears must be taken
off (the test says so), and a new one fails.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitord"

KNOWN_CYCLES: dict[frozenset[str], str] = {}
"""Every strongly connected component of more than one module, with why it is still there."""

DAEMON_IMPORTERS = frozenset(
    {
        "monitord.commands.check_config",
        "monitord.commands.run",
        "monitord.commands.status",
        "monitord.demo",
    }
)
"""The entry points that build or name a Daemon. Everything else (services, the API, probes)
is given a runtime (monitord.runtime) and must not import the daemon."""

MAX_MODULE_LINES = 600
"""A module longer than this usually holds more than one concern."""

LONG_MODULES: dict[str, str] = {
    "monitord/config/models.py": "one concern, the configuration schema: a model per section",
    "monitord/daemon.py": "life cycle, reload, scheduling and the runtime the services get",
    "monitord/notify/render.py": "every notification text, by event kind",
}
"""Modules over MAX_MODULE_LINES, with why."""


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(frozenset(component))
    return out


def _show(component: frozenset[str]) -> str:
    return ", ".join(sorted(component))


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_the_graph_sees_submodule_and_type_checking_imports() -> None:
    graph = import_graph()
    # `from monitord.config import models` is an edge to the submodule, not to the package.
    assert "monitord.config.models" in graph["monitord.notify.plugins"]
    # contracts.config_checks names Doc and Issues only under TYPE_CHECKING.
    assert "monitord.config.nodes" in graph["monitord.contracts.config_checks"]


def test_no_new_import_cycle() -> None:
    found = cycles(import_graph())
    new = [c for c in found if c not in KNOWN_CYCLES]
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert not new, "new import cycle(s) in monitord/:\n" + "\n".join(_show(c) for c in new)
    assert not gone, "cycle(s) gone: take them off KNOWN_CYCLES:\n" + "\n".join(
        _show(c) for c in gone
    )


def test_only_entry_points_import_the_daemon() -> None:
    graph = import_graph()
    importers = {name for name, targets in graph.items() if "monitord.daemon" in targets}
    new = sorted(importers - DAEMON_IMPORTERS)
    assert not new, (
        "these modules import monitord.daemon: give them what they need through "
        "monitord.runtime (a Protocol the daemon implements) instead:\n" + "\n".join(new)
    )
    gone = sorted(DAEMON_IMPORTERS - importers)
    assert not gone, "no longer import the daemon: take them off DAEMON_IMPORTERS:\n" + "\n".join(
        gone
    )


def test_no_new_long_module() -> None:
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules().values()
    }
    long = {f for f, n in lengths.items() if n > MAX_MODULE_LINES}
    new = sorted(f"{f} ({lengths[f]} lines)" for f in long - set(LONG_MODULES))
    gone = sorted(set(LONG_MODULES) - long)
    assert not new, (
        f"module(s) over {MAX_MODULE_LINES} lines: split them by concern, or add them to "
        "LONG_MODULES with the reason one concern needs the length:\n" + "\n".join(new)
    )
    assert not gone, "now short enough: take them off LONG_MODULES:\n" + "\n".join(gone)


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("monitord.config.models", ("yaml", "monitord.config.loader", "monitord.notify")),
        ("monitord.config.loader", ("monitord.notify",)),
    ],
)
def test_import_does_not_load(module: str, absent: tuple[str, ...]) -> None:
    """In a fresh interpreter: the configuration models do not bring the YAML loader, and the
    loader does not bring the notifiers (the plugin registry is passed in by its callers)."""
    probe = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {absent!r} if any(n == m or n.startswith(m + '.') "
        "for n in sys.modules)]\n"
        "print(' '.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [], f"importing {module} loaded {done.stdout.strip()}"


def test_every_caller_passes_the_notifier_types() -> None:
    """The loader checks ``notifiers:`` entries against the types it is given; the daemon and
    every command give it the installed ones, so a bad notifier is a located error everywhere
    (a call without them would accept what ``check-config`` refuses)."""
    calls: list[str] = []
    missing: list[str] = []
    for path in _modules().values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            named = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            args = node.args
            if named == "to_thread" and args and isinstance(args[0], ast.Name):
                named = args[0].id  # asyncio.to_thread(load_config, …)
            if named != "load_config":
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            calls.append(where)
            if not any(k.arg == "notifier_types" for k in node.keywords):
                missing.append(where)
    assert len(calls) >= 10  # the daemon (start, reload) and the commands
    assert not missing, "load_config without notifier_types=NOTIFIER_TYPES:\n" + "\n".join(missing)
