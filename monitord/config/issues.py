"""Collecting configuration problems: every problem of every file, located, sorted in reading
order, without duplicates, and without the values that ``${NAME}`` references put in."""

from __future__ import annotations

from monitord.config import secrets
from monitord.config.nodes import Doc, Path_, dotted
from monitord.errors import ConfigIssue

MIN_REDACTED_ANYWHERE = 4
"""A substituted value this long or longer is removed from every message, wherever it is; a
shorter one (a port, a flag) only from messages about its own value or the mappings holding it,
so that replacing "1" does not garble every message that has a 1 in it."""

MAX_SHOWN_VALUE = 60
"""Characters of a wrong value echoed back in a message before it is cut short."""


class Issues:
    """Collects issues, each with the data path it is about (for redaction and sorting)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, ConfigIssue, Doc | None, Path_]] = []
        self.docs: list[Doc] = []
        self._order: dict[str, int] = {}
        self.current: str | None = None
        """The file being read (where an unexpected exception is reported)."""

    def file(self, name: str) -> None:
        """Register a file so its problems sort in reading order; it is the file being read."""
        self._order.setdefault(name, len(self._order))
        self.current = name

    def add(
        self,
        doc: Doc | None,
        file: str,
        line: int,
        col: int,
        path: Path_,
        problem: str,
        fix: str,
    ) -> None:
        order = self._order.setdefault(file, len(self._order))
        issue = ConfigIssue(file, line, col, dotted(path), problem, fix)
        self.items.append((order, issue, doc, path))

    def at(self, doc: Doc, path: Path_, problem: str, fix: str, *, key: bool = False) -> None:
        line, col = doc.where(path, key=key)
        self.add(doc, doc.file, line, col, path, problem, fix)

    def bad_value(self, doc: Doc, path: Path_, problem: str, fix: str) -> None:
        """A value that could not be read at all; validation will not mention it again."""
        doc.reported.add(path)
        self.at(doc, path, problem, fix)

    def result(self) -> list[ConfigIssue]:
        """Every issue, in file then line order, without duplicates or substituted values."""
        everywhere = [
            r
            for doc in self.docs
            for r in doc.resolved.values()
            if all(len(v) >= MIN_REDACTED_ANYWHERE for v in r.secrets)
        ]
        out = []
        seen: set[str] = set()
        for _, issue, doc, path in sorted(self.items, key=lambda t: (t[0], t[1].line, t[1].col)):
            issue = _redact_issue(issue, doc, path, everywhere)
            text = str(issue)
            if text not in seen:
                seen.add(text)
                out.append(issue)
        return out


def _redact_issue(
    issue: ConfigIssue, doc: Doc | None, path: Path_, everywhere: list[secrets.Resolved]
) -> ConfigIssue:
    """Strip substituted values: those related to ``path`` (above or below it) and all long
    ones from any file."""
    related = list(everywhere)
    if doc is not None:
        related += [
            r
            for p, r in doc.resolved.items()
            if r.substituted and (p[: len(path)] == path or path[: len(p)] == p)
        ]
    if not related:
        return issue
    return ConfigIssue(
        issue.file,
        issue.line,
        issue.col,
        issue.path,
        secrets.redact(issue.problem, related),
        secrets.redact(issue.fix, related),
    )
