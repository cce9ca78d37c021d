"""The data of one configuration file as written, with the line and column of every value.

A :class:`Doc` is what :mod:`.reader` makes of a YAML file and what every later step reports
against: validation (:mod:`.explain`), the checks across keys and files (:mod:`.crossref`) and
the contract checks. Paths are tuples of keys and list indexes, shown dotted:
``('sites', 0, 'checks', 1, 'interval')`` is ``sites[0].checks[1].interval``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitord.config import secrets

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    """Where one value sits: its key (None for list items and the document root) and itself."""

    key: tuple[int, int] | None
    value: tuple[int, int]
    collection: bool


@dataclass
class Doc:
    """One parsed file: plain data, the position of every path, and substituted strings."""

    file: str
    data: Any
    pos: dict[Path_, Pos] = field(default_factory=dict)
    resolved: dict[Path_, secrets.Resolved] = field(default_factory=dict)
    reported: set[Path_] = field(default_factory=set)
    """Values already reported while parsing (left as null): validation errors about them
    would only repeat the problem in worse words."""
    union_reported: set[Path_] = field(default_factory=set)
    """Values of a plain union (``int | tuple[int, ...]``) already reported for one member."""

    def already_reported(self, path: Path_) -> bool:
        return any(path[: len(p)] == p for p in self.reported)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``: its key when ``key`` (or when it is a
        collection with a key), else its value. An unknown path falls back to its parent."""
        while path not in self.pos and path:
            path = path[:-1]
        p = self.pos.get(path)
        if p is None:
            return (1, 1)
        if p.key is not None and (key or p.collection):
            return p.key
        return p.value

    def secret_text(self, path: Path_) -> secrets.Resolved | None:
        return self.resolved.get(path)


def dotted(path: Path_) -> str:
    """``('sites', 0, 'checks', 1, 'interval')`` → ``sites[0].checks[1].interval``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def value_at(data: Any, path: Path_) -> Any:
    """The value at ``path`` in plain data, or None when there is none."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
            continue
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            continue
        return None
    return data
