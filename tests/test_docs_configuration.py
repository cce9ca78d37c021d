"""docs/configuration.md stays true to the configuration models.

* Every key of every model reachable from ``MainConfig`` and ``ClientConfig`` (by its YAML
  name: the alias where one is set, e.g. ``from``) is documented, backticked, as a row of the
  key table in the section for its model; a new model needs a section.
* Every check type of ``CheckSpec`` has its own ``### `type: …``` heading.
* Key tables (header ``| key | type | default | …``) name only real keys, and their defaults
  (a single backticked value, ``none`` or ``required``) are the models' defaults.
* Complete examples (YAML blocks starting ``# monitord.yml`` or ``# clients/NAME.yml``) load.
* The ``check-config`` example output is what the command prints for the breakage described.
* Links to headings and other docs resolve.
"""

from __future__ import annotations

import re
import shutil
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import pytest
import yaml
from pydantic import BaseModel, Field, TypeAdapter

from monitord import cli
from monitord.config import models as m
from monitord.config.loader import load_config
from monitord.contracts.models import BillingConfig, ContractChange, ContractConfig, HelpdeskLinks

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
DOC_NAME = "docs/configuration.md"

SECTION_OF: dict[type[BaseModel], str] = {
    m.MainConfig: "monitord.yml",
    m.Agency: "`agency`",
    m.OfficeHours: "`agency.office_hours`",
    m.HolidaysConfig: "`agency.holidays`",
    m.StateConfig: "`state`",
    m.RetentionConfig: "`state.retention`",
    m.SmtpConfig: "`smtp`",
    m.SecurityConfig: "`security`",
    m.HttpConfig: "`http`",
    m.NotifierConfig: "`notifiers`",
    m.Route: "`routes`",
    m.RouteMatch: "`routes[].match`",
    m.WindowConfig: "`windows`",
    m.OncallConfig: "`oncall`",
    m.OncallPerson: "`oncall.rota[]`",
    m.OncallOverride: "`oncall.overrides[]`",
    m.GroupingConfig: "`grouping`",
    m.ConnectivityConfig: "`connectivity`",
    BillingConfig: "`billing`",
    m.ReportConfig: "`report`",
    m.NodeConfig: "`node`",
    m.NodePeerConfig: "`nodes`",
    m.ClientConfig: "clients/&lt;client&gt;.yml",
    m.Contact: "`contacts[]`",
    m.Site: "`sites[]`",
    m.AlertPolicy: "`sites[].alert`",
    m.DrupalSite: "`sites[].drupal`",
    m.MaintenanceWindow: "`maintenance[]`",
    m.HttpExpect: "`expect`",
    ContractConfig: "`contract`",
    ContractChange: "`contract.changes[]`",
    HelpdeskLinks: "`contract.helpdesk`",
}
"""The heading (its text, exactly) under which each model's keys are documented. Check types
are not listed: each has the heading ``type: TAG`` (see :func:`section_label`)."""

EXCLUDED: dict[tuple[type[BaseModel], str], str] = {
    (m.NotifierConfig, "options"): (
        "not a YAML key: a notifier's options are written beside `type` and gathered into "
        "this field by the model; each type's options are documented in docs/notifiers.md "
        "and docs/tickets.md"
    ),
}
"""Fields deliberately not documented as keys, each with the reason."""

PENDING_LINKS: dict[str, str] = {}
"""Linked documents that may not exist yet, each with the reason; remove once they exist."""


# ---------------------------------------------------------------- the models


def check_tags() -> dict[type[BaseModel], str]:
    """Each member of ``CheckSpec`` and its ``type:`` tag."""
    out: dict[type[BaseModel], str] = {}
    for member in typing.get_args(m.CheckSpec):
        (tag,) = typing.get_args(member.model_fields["type"].annotation)
        out[member] = tag
    return out


def section_label(model: type[BaseModel]) -> str | None:
    tags = check_tags()
    if model in tags:
        return f"`type: {tags[model]}`"
    return SECTION_OF.get(model)


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The models inside an annotation: through Annotated, unions and containers."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType) or origin is not None:
        return [found for arg in typing.get_args(tp) for found in _models_in(arg)]
    return []


@dataclass(frozen=True)
class Key:
    model: type[BaseModel]
    name: str
    """The YAML key: the field's alias, else its name."""
    where: str
    """File and path, e.g. ``clients/<client>.yml: sites[].alert.repeat_every``."""


