"""Read a configuration directory into a validated :class:`~monitord.config.models.Config`.

``DIR/monitord.yml`` and every ``DIR/clients/*.yml`` / ``*.yaml`` (sorted) are composed with
PyYAML's safe loader (libyaml when available) into nodes, so every key and value keeps its line and column. ``${NAME}``
references in string values are resolved (:mod:`monitord.config.secrets`). The plain data is
validated with the pydantic models; each pydantic error is mapped back to the line:col of the
offending key or value and reworded as ``FILE:LINE:COL: dotted.path: what is wrong — how to fix``.
Cross-file checks follow (duplicate ids, missing files, an smtp section when contacts exist).
Every problem in every file is collected and raised together as one :class:`ConfigError`.

Paths in messages are dotted with list indexes: ``sites[0].checks[1].interval``.
"""

from __future__ import annotations

import difflib
import os
import re
import ssl
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import holidays
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitord.config import secrets
from monitord.config.models import (
    MAX_ALERT_THRESHOLD,
    ROUTE_PSEUDO_TARGETS,
    ROUTE_WHEN_BUILTIN,
    CheckSpec,
    ClientConfig,
    Config,
    HttpCheck,
    MainConfig,
    TlsCheck,
)
from monitord.contracts.config_checks import check_contracts
from monitord.durations import format_duration
from monitord.errors import ConfigError, ConfigIssue, MonitordError, SecretNotFoundError
from monitord.limits import DEFAULT_PROBE_TIMEOUT, PROBE_TIMEOUT_CEILING

MAIN_FILE = "monitord.yml"
CLIENTS_DIR = "clients"
CLIENT_SUFFIXES = (".yml", ".yaml")
SYSTEM_CONFIG_DIR = Path("/etc/monitord")
CONFIG_DIR_ENV = "MONITORD_CONFIG"

MAX_CONFIG_NODES = 500_000
"""YAML nodes built per file, counting alias expansions: far above any real configuration (a
thousand sites is ~50k), low enough that an alias bomb is refused instead of eating memory."""

MAX_CONFIG_DEPTH = 64
"""Levels of nested lists and mappings in a file: a real configuration is under ten deep. A
deeper one (``[[[[…]]]]`` ten thousand times) is refused before any recursive code (PyYAML's
composer, validation) could exhaust the stack."""

MAX_CONFIG_FILE_BYTES = 64 * 1024 * 1024
"""Size of one configuration file: 100,000 sites take about 12 MB; a larger file is a mistake
(a log or a dump copied in), refused before it is read into memory."""

MAX_SHOWN_VALUE = 60
"""Characters of a wrong value echoed back in a message before it is cut short."""

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------- positions and documents


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


class _Issues:
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


MIN_REDACTED_ANYWHERE = 4
"""A substituted value this long or longer is removed from every message, wherever it is; a
shorter one (a port, a flag) only from messages about its own value or the mappings holding it,
so that replacing "1" does not garble every message that has a 1 in it."""


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


