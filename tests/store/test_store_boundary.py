"""The store is the only place that speaks SQL: no module outside ``monitord/store/`` imports
``sqlite3`` or holds an SQL statement, so a second backend (PostgreSQL) replaces one package,
not statements scattered through the services and commands.

Read from the source with :mod:`ast`: every ``import sqlite3`` / ``from sqlite3 import …``
(at module level or inside a function), and every string constant that reads as a statement.
The allow-list may only shrink.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "monitord"
STORE = PACKAGE / "store"

SQL_OUTSIDE_STORE: dict[str, str] = {
    "monitord/contracts/store.py": (
        "the support contract's time entries and statements: its own tables and versioned "
        "migrations in the same file, synchronous for the hours commands; it moves under "
        "store/ (and behind a Protocol) with the PostgreSQL store"
    ),
    "monitord/report/store.py": (
        "the uptime roll-ups and the reports sent: their own tables and schema version in the "
        "same file, written in batches off the event loop; moves under store/ with the "
        "PostgreSQL store, like contracts/store.py"
    ),
    "monitord/report/data.py": (
        "the monthly report's read-only queries over incidents, tickets and advisories of one "
        "month; become StoreReader methods when the report moves under store/"
    ),
}
"""Modules outside monitord/store/ allowed to import sqlite3 or hold SQL, with why."""

_STATEMENT = re.compile(
    r"\b(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|CREATE\s+(TABLE|INDEX|VIEW|TRIGGER)\s|DROP\s+(TABLE|INDEX)\s|ALTER\s+TABLE\s"
    r"|PRAGMA\s+\w+|BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\b)",
    re.DOTALL,
)


def speaks_sql(source: str) -> list[str]:
    """What in ``source`` is SQL: sqlite3 imports and statements, one line each."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "sqlite3"
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite3":
            found.append(f"line {node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _STATEMENT.search(node.value)
            if match:
                found.append(f"line {node.lineno}: {match.group(0)[:40]!r}")
    return found


def _outside_store() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(STORE):
            continue
        found = speaks_sql(path.read_text(encoding="utf-8"))
        if found:
            out[str(path.relative_to(ROOT))] = found
    return out


def test_the_check_sees_sql() -> None:
    """The check itself can fail: it sees the store's own statements and imports, and lets
    words that are not statements through."""
    outbox = speaks_sql((STORE / "sqlite" / "outbox.py").read_text(encoding="utf-8"))
    assert any("UPDATE outbox SET" in f for f in outbox)
    assert any("import sqlite3" in f for f in speaks_sql("def f():\n    import sqlite3\n"))
    assert speaks_sql("from sqlite3 import Row\n")
    assert speaks_sql('Q = "SELECT key FROM meta WHERE key = ?"\n')
    assert speaks_sql('Q = "PRAGMA journal_mode = WAL"\n')
    assert not speaks_sql('T = f"UPDATE — {note}"\nK = {"site-update": "UPDATE"}\n')
    assert not speaks_sql('T = "select the sites from the list, then update the rest"\n')


def test_no_sql_outside_the_store() -> None:
    found = _outside_store()
    new = {f: lines for f, lines in found.items() if f not in SQL_OUTSIDE_STORE}
    assert not new, (
        "SQL outside monitord/store/: move the statements into the store package behind a "
        "method of a store.base Protocol (or store.base.StoreReader for another process's "
        "reads), or add the module to SQL_OUTSIDE_STORE with why:\n"
        + "\n".join(f"{f}: {'; '.join(lines)}" for f, lines in sorted(new.items()))
    )
    gone = sorted(set(SQL_OUTSIDE_STORE) - set(found))
    assert not gone, "no longer speak SQL: take them off SQL_OUTSIDE_STORE:\n" + "\n".join(gone)