def reachable(
    roots: tuple[tuple[type[BaseModel], str], ...] = (
        (m.MainConfig, "monitord.yml"),
        (m.ClientConfig, "clients/<client>.yml"),
    ),
) -> tuple[list[type[BaseModel]], list[Key]]:
    """Every model reachable from ``roots`` (first path wins) and every key of them."""
    models: list[type[BaseModel]] = []
    keys: list[Key] = []
    tags = check_tags()

    def visit(model: type[BaseModel], file: str, path: str) -> None:
        if model in models:
            return
        models.append(model)
        for fname, info in model.model_fields.items():
            key = info.alias or fname
            keypath = f"{path}.{key}" if path else key
            keys.append(Key(model, key, f"{file}: {keypath}"))
            for inner in _models_in(info.annotation):
                sub = keypath
                if inner in tags:
                    sub = f"{keypath}[] (type: {tags[inner]})"
                elif _is_sequence(info.annotation):
                    sub = f"{keypath}[]"
                elif _is_mapping(info.annotation):
                    sub = f"{keypath}.NAME"
                visit(inner, file, sub)

    for root, file in roots:
        visit(root, file, "")
    return models, keys


def _strip(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_sequence(tp: Any) -> bool:
    return typing.get_origin(_strip(tp)) in (tuple, list)


def _is_mapping(tp: Any) -> bool:
    return typing.get_origin(_strip(tp)) is dict


MODELS, KEYS = reachable()


# ---------------------------------------------------------------- the document


@dataclass
class Section:
    level: int
    title: str
    lines: list[str] = field(default_factory=list)
    """The section's own text, up to the next heading of any level."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def parse_doc(text: str) -> list[Section]:
    sections = [Section(0, "")]
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and (h := _HEADING.match(line)):
            sections.append(Section(len(h.group(1)), h.group(2)))
            continue
        sections[-1].lines.append(line)
    return sections


DOC_TEXT = DOC.read_text(encoding="utf-8")
SECTIONS = parse_doc(DOC_TEXT)


def find_section(title: str) -> Section | None:
    return next((s for s in SECTIONS if s.title == title), None)


@dataclass(frozen=True)
class Row:
    key: str
    default: str | None
    line: str


_SPAN = re.compile(r"^`([^`]+)`$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def key_tables(section: Section) -> list[list[Row]]:
    """The section's key tables: header ``| key | … | default | …``; rows whose first cell is
    one backticked key."""
    tables: list[list[Row]] = []
    lines = section.lines
    i = 0
    while i < len(lines):
        head = _cells(lines[i]) if lines[i].lstrip().startswith("|") else []
        if head and head[0] == "key" and "default" in head:
            d = head.index("default")
            rows: list[Row] = []
            i += 2  # the header and the |---| line
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _cells(lines[i])
                km = _SPAN.match(cells[0])
                if km:
                    rows.append(Row(km.group(1), cells[d] if d < len(cells) else None, lines[i]))
                i += 1
            tables.append(rows)
        else:
            i += 1
    return tables


# ---------------------------------------------------------------- keys documented


@pytest.mark.parametrize("model", MODELS, ids=lambda mm: mm.__name__)
def test_every_model_has_its_section(model: type[BaseModel]) -> None:
    label = section_label(model)
    path = next(k.where.rsplit(".", 1)[0] for k in KEYS if k.model is model)
    assert label is not None, (
        f"the configuration model {model.__name__} (reached at {path}) has no section in "
        f"{DOC_NAME}: add a heading for it with a key table, and map it in SECTION_OF in "
        f"{Path(__file__).name}"
    )
    assert find_section(label) is not None, (
        f"{DOC_NAME} has no heading `{label}` for {model.__name__} (reached at {path}): add "
        f"one, with a table `| key | type | default | what it does |` of its keys"
    )


@pytest.mark.parametrize(
    "key",
    [k for k in KEYS if (k.model, k.name) not in EXCLUDED],
    ids=lambda k: f"{k.model.__name__}.{k.name}",
)
def test_every_key_is_documented_in_its_section(key: Key) -> None:
    label = section_label(key.model)
    section = find_section(label) if label else None
    if section is None:
        pytest.fail(f"{key.model.__name__} has no section (see test_every_model_has_its_section)")
    documented = {row.key for rows in key_tables(section) for row in rows}
    assert key.name in documented, (
        f"the key `{key.name}` ({key.where}) is not documented: add a row "
        f"| `{key.name}` | type | default | what it does | to the key table under the "
        f"heading {label} in {DOC_NAME}"
    )


class _Leaf(BaseModel):
    leaf: int = 0


class _InList(BaseModel):
    in_list: int = 0


class _InDict(BaseModel):
    in_dict: int = 0
    deeper: _Leaf | None = None


class _Root(BaseModel):
    items: typing.Annotated[tuple[_InList, ...], "meta"] = ()
    named: dict[str, _InDict] = {}
    maybe: _Leaf | None = None
    renamed: int = Field(default=0, alias="from")


def test_the_walk_reaches_keys_through_unions_containers_and_aliases() -> None:
    models, keys = reachable(((_Root, "x.yml"),))
    assert models == [_Root, _InList, _InDict, _Leaf]
    assert {k.where for k in keys} == {
        "x.yml: items",
        "x.yml: items[].in_list",
        "x.yml: named",
        "x.yml: named.NAME.in_dict",
        "x.yml: named.NAME.deeper",
        "x.yml: named.NAME.deeper.leaf",
        "x.yml: maybe",
        "x.yml: from",
    }


def test_the_walk_reaches_every_check_type() -> None:
    assert set(check_tags()) <= set(MODELS)
    assert "clients/<client>.yml: sites[].checks[] (type: heartbeat).every" in {
        k.where for k in KEYS
    }


def test_exclusions_name_real_fields() -> None:
    for (model, name), reason in EXCLUDED.items():
        assert reason
        assert name in model.model_fields, (
            f"EXCLUDED names {model.__name__}.{name}, which no longer exists: remove the entry"
        )
        assert model in MODELS, f"EXCLUDED names {model.__name__}, no longer reachable"


@pytest.mark.parametrize("tag", sorted(check_tags().values()))
def test_every_check_type_has_its_own_heading(tag: str) -> None:
    titles = [s.title for s in SECTIONS if s.level >= 2]
    assert f"`type: {tag}`" in titles, (
        f"check type {tag!r} has no section in {DOC_NAME}: add a heading ### `type: {tag}`"
        " under Checks, with a table of its keys and an example"
    )


# ---------------------------------------------------------------- tables and defaults


def _all_tables() -> list[tuple[Section, type[BaseModel] | None, Row]]:
    by_label = {section_label(mm): mm for mm in MODELS}
    out: list[tuple[Section, type[BaseModel] | None, Row]] = []
    for section in SECTIONS:
        for rows in key_tables(section):
            out.extend((section, by_label.get(section.title), row) for row in rows)
    return out


TABLE_ROWS = _all_tables()


def test_the_document_has_key_tables() -> None:
    # A guard against a parser that finds nothing (the parametrized tests below would vanish).
    assert len(TABLE_ROWS) >= len(KEYS) - len(EXCLUDED), "the key tables were not found"


@pytest.mark.parametrize(
    "section,model,row", TABLE_ROWS, ids=[f"{s.title}:{r.key}" for s, _, r in TABLE_ROWS]
)
def test_key_tables_name_real_keys(
    section: Section, model: type[BaseModel] | None, row: Row
) -> None:
    assert model is not None, (
        f"{DOC_NAME}: the key table under {section.title!r} belongs to no configuration model; "
        "put key tables only under a model's heading (SECTION_OF)"
    )
    names = {info.alias or name for name, info in model.model_fields.items()}
    assert row.key in names, (
        f"{DOC_NAME} documents `{row.key}` under {section.title}, but {model.__name__} has no "
        f"such key (it has: {', '.join(sorted(names))}); do not invent keys"
    )


def _yaml_value(text: str) -> Any:
    """A default as the loader reads it: YAML, except that ``17:00`` stays text."""
    value = yaml.safe_load(text)
    if isinstance(value, int | float) and not isinstance(value, bool) and ":" in text:
        return text
    return value


def _field(model: type[BaseModel], key: str) -> Any:
    return next(i for n, i in model.model_fields.items() if (i.alias or n) == key)


DEFAULT_ROWS = [
    (model, row)
    for _, model, row in TABLE_ROWS
    if model is not None
    and row.default is not None
    and any(f.alias == row.key or n == row.key for n, f in model.model_fields.items())
]


@pytest.mark.parametrize(
    "model,row", DEFAULT_ROWS, ids=[f"{mm.__name__}.{r.key}" for mm, r in DEFAULT_ROWS]
)
def test_documented_defaults_are_the_models(model: type[BaseModel], row: Row) -> None:
    info = _field(model, row.key)
    cell = row.default or ""
    where = f"{DOC_NAME}, {model.__name__}.{row.key}: default column {cell!r}"
    if cell.startswith("required"):
        assert info.is_required(), f"{where}, but the key is optional"
        return
    assert not info.is_required(), f"{where}, but the key is required: write `required`"
    actual = info.get_default(call_default_factory=True)
    if cell.startswith("none"):
        assert actual is None, f"{where}, but the default is {actual!r}"
        return
    literal = _SPAN.match(cell)
    if literal is None:
        return  # prose ("see `state`", "the three drupal.org feeds below"): not compared
    tp: Any = (
        typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    )
    documented = TypeAdapter[Any](tp).validate_python(_yaml_value(literal.group(1)))
    assert documented == actual, f"{where} means {documented!r}, but the default is {actual!r}"


# ---------------------------------------------------------------- examples load


_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
BASE_MAIN = 'agency: {name: Test}\nsmtp: {from: "Test <test@example.org>"}\n'


def complete_examples() -> list[tuple[str, str]]:
    out = []
    for block in _BLOCK.findall(DOC_TEXT):
        first = block.splitlines()[0].strip() if block.strip() else ""
        if first in ("# monitord.yml",) or re.fullmatch(r"# clients/[\w.-]+\.ya?ml", first):
            out.append((first[2:], block))
    return out


EXAMPLES = complete_examples()


def test_there_are_complete_examples() -> None:
    files = {name.split("/")[0] for name, _ in EXAMPLES}
    assert files == {"monitord.yml", "clients"}, (
        f"{DOC_NAME} should keep a complete `# monitord.yml` and a `# clients/NAME.yml` example"
    )


@pytest.mark.parametrize("name,block", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_complete_examples_load(name: str, block: str, tmp_path: Path) -> None:
    (tmp_path / "clients").mkdir()
    if name != "monitord.yml":
        (tmp_path / "monitord.yml").write_text(BASE_MAIN, encoding="utf-8")
    (tmp_path / name).write_text(block, encoding="utf-8")
    for lock in re.findall(r"composer_lock:\s*([^\s,}]+)", block):
        (tmp_path / lock).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / lock).write_text('{"packages": []}', encoding="utf-8")
    environ = {n: f"{n.lower()}-0123456789abcdef" for n in _REF.findall(block)}
    config = load_config(tmp_path, environ=environ)
    assert config.main.agency.name
    if name != "monitord.yml":
        assert len(config.clients) == 1 and config.clients[0].sites


# ---------------------------------------------------------------- the check-config example

BREAKAGE: list[tuple[str, str, str]] = [
    ("monitord.yml", "timezone: Europe/London", "timezone: Europe/Londn"),
    ("clients/acme.yml", "interval: 60s, timeout: 10s", "interval: 60s, timeout: 5m"),
    ("clients/acme.yml", "alert: {failure_threshold: 3", "alert: {failure_treshold: 3"),
    ("clients/riverside.yml", "interval: 2m, expect", "interval: 2 min, expect"),
]
"""The four mistakes the document describes, made in a copy of the bundled config/."""

_LOCATION = re.compile(r"^(config/[^:]+):\d+:\d+: ")


def _documented_output() -> list[str]:
    m_ = re.search(r"^\$ monitord check-config --config config\n(.*?)^```", DOC_TEXT, re.M | re.S)
    assert m_ is not None, f"{DOC_NAME} lost its `$ monitord check-config` example"
    return m_.group(1).splitlines()


def test_check_config_example_is_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    for file, old, new in BREAKAGE:
        path = tmp_path / "config" / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, (
            f"config/{file} no longer has {old!r} once: redo the check-config example in "
            f"{DOC_NAME} (and BREAKAGE here) on the current config/"
        )
        path.write_text(text.replace(old, new), encoding="utf-8")
    for name in ("SMTP_PASSWORD", "API_TOKEN", "CREDENTIALS_DIRECTORY", "MONITORD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    assert cli.main(["check-config", "--config", "config"]) == 1
    printed = capsys.readouterr().err.splitlines()

    documented = _documented_output()
    for line in documented[:-1]:
        assert _LOCATION.match(line), f"{DOC_NAME}: {line!r} is not FILE:LINE:COL: …"
    # Line and column move when someone edits config/; the words must not.
    assert [_LOCATION.sub(r"\1: ", x) for x in printed] == [
        _LOCATION.sub(r"\1: ", x) for x in documented
    ], f"update the check-config example in {DOC_NAME} to what the command prints now"


# ---------------------------------------------------------------- links


def github_slug(title: str) -> str:
    text = title.replace("&lt;", "<").replace("&gt;", ">").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _slugs(markdown: str) -> set[str]:
    return {github_slug(s.title) for s in parse_doc(markdown) if s.level}


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_links_resolve() -> None:
    own = _slugs(DOC_TEXT)
    problems = []
    for target in _LINK.findall(DOC_TEXT):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        if not file:
            if anchor not in own:
                problems.append(f"#{anchor}: no such heading here")
            continue
        path = (DOC.parent / file).resolve()
        if not path.exists():
            if file not in PENDING_LINKS:
                problems.append(f"{file}: no such file")
            continue
        if anchor and path.is_file() and anchor not in _slugs(path.read_text(encoding="utf-8")):
            problems.append(f"{target}: no such heading in {file}")
    assert not problems, f"{DOC_NAME} has broken links: " + "; ".join(problems)


def test_slug_rule() -> None:
    cases = {
        "`sites[].alert`": "sitesalert",
        "Secrets: `${NAME}`": "secrets-name",
        "clients/&lt;client&gt;.yml": "clientsclientyml",
        "HTTP API": "http-api",
        "`type: http`": "type-http",
    }
    for title, slug in cases.items():
        assert github_slug(title) == slug, title