def dotted(path: Path_) -> str:
    """``('sites', 0, 'checks', 1, 'interval')`` → ``sites[0].checks[1].interval``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _abs(p: Path) -> Path:
    """Absolute and normalised, without following symlinks (what the user would type)."""
    return Path(os.path.abspath(p))


def _mark(m: yaml.Mark) -> tuple[int, int]:
    return (m.line + 1, m.column + 1)


# ---------------------------------------------------------------- YAML → data with positions


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _TooBig(Exception):
    pass


class _TooDeep(Exception):
    """Nesting beyond MAX_CONFIG_DEPTH; ``at`` is where, when known."""

    def __init__(self, at: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.at = at


class _Builder:
    """Turns composed YAML nodes into plain data, recording positions and problems."""

    def __init__(
        self,
        loader: Any,
        doc: Doc,
        issues: _Issues,
        environ: typing.Mapping[str, str] | None,
    ) -> None:
        self.loader = loader
        self.doc = doc
        self.issues = issues
        self.environ = environ
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_CONFIG_NODES:
            raise _TooBig
        if len(path) > MAX_CONFIG_DEPTH:
            raise _TooDeep(_mark(node.start_mark))
        if id(node) in self.active:
            self.issues.bad_value(
                self.doc,
                path,
                "an alias refers to a node that contains it (a recursive structure)",
                "remove the recursive *alias",
            )
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                out = []
                for i, item in enumerate(node.value):
                    self._record((*path, i), None, item)
                    out.append(self.build(item, (*path, i)))
                return out
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _record(self, path: Path_, key: yaml.Node | None, value: yaml.Node) -> None:
        self.doc.pos[path] = Pos(
            _mark(key.start_mark) if key is not None else None,
            _mark(value.start_mark),
            isinstance(value, yaml.MappingNode | yaml.SequenceNode),
        )

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        explicit: set[int] | None = None  # key nodes written here, not merged in by `<<:`
        if any(k.tag == _MERGE_TAG for k, _ in node.value):
            explicit = {id(k) for k, _ in node.value if k.tag != _MERGE_TAG}
            try:
                self.loader.flatten_mapping(node)
            except yaml.MarkedYAMLError as exc:
                self._yaml_issue(exc)
        out: dict[Any, Any] = {}
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = _mark(key_node.start_mark)
                self.issues.add(
                    self.doc,
                    self.doc.file,
                    line,
                    col,
                    path,
                    "a key is a list or a mapping",
                    "write keys as plain words, e.g. `name:`",
                )
                continue
            key = key_node.value
            if key in first and (
                explicit is None or (id(key_node) in explicit and id(first[key]) in explicit)
            ):
                line, col = _mark(key_node.start_mark)
                prev = first[key].start_mark.line + 1
                self.issues.add(
                    self.doc,
                    self.doc.file,
                    line,
                    col,
                    (*path, key),
                    f"duplicate key `{key}` (first at line {prev})",
                    "keep one of them; the second would silently replace the first",
                )
                continue
                # A key given explicitly overrides one merged in with `<<:`.
            first[key] = key_node
            self._record((*path, key), key_node, value_node)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        tag = node.tag
        raw = node.value
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in raw:
            # YAML 1.1 reads 17:00 as the base-60 number 1020: keep what the user wrote.
            return raw
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            shown_tag = tag.replace("tag:yaml.org,2002:", "!!")
            self.issues.bad_value(
                self.doc,
                path,
                f"unsupported YAML tag {shown_tag}",
                "remove the tag; configuration values are plain text, numbers, lists and mappings",
            )
            return None
        except ValueError:
            # A timestamp-looking value that is not a real date (2026-13-01): let validation
            # report it as a bad date.
            return raw
        if isinstance(value, datetime):
            return raw
        if isinstance(value, str) and secrets.has_reference(value):
            return self._substitute(value, path)
        return value

    def _substitute(self, text: str, path: Path_) -> str | None:
        try:
            r = secrets.resolve(text, self.environ)
        except secrets.ReferenceSyntaxError as exc:
            problem, _, fix = str(exc).partition("; ")
            self.issues.bad_value(self.doc, path, problem, fix)
            return None
        except secrets.MissingSecretError as exc:
            for name in exc.names:
                self.issues.bad_value(
                    self.doc,
                    path,
                    f"${{{name}}} is not set",
                    secrets.missing_hint(name),
                )
            return None
        except SecretNotFoundError as exc:
            msg = str(exc)
            problem, _, fix = msg.partition("; ")
            self.issues.bad_value(self.doc, path, problem, fix or "check the credential file")
            return None
        self.doc.resolved[path] = r
        return r.value

    def _yaml_issue(self, exc: yaml.MarkedYAMLError) -> None:
        _yaml_error(self.doc.file, exc, self.issues)


def _yaml_error(file: str, exc: yaml.YAMLError, issues: _Issues) -> None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = _mark(mark) if mark is not None else (1, 1)
    problem = str(getattr(exc, "problem", None) or exc).strip()
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    what = f"YAML syntax error: {problem}"
    if context and context_mark is not None and context_mark.line + 1 != line:
        what += f" ({context} at line {context_mark.line + 1})"
    elif context:
        what += f" ({context})"
    both = f"{problem} {context or ''}"
    if "\\t" in problem or "\t" in problem:
        fix = "indent with spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        fix = "quote the value if it contains ': ', or fix the indentation of this line"
    elif "expected a single document" in both:
        fix = "keep one YAML document per file (remove the extra `---`)"
    elif "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        fix = "close the bracket, or separate the items with commas"
    elif "found undefined alias" in problem:
        fix = "define the &anchor before using the *alias"
    elif "could not find expected ':'" in problem:
        fix = "write `key: value` with a space after the colon, or quote the text"
    else:
        fix = "fix the YAML here: check indentation, quotes and brackets"
    issues.add(None, file, line, col, (), what, fix)


def _parse(
    file_path: Path,
    shown: str,
    issues: _Issues,
    environ: typing.Mapping[str, str] | None,
    empty_fix: str,
) -> Doc | None:
    issues.file(shown)
    try:
        with file_path.open("rb") as f:
            raw = f.read(MAX_CONFIG_FILE_BYTES + 1)
        if len(raw) > MAX_CONFIG_FILE_BYTES:
            issues.add(
                None,
                shown,
                1,
                1,
                (),
                f"larger than {MAX_CONFIG_FILE_BYTES // (1024 * 1024)} MiB, the largest "
                "configuration file monitord reads",
                "check that this is the right file; split a very large client list into "
                "several files under clients/",
            )
            return None
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.add(
            None, shown, 1, 1, (), f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        )
        return None
    except OSError as exc:
        issues.add(
            None,
            shown,
            1,
            1,
            (),
            f"cannot be read: {exc.strerror}",
            "check that the file exists and monitord may read it",
        )
        return None
    doc = Doc(shown, None)
    issues.docs.append(doc)
    loader: Any = None
    try:
        loader, node = _compose(text)
        if node is None:
            issues.add(None, shown, 1, 1, (), "the file is empty", empty_fix)
            return None
        if not isinstance(node, yaml.MappingNode):
            line, col = _mark(node.start_mark)
            issues.add(
                None,
                shown,
                line,
                col,
                (),
                "the file is not a mapping of keys",
                "write `key: value` lines at the top level (see the bundled example)",
            )
            return None
        doc.pos[()] = Pos(None, _mark(node.start_mark), True)
        builder = _Builder(loader, doc, issues, environ)
        try:
            doc.data = builder.build(node, ())
        except _TooBig:
            issues.add(
                None,
                shown,
                1,
                1,
                (),
                f"more than {MAX_CONFIG_NODES} values once aliases are expanded",
                "split the file or use fewer nested *aliases",
            )
            return None
    except (_TooDeep, RecursionError) as exc:
        at = exc.at if isinstance(exc, _TooDeep) else None
        line, col = at or _deep_mark(text) or (1, 1)
        issues.add(
            None,
            shown,
            line,
            col,
            (),
            f"lists and mappings nested more than {MAX_CONFIG_DEPTH} levels deep",
            "a configuration is a few levels deep: check the brackets and the indentation "
            "from here on",
        )
        return None
    except yaml.YAMLError as exc:
        _yaml_error(shown, exc, issues)
        return None
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def _compose(text: str) -> tuple[Any, yaml.Node | None]:
    """Compose the single document of ``text`` with libyaml when PyYAML has it (10× faster
    on a large client file), else in Python. A broken file is composed again in Python so the
    wording of syntax errors does not depend on how PyYAML was built."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        loader = fast(text)
        try:
            return loader, loader.get_single_node()
        except yaml.YAMLError as exc:
            loader.dispose()
            if "maximum nesting depth" in str(exc):
                # libyaml's own depth limit: PyYAML's recursive composer would not survive it.
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                raise _TooDeep(_mark(mark) if mark is not None else None) from exc
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def _deep_mark(text: str) -> tuple[int, int] | None:
    """Where ``text`` first nests deeper than MAX_CONFIG_DEPTH, found with PyYAML's event
    parser (a state machine, not recursive), or None when it cannot be found. Used only when
    PyYAML's Python composer ran out of stack (libyaml's own depth error carries its mark)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                mark: Any = event.start_mark
                if depth > MAX_CONFIG_DEPTH + 1 and mark is not None:
                    return _mark(mark)  # (the top-level mapping is depth 1)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


# ---------------------------------------------------------------- pydantic errors → issues


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _key_of(name: str, info: Any) -> str:
    return str(info.alias or name)


def _field_type(model: type[BaseModel], key: object) -> Any:
    for name, info in model.model_fields.items():
        if _key_of(name, info) == key:
            return (
                info.annotation
                if not info.metadata
                else typing.Annotated[info.annotation, *info.metadata]
            )
    return None


def _tag_of(member: Any) -> str | None:
    member = _unwrap(member)
    if _is_model(member) and "type" in member.model_fields:
        args = typing.get_args(member.model_fields["type"].annotation)
        if args and isinstance(args[0], str):
            return args[0]
    return None


CHECK_TYPES: tuple[str, ...] = tuple(
    t for t in (_tag_of(m) for m in typing.get_args(CheckSpec)) if t is not None
)
"""The ``type:`` values a check may have: the discriminator tags of ``models.CheckSpec``."""


def _type_at(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The annotation at pydantic error ``loc`` (with union tags), or None when unknown."""
    tp: Any = root
    i = 0
    while i < len(loc):
        elt = loc[i]
        tp = _unwrap(tp)
        if _is_union(tp):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            tagged = [m for m in members if _tag_of(m) == elt]
            if tagged:
                tp = tagged[0]
                i += 1
                continue
            named = [m for m in members if _type_name(m) == elt]
            if named:
                tp = named[0]
                i += 1
                continue
            if len(members) == 1:
                tp = members[0]
                continue
            return None
        origin = typing.get_origin(tp)
        if _is_model(tp):
            tp = _field_type(tp, elt)
            if tp is None:
                return None
        elif origin in (tuple, list):
            args = typing.get_args(tp)
            tp = args[0] if args else Any
        elif origin is dict:
            args = typing.get_args(tp)
            tp = (args[0] if elt == "[key]" else args[1]) if args else Any
        else:
            return None
        i += 1
    return _unwrap(tp)


