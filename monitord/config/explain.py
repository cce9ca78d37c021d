"""Pydantic's validation errors, reworded for the person who wrote the file.

Each error's ``loc`` is mapped back onto the data as written (dropping union tags and member
names) and so to the line and column of the offending key or value; the message says what is
wrong in the file's words and how to fix it, with the allowed keys or values and a "did you
mean" when a close one exists. A wrong value is echoed short, and never when it came from a
``${NAME}`` reference.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitord.config.issues import MAX_SHOWN_VALUE, Issues
from monitord.config.models import MAX_ALERT_THRESHOLD, CheckSpec
from monitord.config.nodes import Doc, Path_, value_at
from monitord.durations import format_duration
from monitord.limits import DEFAULT_PROBE_TIMEOUT, PROBE_TIMEOUT_CEILING

M = TypeVar("M", bound=BaseModel)


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


def did_you_mean(word: object, choices: Iterable[str]) -> str:
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


@dataclass(frozen=True, slots=True)
class _Error:
    """One pydantic error, placed on the data as written."""

    err: ErrorDetails
    root: type[BaseModel]
    doc: Doc
    path: Path_
    in_union: bool

    @property
    def kind(self) -> str:
        return self.err["type"]

    @property
    def loc(self) -> Sequence[str | int]:
        return self.err["loc"]

    @property
    def value(self) -> Any:
        return self.err.get("input")

    @property
    def ctx(self) -> dict[str, Any]:
        return self.err.get("ctx") or {}

    @property
    def last(self) -> str | int:
        return self.path[-1] if self.path else ""

    @property
    def lastkey(self) -> str:
        """The key the value is under: its own, or its list's for a list item."""
        path = self.path
        last = self.last
        return str(last) if isinstance(last, str) else (str(path[-2]) if len(path) > 1 else "")

    @property
    def shown(self) -> str:
        """The value as the message echoes it: as written when it came from a reference."""
        doc = self.doc
        if doc.secret_text(self.path) is not None:
            return repr(doc.resolved[self.path].text)
        return _show(self.value)


def reword(err: ErrorDetails, root: type[BaseModel], doc: Doc, issues: Issues) -> None:
    path, in_union = _data_path(doc.data, err["loc"])
    if doc.already_reported(path):
        return
    if in_union:
        # One value tried against each member of a plain union (`int | list[int]`): the first
        # member's complaint is enough.
        if path in doc.union_reported:
            return
        doc.union_reported.add(path)
    e = _Error(err, root, doc, path, in_union)
    handler = _BY_KIND.get(e.kind)
    if handler is None:
        handler = next((h for p, h in _BY_PREFIX if e.kind.startswith(p)), _other)
    handler(e, issues)


def _missing(e: _Error, issues: Issues) -> None:
    last = e.last
    parents = [p for p in e.path[:-1] if isinstance(p, str)]
    scoped = f"{parents[-1]}.{last}" if parents else str(last)
    example = _EXAMPLE_BY_KEY.get(scoped) or _EXAMPLE_BY_KEY.get(str(last), f"{last}: …")
    issues.at(e.doc, e.path, f"required key `{last}` is missing", f"add `{example}` here")


def _extra_forbidden(e: _Error, issues: Issues) -> None:
    parent = _type_at(e.root, e.loc[:-1])
    keys = _allowed_keys(parent)
    hint = did_you_mean(e.last, keys)
    fix = f"{hint}allowed keys: {', '.join(keys)}" if keys else "remove it"
    issues.at(e.doc, e.path, f"unknown key `{e.last}`", fix, key=True)


def _union_tag_invalid(e: _Error, issues: Issues) -> None:
    tag = e.ctx.get("tag", "")
    fix = f"{did_you_mean(tag, CHECK_TYPES)}use one of: {', '.join(CHECK_TYPES)}"
    issues.at(e.doc, (*e.path, "type"), f"unknown check type {tag!r}", fix)


def _union_tag_not_found(e: _Error, issues: Issues) -> None:
    issues.at(
        e.doc,
        e.path,
        "the check has no `type`",
        f"add `type:` with one of: {', '.join(CHECK_TYPES)}",
    )


def _literal(e: _Error, issues: Issues) -> None:
    allowed = _literal_values(_type_at(e.root, e.loc))
    if not allowed:
        expected = str(e.ctx.get("expected", ""))
        allowed = tuple(a.strip(" '") for a in expected.replace(" or ", ", ").split(","))
    what = {
        "notify": "notify kind",
        "days": "weekday",
    }.get(e.lastkey, "value")
    fix = f"{did_you_mean(e.value, allowed)}use one of: {', '.join(allowed)}"
    issues.at(e.doc, e.path, f"unknown {what} {e.shown}", fix)


def _not_a_mapping(e: _Error, issues: Issues) -> None:
    issues.at(
        e.doc,
        e.path,
        f"expected a mapping of keys, got {e.shown}",
        "write it as `key: value` lines indented under it, or {key: value, …}",
    )


