"""YAML files → :class:`~.nodes.Doc`: plain data with the line and column of every key and value.

Files are composed with PyYAML's safe loader (libyaml when available) into nodes, then built
into data here, so positions survive; ``${NAME}`` references in string values are resolved on
the way (:mod:`monitord.config.secrets`). Duplicate keys, unsupported tags, recursive aliases
and YAML syntax errors are located problems; so are files too large, too deep or with too many
nodes (an alias bomb), refused before they can exhaust memory or the stack.
"""

from __future__ import annotations

import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from monitord.config import secrets
from monitord.config.issues import Issues
from monitord.config.nodes import Doc, Path_, Pos
from monitord.errors import SecretNotFoundError

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


def _mark(m: yaml.Mark) -> tuple[int, int]:
    return (m.line + 1, m.column + 1)


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
        issues: Issues,
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


def _yaml_error(file: str, exc: yaml.YAMLError, issues: Issues) -> None:
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


def parse_file(
    file_path: Path,
    shown: str,
    issues: Issues,
    environ: typing.Mapping[str, str] | None,
    empty_fix: str,
) -> Doc | None:
    """Read ``file_path`` (named ``shown`` in messages) into a :class:`Doc`, or None when it
    cannot be read as a mapping; every problem goes to ``issues``. ``empty_fix`` says what an
    empty file of this kind should hold."""
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