def _type_name(tp: Any) -> str:
    tp = _unwrap(tp)
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _literal_values(tp: Any) -> tuple[str, ...]:
    tp = _unwrap(tp)
    if _is_union(tp):
        for m in typing.get_args(tp):
            vals = _literal_values(m)
            if vals:
                return vals
        return ()
    if typing.get_origin(tp) is Literal:
        return tuple(str(a) for a in typing.get_args(tp))
    return ()


def _allowed_keys(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if _is_union(tp):
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        if len(members) == 1:
            return _allowed_keys(members[0])
        return []
    if _is_model(tp):
        return [_key_of(n, i) for n, i in tp.model_fields.items()]
    return []


def _did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``did you mean `x`? `` for a close or abbreviated choice (``wednesday`` → ``wed``)."""
    text = str(word)
    options = list(choices)
    close = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    if not close:
        low = text.lower()
        close = [
            o
            for o in options
            if min(len(o), len(low)) >= 3 and (low.startswith(o) or o.startswith(low))
        ]
    return f"did you mean `{close[0]}`? " if close else ""


def _data_path(data: Any, loc: Sequence[str | int]) -> tuple[Path_, bool]:
    """Map a pydantic ``loc`` onto the data: drop union tags and member names.

    Returns the path and whether the error came from one member of a plain (untagged) union.
    """
    path: list[str | int] = []
    cur = data
    in_union = False
    missing = object()
    for i, elt in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict):
            if elt == "[key]":
                break
            if cur.get("type") == elt and isinstance(elt, str):
                continue  # the discriminator tag of a check
            if elt in cur:
                path.append(elt)
                cur = cur[elt]
            elif last:
                path.append(elt)
                cur = missing
            else:
                in_union = True
        elif isinstance(cur, list):
            if isinstance(elt, int) and 0 <= elt < len(cur):
                path.append(elt)
                cur = cur[elt]
            else:
                in_union = True
        else:
            in_union = in_union or isinstance(elt, str)
            break
    return tuple(path), in_union


def _show(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[: MAX_SHOWN_VALUE - 1] + "…"
    return text


_FIX_BY_KEY: dict[str, str] = {
    "interval": "use a duration of at least 1s, such as 60s, 5m or 6h",
    "timeout": (
        f"use a duration above 0s and at most {format_duration(PROBE_TIMEOUT_CEILING)}, "
        f"such as {format_duration(DEFAULT_PROBE_TIMEOUT)}"
    ),
    "port": "use a port number from 1 to 65535",
    "status": "write an HTTP status such as 200, or a list such as [200, 301]",
    "failure_threshold": f"use a whole number from 1 to {MAX_ALERT_THRESHOLD}, such as 3",
    "success_threshold": f"use a whole number from 1 to {MAX_ALERT_THRESHOLD}, such as 2",
    "min_days_left": "use a whole number of days, such as 14",
    "start": 'write a time as "HH:MM" in quotes, such as "09:00"',
    "end": 'write a time as "HH:MM" in quotes, such as "17:00"',
    "extra": "write dates as YYYY-MM-DD, such as 2026-12-29",
    "office_hours": 'make end later than start, such as start: "09:00" and end: "17:00"',
    "regex": "fix the regular expression (Python syntax); in YAML, quote it with '…'",
}

_EXAMPLE_BY_KEY: dict[str, str] = {
    "name": "name: ACME Charity",
    "agency.name": "name: Collective",
    "contacts.name": "name: Jo Bloggs",
    "sites.name": "name: Main website",
    "agency": "agency: {name: Collective}",
    "client": "client: acme",
    "id": "id: acme-www",
    "url": "url: https://www.example.org/",
    "email": "email: jo@example.org",
    "port": "port: 8983",
    "from": 'from: "Monitoring <monitor@example.org>"',
}


def _reword(err: ErrorDetails, root: type[BaseModel], doc: Doc, issues: _Issues) -> None:
    loc = err["loc"]
    kind = err["type"]
    value = err.get("input")
    path, in_union = _data_path(doc.data, loc)
    if doc.already_reported(path):
        return
    if in_union:
        # One value tried against each member of a plain union (`int | list[int]`): the first
        # member's complaint is enough.
        if path in doc.union_reported:
            return
        doc.union_reported.add(path)
    last = path[-1] if path else ""
    lastkey = str(last) if isinstance(last, str) else (str(path[-2]) if len(path) > 1 else "")
    shown = repr(doc.resolved[path].text) if doc.secret_text(path) is not None else _show(value)
    ctx = err.get("ctx") or {}

    if kind == "missing":
        parents = [p for p in path[:-1] if isinstance(p, str)]
        scoped = f"{parents[-1]}.{last}" if parents else str(last)
        example = _EXAMPLE_BY_KEY.get(scoped) or _EXAMPLE_BY_KEY.get(str(last), f"{last}: …")
        issues.at(doc, path, f"required key `{last}` is missing", f"add `{example}` here")
        return
    if kind == "extra_forbidden":
        parent = _type_at(root, loc[:-1])
        keys = _allowed_keys(parent)
        hint = _did_you_mean(last, keys)
        fix = f"{hint}allowed keys: {', '.join(keys)}" if keys else "remove it"
        issues.at(doc, path, f"unknown key `{last}`", fix, key=True)
        return
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "")
        fix = f"{_did_you_mean(tag, CHECK_TYPES)}use one of: {', '.join(CHECK_TYPES)}"
        issues.at(doc, (*path, "type"), f"unknown check type {tag!r}", fix)
        return
    if kind == "union_tag_not_found":
        issues.at(
            doc,
            path,
            "the check has no `type`",
            f"add `type:` with one of: {', '.join(CHECK_TYPES)}",
        )
        return
    if kind == "literal_error":
        allowed = _literal_values(_type_at(root, loc))
        if not allowed:
            allowed = tuple(
                a.strip(" '") for a in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
            )
        what = {
            "notify": "notify kind",
            "days": "weekday",
        }.get(lastkey, "value")
        fix = f"{_did_you_mean(value, allowed)}use one of: {', '.join(allowed)}"
        issues.at(doc, path, f"unknown {what} {shown}", fix)
        return
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        issues.at(
            doc,
            path,
            f"expected a mapping of keys, got {shown}",
            "write it as `key: value` lines indented under it, or {key: value, …}",
        )
        return
    if kind in ("tuple_type", "list_type"):
        item = "checks" if lastkey == "checks" else "items"
        issues.at(
            doc,
            path,
            f"expected a list, got {shown}",
            f"write the {item} as `- …` lines, or in brackets: [a, b]",
        )
        return
    if kind in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"):
        wanted = "a whole number" if kind.startswith("int") else "a number"
        fix = _FIX_BY_KEY.get(lastkey, f"write {wanted} without quotes or units")
        issues.at(doc, path, f"expected {wanted}, got {shown}", fix)
        return
    if kind in ("bool_parsing", "bool_type"):
        words = _literal_values(_type_at(root, loc[:-1])) if in_union else ()
        if words:  # true, false or a word (follow_redirects: any-host)
            fix = f"{_did_you_mean(value, words)}write true, false or {' or '.join(words)}"
            issues.at(doc, path, f"unknown value {shown}", fix)
            return
        issues.at(doc, path, f"expected true or false, got {shown}", "write true or false")
        return
    if kind == "string_type":
        if isinstance(value, int | float) and not isinstance(value, bool):
            fix = f'put it in quotes: "{value}" (YAML reads it as a number)'
        else:
            fix = "write a single text value (quote it if it contains ': ' or '#')"
        issues.at(doc, path, f"expected text, got {shown}", fix)
        return
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": ("at least", "ge"),
            "greater_than": ("more than", "gt"),
            "less_than_equal": ("at most", "le"),
            "less_than": ("less than", "lt"),
        }[kind]
        bound = ctx.get(words[1])
        fix = _FIX_BY_KEY.get(lastkey, f"use a value {words[0]} {bound}")
        issues.at(doc, path, f"must be {words[0]} {bound}, got {shown}", fix)
        return
    if kind.startswith("date_"):
        issues.at(
            doc,
            path,
            f"{shown} is not a date",
            "write dates as YYYY-MM-DD, such as 2026-12-29",
        )
        return
    if kind.startswith("time_"):
        fix = _FIX_BY_KEY.get(lastkey, 'write a time as "HH:MM" in quotes, such as "09:00"')
        issues.at(doc, path, f"{shown} is not a time of day", fix)
        return
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        msg = msg.removeprefix("Value error, ")
        problem, sep, fix = msg.partition("; ")
        path = _duplicate_check_path(doc, path, problem)
        if not sep:
            fix = _FIX_BY_KEY.get(lastkey, "change the value")
        if doc.secret_text(path) is not None:
            problem = problem.replace(repr(value), shown)
        issues.at(doc, path, problem, fix)
        return
    # Anything else: pydantic's own words, never with the input value.
    issues.at(doc, path, err["msg"], "correct the value")


_DUP_CHECK = re.compile(r"^two checks of site .* have the id '([^']+)'$")


def _duplicate_check_path(doc: Doc, path: Path_, problem: str) -> Path_:
    """Point "two checks … have the id X" at the second check that says `id: X`."""
    m = _DUP_CHECK.match(problem)
    site = _get(doc.data, path)
    if not m or not isinstance(site, dict) or not isinstance(site.get("checks"), list):
        return path
    hits = [
        i
        for i, check in enumerate(site["checks"])
        if isinstance(check, dict) and check.get("id") == m.group(1)
    ]
    return (*path, "checks", hits[1], "id") if len(hits) > 1 else path


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
            continue
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            continue
        return None
    return data


def _validate(model: type[M], doc: Doc, issues: _Issues) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    located = [(err, *_data_path(doc.data, err["loc"])) for err in errors]
    union_paths = [path for _, path, in_union in located if in_union]
    for err, path, in_union in located:
        # A value tried against each member of a plain union (`int | list[int]`): when one
        # member's complaint is about an item inside it, that is the one worth reading.
        if in_union and any(len(p) > len(path) and p[: len(path)] == path for p in union_paths):
            continue
        _reword(err, model, doc, issues)
    return None


def _remember_written_urls(doc: Doc, client: ClientConfig) -> None:
    """Give every site and http check URL that came from ``${NAME}`` references its display
    form, computed from the text as written (monitord.redact.display_url)."""
    for i, site in enumerate(client.sites):
        written = doc.secret_text(("sites", i, "url"))
        if written is not None and written.substituted:
            site.remember_written_url(written.text)
        for j, spec in enumerate(site.checks):
            written = doc.secret_text(("sites", i, "checks", j, "url"))
            if isinstance(spec, HttpCheck) and written is not None and written.substituted:
                spec.remember_written_url(written.text)


# ---------------------------------------------------------------- cross-file checks


def _check_ca_file(
    config_dir: Path, doc: Doc, path: tuple[str | int, ...], ca_file: Path, issues: _Issues
) -> Path:
    """A check's ``ca_file`` resolved against the config directory; it must be a PEM file of
    CA certificates (loaded here once, so a bad file is a located error, not a failed probe)."""
    full = _abs(ca_file if ca_file.is_absolute() else config_dir / ca_file)
    fix = "correct the path; a relative path is relative to the configuration directory"
    if not full.is_file():
        issues.at(doc, path, f"{str(ca_file)!r} is not a file (looked for {full})", fix)
        return full
    try:
        ssl.create_default_context(cafile=str(full))
    except (OSError, ssl.SSLError) as exc:
        issues.at(
            doc,
            path,
            f"{str(ca_file)!r} holds no usable CA certificate ({exc})",
            "give a PEM file with the -----BEGIN CERTIFICATE----- blocks of the CA",
        )
    return full


def _check_paths(config_dir: Path, doc: Doc, client: ClientConfig, issues: _Issues) -> ClientConfig:
    """Resolve every site's ``drupal.composer_lock`` and its checks' ``ca_file`` against the
    config directory; they must exist."""
    sites = []
    for i, site in enumerate(client.sites):
        if any(getattr(spec, "ca_file", None) is not None for spec in site.checks):
            checks = []
            for j, spec in enumerate(site.checks):
                ca = spec.ca_file if isinstance(spec, (HttpCheck, TlsCheck)) else None
                if ca is not None:
                    where = ("sites", i, "checks", j, "ca_file")
                    full = _check_ca_file(config_dir, doc, where, ca, issues)
                    spec = spec.model_copy(update={"ca_file": full})
                checks.append(spec)
            site = site.model_copy(update={"checks": tuple(checks)})
        lock = site.drupal.composer_lock if site.drupal else None
        if site.drupal is None or lock is None:
            sites.append(site)
            continue
        full = lock if lock.is_absolute() else (config_dir / lock)
        full = _abs(full)
        if not full.is_file():
            issues.at(
                doc,
                ("sites", i, "drupal", "composer_lock"),
                f"{str(lock)!r} is not a file (looked for {full})",
                "correct the path; a relative path is relative to the configuration directory",
            )
        drupal = site.drupal.model_copy(update={"composer_lock": full})
        sites.append(site.model_copy(update={"drupal": drupal}))
    return client.model_copy(update={"sites": tuple(sites)})


def _check_holidays(doc: Doc, issues: _Issues) -> None:
    """The holiday country and subdivision, as written, must be known to ``holidays``.

    Checked on the raw data so it is reported even when other agency settings are wrong.
    """
    agency = doc.data.get("agency") if isinstance(doc.data, dict) else None
    hol = agency.get("holidays") if isinstance(agency, dict) else None
    if not isinstance(hol, dict):
        return
    country = hol.get("country", "GB")
    subdivision = hol.get("subdivision")
    if not isinstance(country, str) or not isinstance(subdivision, str | None):
        return
    supported = holidays.list_supported_countries()
    base = ("agency", "holidays")
    try:
        holidays.country_holidays(country, years=[])
    except NotImplementedError:
        issues.at(
            doc,
            (*base, "country"),
            f"{country!r} is not a country the holidays package knows",
            f"{_did_you_mean(country, [c for c in supported if len(c) == len(country)])}"
            "use an ISO 3166 code such as GB",
        )
        return
    if subdivision is None:
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=[])
    except NotImplementedError:
        subs = list(supported.get(country, []))
        issues.at(
            doc,
            (*base, "subdivision"),
            f"{subdivision!r} is not a subdivision of {country}",
            f"{_did_you_mean(subdivision, subs)}use one of: {', '.join(subs) or 'none'}, "
            "or null for none",
        )


def _check_notifiers(doc: Doc, issues: _Issues) -> None:
    """Each ``notifiers:`` entry: its plugin loads and satisfies the protocol, and its options
    pass the plugin's own model (errors located like the rest). Checked on the raw data, so it
    runs even when other settings are wrong; only the types named are imported."""
    from pydantic import ValidationError as _ValidationError

    from monitord.notify import plugins

    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("notifiers")
    if not isinstance(section, dict):
        return
    for name, entry in section.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            continue  # reported by the model: not a mapping, or no `type`
        base: Path_ = ("notifiers", name)
        type_name = entry["type"]
        if name == plugins.EMAIL and type_name != plugins.EMAIL:
            issues.at(
                doc,
                base,
                f"the name `{plugins.EMAIL}` is the built-in e-mail notifier",
                "give this notifier another name, such as `oncall-pager`",
                key=True,
            )
            continue
        try:
            cls = plugins.load_plugin_class(type_name)
        except plugins.PluginError as exc:
            issues.at(doc, (*base, "type"), exc.problem, exc.fix)
            continue
        if type_name == plugins.EMAIL and data.get("smtp") is None:
            issues.at(
                doc,
                (*base, "type"),
                f"notifier `{name}` sends e-mail, but there is no `smtp` section",
                "add an smtp section (host, port, from) to monitord.yml",
            )
        section_model = plugins.options_section_model(cls)
        options = {k: v for k, v in entry.items() if k != "type"}
        try:
            section_model.model_validate({"notifiers": {name: options}})
        except _ValidationError as exc:
            for err in exc.errors(include_url=False):
                _reword(err, section_model, doc, issues)


def _check_main(config_dir: Path, doc: Doc, main: MainConfig, issues: _Issues) -> MainConfig:
    smtp = main.smtp
    if smtp is not None and smtp.ca_file is not None:
        full = smtp.ca_file if smtp.ca_file.is_absolute() else config_dir / smtp.ca_file
        full = _abs(full)
        if not full.is_file():
            issues.at(
                doc,
                ("smtp", "ca_file"),
                f"{str(smtp.ca_file)!r} is not a file (looked for {full})",
                "correct the path; a relative path is relative to the configuration directory",
            )
        main = main.model_copy(update={"smtp": smtp.model_copy(update={"ca_file": full})})
    return main


def _cross_checks(main_doc: Doc | None, client_docs: list[Doc], issues: _Issues) -> None:
    """Checks across files, on the data as written, so they run even when a file has other
    problems: unique client ids, site ids unique across all clients, smtp when contacts exist."""
    client_seen: dict[str, tuple[str, int, int]] = {}
    site_seen: dict[str, tuple[str, int, int]] = {}
    for doc in client_docs:
        data = doc.data if isinstance(doc.data, dict) else {}
        cid = data.get("client")
        if isinstance(cid, str):
            if cid in client_seen:
                f, line, col = client_seen[cid]
                issues.at(
                    doc,
                    ("client",),
                    f"client id {cid!r} is also used in {f}:{line}:{col}",
                    "give every client file its own `client:` id",
                )
            else:
                client_seen[cid] = (doc.file, *doc.where(("client",)))
        sites = data.get("sites")
        for i, site in enumerate(sites if isinstance(sites, list) else []):
            sid = site.get("id") if isinstance(site, dict) else None
            if not isinstance(sid, str):
                continue
            if sid in site_seen:
                f, line, col = site_seen[sid]
                issues.at(
                    doc,
                    ("sites", i, "id"),
                    f"site id {sid!r} is also used in {f}:{line}:{col}",
                    "site ids must be unique across all clients; rename one of them",
                )
            else:
                site_seen[sid] = (doc.file, *doc.where(("sites", i, "id")))
    if main_doc is None or not isinstance(main_doc.data, dict):
        return
    if main_doc.data.get("smtp") is None:
        with_contacts = [
            doc.file
            for doc in client_docs
            if isinstance(doc.data, dict) and doc.data.get("contacts")
        ]
        if with_contacts:
            issues.at(
                main_doc,
                ("smtp",),
                f"no `smtp` section, but {with_contacts[0]} lists contacts to e-mail",
                "add an smtp section (host, port, from) to monitord.yml",
            )


def _check_routing(doc: Doc | None, issues: _Issues) -> None:
    """Cross-references of ``routes:`` and ``oncall:`` (issue 4, docs/routing.md), on the data
    as written: a route naming an unknown notifier or window, an override naming nobody in
    the rota, an on-call notifier that is not configured."""
    if doc is None or not isinstance(doc.data, dict):
        return
    data = doc.data
    notifiers = data.get("notifiers")
    names = {str(k) for k in notifiers} if isinstance(notifiers, dict) else set()
    if data.get("smtp") is not None:
        names.add("email")
    targets = sorted(names | set(ROUTE_PSEUDO_TARGETS))
    windows = data.get("windows")
    window_names = {str(k) for k in windows} if isinstance(windows, dict) else set()
    routes = data.get("routes")
    for i, r in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(r, dict):
            continue
        notify = r.get("notify")
        for j, target in enumerate(notify if isinstance(notify, list) else []):
            if isinstance(target, str) and target not in targets:
                issues.at(
                    doc,
                    ("routes", i, "notify", j),
                    f"{target!r} is neither a configured notifier nor a pseudo-target",
                    f"{_did_you_mean(target, targets)}use one of: {', '.join(targets)}, "
                    "or add it under `notifiers:`",
                )
        when = r.get("when")
        if isinstance(when, str) and when not in ROUTE_WHEN_BUILTIN and when not in window_names:
            choices = sorted(set(ROUTE_WHEN_BUILTIN) | window_names)
            issues.at(
                doc,
                ("routes", i, "when"),
                f"{when!r} is not a time window",
                f"{_did_you_mean(when, choices)}use always, office_hours, out_of_hours or "
                "a window defined under `windows:`",
            )
    security = data.get("security")
    page_via = security.get("oncall_notifier") if isinstance(security, dict) else None
    if isinstance(page_via, str) and page_via not in names:
        shown = sorted(names)
        issues.at(
            doc,
            ("security", "oncall_notifier"),
            f"{page_via!r} is not a configured notifier",
            f"{_did_you_mean(page_via, shown)}use one of: {', '.join(shown) or 'none'}, "
            "or add it under `notifiers:`",
        )
    oncall = data.get("oncall")
    if not isinstance(oncall, dict):
        return
    rota = oncall.get("rota")
    people = {
        p.get("name") for p in (rota if isinstance(rota, list) else []) if isinstance(p, dict)
    }
    overrides = oncall.get("overrides")
    for k, ov in enumerate(overrides if isinstance(overrides, list) else []):
        name = ov.get("name") if isinstance(ov, dict) else None
        if isinstance(name, str) and name not in people:
            shown = sorted(str(p) for p in people if p)
            issues.at(
                doc,
                ("oncall", "overrides", k, "name"),
                f"{name!r} is not in the on-call rota",
                f"{_did_you_mean(name, shown)}use one of: {', '.join(shown) or 'none'}, "
                "or add them to oncall.rota",
            )
    via = oncall.get("notifier", "email")
    if isinstance(via, str) and via not in names:
        issues.at(
            doc,
            ("oncall", "notifier"),
            f"{via!r} is not a configured notifier",
            f"{_did_you_mean(via, sorted(names))}add it under `notifiers:`, or use email "
            "(with an smtp section)",
        )


# ---------------------------------------------------------------- public API


def load_config(
    directory: Path,
    *,
    environ: typing.Mapping[str, str] | None = None,
) -> Config:
    """Load and validate ``directory``; raise :class:`ConfigError` listing every problem.

    ``environ`` replaces ``os.environ`` for ``${NAME}`` references (tests). File names in
    messages are ``directory`` joined with the file's name, as given. Nothing else escapes:
    an unexpected exception while reading a file is a located problem of that file too.
    """
    issues = _Issues()
    directory = Path(directory)
    try:
        return _load(directory, issues, environ)
    except ConfigError:
        raise
    except Exception as exc:  # a bug or an exhausted resource: still a located answer
        _unexpected(issues, issues.current or str(directory), exc)
        raise ConfigError(issues.result()) from exc


def _unexpected(issues: _Issues, file: str, exc: Exception) -> None:
    if isinstance(exc, RecursionError):
        problem = f"lists and mappings nested more than {MAX_CONFIG_DEPTH} levels deep"
        fix = "a configuration is a few levels deep: check the brackets and the indentation"
    elif isinstance(exc, MemoryError):
        problem = "too large to read into memory"
        fix = "check that this is the right file; split a very large client list"
    else:
        detail = str(exc)
        if len(detail) > MAX_SHOWN_VALUE:
            detail = detail[: MAX_SHOWN_VALUE - 1] + "…"
        problem = f"could not be read ({type(exc).__name__}: {detail})"
        fix = (
            "this is a bug in monitord: report it with this message; meanwhile look for an "
            "unusual value in this file"
        )
    issues.add(None, file, 1, 1, (), problem, fix)


def _load(directory: Path, issues: _Issues, environ: typing.Mapping[str, str] | None) -> Config:
    main_path = directory / MAIN_FILE
    if not directory.is_dir():
        issues.add(
            None,
            str(directory),
            1,
            1,
            (),
            f"the configuration directory does not exist (looked in {_abs(directory)})",
            "pass --config DIR with the directory that holds monitord.yml",
        )
        raise ConfigError(issues.result())
    if not main_path.is_file():
        issues.add(
            None,
            str(main_path),
            1,
            1,
            (),
            f"{MAIN_FILE} not found (looked for {_abs(main_path)})",
            "create it (start from the bundled config/monitord.yml), or pass --config DIR",
        )
        main_doc = None
    else:
        main_doc = _parse(
            main_path,
            str(main_path),
            issues,
            environ,
            "add an `agency:` section with a `name:` (see the bundled config/monitord.yml)",
        )
    main: MainConfig | None = None
    if main_doc is not None:
        _check_holidays(main_doc, issues)
        _check_notifiers(main_doc, issues)
        main = _validate(MainConfig, main_doc, issues)
        if main is not None:
            main = _check_main(directory, main_doc, main, issues)

    clients: list[ClientConfig] = []
    client_docs: list[Doc] = []
    clients_dir = directory / CLIENTS_DIR
    files = (
        sorted(p for p in clients_dir.iterdir() if p.suffix in CLIENT_SUFFIXES and p.is_file())
        if clients_dir.is_dir()
        else []
    )
    for path in files:
        doc = _parse(
            path,
            str(path),
            issues,
            environ,
            "add `client:`, `name:` and `sites:` (see the bundled config/clients/acme.yml), "
            "or delete the file",
        )
        if doc is None:
            continue
        client_docs.append(doc)
        client = _validate(ClientConfig, doc, issues)
        if client is not None:
            client = _check_paths(directory, doc, client, issues)
            _remember_written_urls(doc, client)
            clients.append(client)

    issues.current = str(directory)
    _cross_checks(main_doc, client_docs, issues)
    _check_routing(main_doc, issues)
    check_contracts(main_doc, client_docs, issues)
    result = issues.result()
    if result or main is None:
        raise ConfigError(result)
    config = Config(
        main=main,
        clients=tuple(clients),
        directory=_abs(directory),
    )
    docs = [d for d in (main_doc, *client_docs) if d is not None]
    config.remember_secret_values(v for d in docs for r in d.resolved.values() for v in r.secrets)
    return config


def resolve_config_dir(
    arg: str | None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    system_dir: Path = SYSTEM_CONFIG_DIR,
    local_dir: Path = Path("config"),
) -> Path:
    """The configuration directory: ``arg`` (``--config``); else ``$MONITORD_CONFIG``; else
    ``/etc/monitord`` if it exists; else ``./config`` if it exists.

    Raises :class:`MonitordError` naming everything tried when none applies. An explicit
    ``arg`` or ``$MONITORD_CONFIG`` is returned as given; :func:`load_config` reports it if it
    does not exist.
    """
    if arg:
        return Path(arg)
    env = os.environ if environ is None else environ
    from_env = env.get(CONFIG_DIR_ENV)
    if from_env:
        return Path(from_env)
    if system_dir.is_dir():
        return system_dir
    if local_dir.is_dir():
        return local_dir
    raise MonitordError(
        f"no configuration directory: --config was not given, ${CONFIG_DIR_ENV} is not set, "
        f"and neither {system_dir} nor ./{local_dir} exists — pass --config DIR, set "
        f"{CONFIG_DIR_ENV}=DIR, or create {system_dir}"
    )


def summary(config: Config) -> tuple[int, int, int]:
    """(clients, sites, checks) of a loaded configuration."""
    sites = sum(len(c.sites) for c in config.clients)
    checks = sum(1 for _ in config.iter_checks())
    return len(config.clients), sites, checks


__all__ = [
    "CHECK_TYPES",
    "load_config",
    "resolve_config_dir",
    "summary",
]