def _not_a_list(e: _Error, issues: Issues) -> None:
    item = "checks" if e.lastkey == "checks" else "items"
    issues.at(
        e.doc,
        e.path,
        f"expected a list, got {e.shown}",
        f"write the {item} as `- …` lines, or in brackets: [a, b]",
    )


def _not_a_number(e: _Error, issues: Issues) -> None:
    wanted = "a whole number" if e.kind.startswith("int") else "a number"
    fix = _FIX_BY_KEY.get(e.lastkey, f"write {wanted} without quotes or units")
    issues.at(e.doc, e.path, f"expected {wanted}, got {e.shown}", fix)


def _not_a_bool(e: _Error, issues: Issues) -> None:
    words = _literal_values(_type_at(e.root, e.loc[:-1])) if e.in_union else ()
    if words:  # true, false or a word (follow_redirects: any-host)
        fix = f"{did_you_mean(e.value, words)}write true, false or {' or '.join(words)}"
        issues.at(e.doc, e.path, f"unknown value {e.shown}", fix)
        return
    issues.at(e.doc, e.path, f"expected true or false, got {e.shown}", "write true or false")


def _not_text(e: _Error, issues: Issues) -> None:
    value = e.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        fix = f'put it in quotes: "{value}" (YAML reads it as a number)'
    else:
        fix = "write a single text value (quote it if it contains ': ' or '#')"
    issues.at(e.doc, e.path, f"expected text, got {e.shown}", fix)


_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}
"""Pydantic's bound errors: the words of the message and the ``ctx`` key of the bound."""


def _out_of_bounds(e: _Error, issues: Issues) -> None:
    words, ctx_key = _BOUNDS[e.kind]
    bound = e.ctx.get(ctx_key)
    fix = _FIX_BY_KEY.get(e.lastkey, f"use a value {words} {bound}")
    issues.at(e.doc, e.path, f"must be {words} {bound}, got {e.shown}", fix)


def _not_a_date(e: _Error, issues: Issues) -> None:
    issues.at(
        e.doc,
        e.path,
        f"{e.shown} is not a date",
        "write dates as YYYY-MM-DD, such as 2026-12-29",
    )


def _not_a_time(e: _Error, issues: Issues) -> None:
    fix = _FIX_BY_KEY.get(e.lastkey, 'write a time as "HH:MM" in quotes, such as "09:00"')
    issues.at(e.doc, e.path, f"{e.shown} is not a time of day", fix)


def _value_error(e: _Error, issues: Issues) -> None:
    """A model's own check: its message is "problem; fix" (or only the problem)."""
    msg = str(e.ctx.get("error", e.err["msg"]))
    msg = msg.removeprefix("Value error, ")
    problem, sep, fix = msg.partition("; ")
    path = _duplicate_check_path(e.doc, e.path, problem)
    if not sep:
        fix = _FIX_BY_KEY.get(e.lastkey, "change the value")
    if e.doc.secret_text(path) is not None:
        problem = problem.replace(repr(e.value), e.shown)
    issues.at(e.doc, path, problem, fix)


def _other(e: _Error, issues: Issues) -> None:
    """Anything else: pydantic's own words, never with the input value."""
    issues.at(e.doc, e.path, e.err["msg"], "correct the value")


_Handler = Callable[[_Error, Issues], None]

_BY_KIND: dict[str, _Handler] = {
    "missing": _missing,
    "extra_forbidden": _extra_forbidden,
    "union_tag_invalid": _union_tag_invalid,
    "union_tag_not_found": _union_tag_not_found,
    "literal_error": _literal,
    "model_type": _not_a_mapping,
    "model_attributes_type": _not_a_mapping,
    "dict_type": _not_a_mapping,
    "tuple_type": _not_a_list,
    "list_type": _not_a_list,
    "int_parsing": _not_a_number,
    "int_type": _not_a_number,
    "int_from_float": _not_a_number,
    "float_parsing": _not_a_number,
    "float_type": _not_a_number,
    "bool_parsing": _not_a_bool,
    "bool_type": _not_a_bool,
    "string_type": _not_text,
    **dict.fromkeys(_BOUNDS, _out_of_bounds),
    "value_error": _value_error,
}
"""How each kind of pydantic error is reworded."""

_BY_PREFIX: tuple[tuple[str, _Handler], ...] = (("date_", _not_a_date), ("time_", _not_a_time))
"""Kinds reworded by family (``date_parsing``, ``time_type``…), when not in :data:`_BY_KIND`."""


_DUP_CHECK = re.compile(r"^two checks of site .* have the id '([^']+)'$")


def _duplicate_check_path(doc: Doc, path: Path_, problem: str) -> Path_:
    """Point "two checks … have the id X" at the second check that says `id: X`."""
    m = _DUP_CHECK.match(problem)
    site = value_at(doc.data, path)
    if not m or not isinstance(site, dict) or not isinstance(site.get("checks"), list):
        return path
    hits = [
        i
        for i, check in enumerate(site["checks"])
        if isinstance(check, dict) and check.get("id") == m.group(1)
    ]
    return (*path, "checks", hits[1], "id") if len(hits) > 1 else path


def validate(model: type[M], doc: Doc, issues: Issues) -> M | None:
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
        reword(err, model, doc, issues)
    return None
