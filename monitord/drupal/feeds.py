"""Parse drupal.org's security feeds into :class:`Advisory` values — safely and cheaply.

* RSS (``/security/rss.xml``, ``/security/contrib/rss.xml``, ``/security/psa/rss.xml``,
  ``/security/all/rss.xml``) with :func:`parse_rss`;
* ``https://updates.drupal.org/psa.json`` with :func:`parse_psa_json`;
* either, sniffed, with :func:`parse_feed`.

Pure functions over bytes. XML goes through ``defusedxml`` (entity declarations and external
references are refused and reported, never expanded); the escaped HTML of each item's
description is read (:mod:`monitord.drupal.description`) with ``str.find`` scans and tag patterns that cannot backtrack, instead of
an HTML parser or feedparser (feedparser costs ~0.3 s of CPU for a 50-item feed; this costs a
few milliseconds, see bench/bench_feed_parse.py). Nothing here raises for bad input: a broken document gives a
result with an error and no advisories, and one broken item gives an error while every other
item still parses.

A feed is untrusted input, and a parse runs in a thread that holds the GIL while it works, so a
slow parse stalls the whole daemon. Every step is therefore linear in the input: no regular
expression here can backtrack over an unbounded span (``<[^>]*>`` over a run of ``<`` is
quadratic: a field of 400,000 froze the daemon for ~48 s; Python 3.11's ``html.parser`` has
quadratic cases of its own), and documents, items and fields have named size limits
(:data:`FEED_MAX_TAGS`, :data:`FEED_MAX_ITEMS`, :data:`DESCRIPTION_MAX_CHARS`,
:data:`FIELD_MAX_CHARS`, :data:`SHORT_FIELD_MAX_CHARS`). bench/bench_hostile_feed.py times the
hostile shapes of tests/helpers/hostile_drupal.py.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

# email.utils would import socket (for make_msgid); the date reader it wraps is this one.
from email._parseaddr import parsedate_tz  # type: ignore[import-not-found]
from typing import Any

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from monitord.drupal.advisory import (
    Advisory,
    AdvisoryKind,
    canonical_risk_label,
)
from monitord.drupal.description import (
    _MONTHS,
    Risk,
    _first_href,
    _one_line,
    _text,
    description_fields,
    parse_risk,
    psa_window,
)

SOLUTION_MAX_CHARS = 4000
"""Solution text kept per advisory: enough for every real one (a few lines of "upgrade to"),
bounded so one odd item cannot bloat the store or a ticket."""

TITLE_PREVIEW_CHARS = 80
"""How much of an item's title an error message quotes, to say which item is broken."""

FEED_MAX_ITEMS = 500
"""Items read per feed. drupal.org's feeds list 10–50 items and psa.json a few dozen; the rest
of a longer one is reported and skipped, so a hostile feed cannot make every round decide (and
store, and log) tens of thousands of advisories."""

FEED_MAX_TAGS = 50_000
"""XML tags (``<``) a feed may hold before it is refused unparsed. A drupal.org item has about
20 (its HTML is escaped text, not tags), so this is 2,500 items' worth; it bounds the element
tree (and its build time) a 5 MiB body of nested or repeated elements would cost."""

DESCRIPTION_MAX_CHARS = 256 * 1024
"""An item's description (escaped HTML of all its fields). drupal.org's longest are ~10 KB; an
item with a longer one is skipped and reported."""

FIELD_MAX_CHARS = 64 * 1024
"""One labelled field of a description (Description, Solution, …), HTML included."""

SHORT_FIELD_MAX_CHARS = 1000
"""Title, link, guid, date, project, machine name, risk, vulnerability, affected versions and
CVE ids, as text. Real ones are under 200 characters (the longest OSV constraint is 132); an
item with a longer one is skipped and reported rather than stored, mailed and ticketed."""

ERRORS_MAX = 20
"""Problems reported per feed parse; more are counted in one last message, so a feed of
thousands of broken items costs one log line per round, not thousands."""


@dataclass(frozen=True, slots=True)
class FeedParseResult:
    """What a feed yielded: the advisories that parsed and one message per problem."""

    advisories: tuple[Advisory, ...]
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


# ----------------------------------------------------------------- shared helpers

_ID_STRICT = re.compile(r"^P?SA(?:-[A-Z0-9]+)+$", re.IGNORECASE)
_ID_LENIENT = re.compile(r"^P?SA-\S.*$", re.IGNORECASE)
_PROJECT_HREF = re.compile(r"/project/([A-Za-z0-9_]+)")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def _preview(title: str | None) -> str:
    t = _one_line((title or "")[: TITLE_PREVIEW_CHARS * 4])
    return t if len(t) <= TITLE_PREVIEW_CHARS else t[: TITLE_PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Title:
    id: str | None
    project: str | None
    risk_label: str | None
    vulnerability: str | None


def parse_title(title: str) -> _Title:
    """Split ``{Project} - {Risk label} - {Vulnerability} - {SA id}`` from the right.

    Project names and vulnerabilities may contain `` - ``; the risk label is the rightmost
    segment that is one of drupal.org's labels. PSA titles are ``{text} - PSA-…``.
    """
    parts = [p.strip() for p in _one_line(title).split(" - ")]
    sa_id: str | None = None
    if len(parts) >= 2 and _ID_LENIENT.match(parts[-1]):
        last = parts.pop()
        sa_id = last.upper() if _ID_STRICT.match(last) else last
    for i in range(len(parts) - 1, 0, -1):
        label = canonical_risk_label(parts[i])
        if label is not None:
            vuln = " - ".join(parts[i + 1 :]) or None
            return _Title(sa_id, " - ".join(parts[:i]) or None, label, vuln)
    return _Title(sa_id, " - ".join(parts) or None, None, None)


def _kind_for(sa_id: str, machine_name: str | None) -> AdvisoryKind:
    up = sa_id.upper()
    if up.startswith("PSA"):
        return "psa"
    if up.startswith("SA-CORE"):
        return "core"
    if up.startswith("SA-CONTRIB"):
        return "contrib"
    return "core" if machine_name == "drupal" else "contrib"


def _package_for(kind: AdvisoryKind, machine_name: str | None) -> str | None:
    if kind == "psa" or not machine_name:
        return None
    if kind == "core" or machine_name == "drupal":
        return "drupal/core"
    return f"drupal/{machine_name.lower()}"


def _parse_pubdate(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    try:
        parsed = parsedate_tz(text.strip())
        if parsed is None:
            return None
        year, month, day, hour, minute, second = (int(n) for n in parsed[:6])
        offset = parsed[9]
        # RFC 2822 "-0000" (offset None): the time is UTC, the zone unknown.
        zone = UTC if offset is None else timezone(timedelta(seconds=int(offset)))
        dt = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return dt.astimezone(UTC)


def _parse_field_date(text: str | None) -> datetime | None:
    """drupal.org's ``2026-September-23`` (midnight UTC)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})-([A-Za-z]+)-(\d{1,2})", text.strip())
    if not m or m.group(2).lower() not in _MONTHS:
        return None
    try:
        return datetime(int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3)), tzinfo=UTC)
    except ValueError:
        return None


# ----------------------------------------------------------------- RSS


def _child_text(item: ET.Element, tag: str) -> str | None:
    el = item.find(tag)
    return None if el is None or el.text is None else el.text


_SHORT_FIELDS = frozenset(
    {
        "project",
        "project machine name",
        "date",
        "security risk",
        "vulnerability",
        "affected versions",
        "cve ids",
    }
)
"""Description fields whose text must fit in :data:`SHORT_FIELD_MAX_CHARS`."""


def _check_size(what: str, value: str | None, limit: int) -> None:
    """ValueError when ``value`` is longer than ``limit`` characters (the item is skipped)."""
    if value is not None and len(value) > limit:
        raise ValueError(
            f"its {what} is {len(value)} characters long, more than a drupal.org advisory's "
            f"ever is (limit {limit}); the item was skipped as broken or hostile"
        )


def _child(item: ET.Element, tag: str, limit: int = SHORT_FIELD_MAX_CHARS) -> str | None:
    text = _child_text(item, tag)
    _check_size(f"<{tag}>", text, limit)
    return text


def _advisory_id(title_id: str | None, link: str) -> str:
    """The SA/PSA id: the title's, else the end of the link."""
    if title_id is not None:
        return title_id
    m = re.search(r"/(p?sa-[a-z]+-\d{4}-\d+|psa-\d{4}-\d{2}-\d{2})/?$", link, re.IGNORECASE)
    if not m:
        raise ValueError(
            "no advisory id (SA-…/PSA-…) at the end of the title or in the link; "
            "is this a drupal.org security feed?"
        )
    return m.group(1).upper()


@dataclass(frozen=True, slots=True)
class _Fields:
    """An item's description fields (label -> HTML fragment), size-checked."""

    html: Mapping[str, str]

    @classmethod
    def of(cls, description: str) -> _Fields:
        fields = description_fields(description)
        for label, raw_html in fields.items():
            _check_size(f"{label!r} field", raw_html, FIELD_MAX_CHARS)
        return cls(fields)

    def text(self, label: str) -> str | None:
        frag = self.html.get(label)
        value = None if frag is None else _text(frag)
        if label in _SHORT_FIELDS:
            _check_size(f"{label!r} field", value, SHORT_FIELD_MAX_CHARS)
        return value or None

    def line(self, label: str) -> str | None:
        """The field's text on one line, None when empty."""
        value = self.text(label)
        return _one_line(value) if value else None


def _project(fields: _Fields, t: _Title, sa_id: str) -> tuple[AdvisoryKind, str | None, str | None]:
    """Kind, display name and machine name (from its field, else the /project/<x> link)."""
    project = fields.line("project")
    if project is None:
        project = t.project
    machine = fields.line("project machine name")
    frag = fields.html.get("project")
    if machine is None and frag is not None and (m := _PROJECT_HREF.search(frag)):
        machine = m.group(1)
    kind = _kind_for(sa_id, machine)
    if kind == "core" and not machine:
        machine = "drupal"
    if kind == "psa" and t.risk_label is None:
        project = None  # a PSA's title is a sentence, not a project
    return kind, project, machine


def _risk(fields: _Fields, t: _Title) -> Risk:
    risk = Risk(t.risk_label, None, None)
    if (frag := fields.html.get("security risk")) is not None and fields.text("security risk"):
        risk = parse_risk(frag)
        if risk.label is None:
            risk = Risk(t.risk_label, risk.score, risk.vector)
    return risk


def _solution(fields: _Fields) -> tuple[str | None, str | None]:
    """The solution's text (capped) and its first link (absolute)."""
    solution = fields.text("solution")
    if solution and len(solution) > SOLUTION_MAX_CHARS:
        solution = solution[: SOLUTION_MAX_CHARS - 1] + "…"
    link = None
    if (frag := fields.html.get("solution")) is not None and (
        href := _first_href(frag)
    ) is not None:
        link = html.unescape(href)
        if link.startswith("/"):
            link = "https://www.drupal.org" + link
    return solution, link


def _parse_item(item: ET.Element) -> tuple[Advisory, list[str]]:
    """One <item>. Raises ValueError (with what is wrong) when it cannot become an Advisory."""
    notes: list[str] = []
    title = _one_line(_child(item, "title") or "")
    if not title:
        raise ValueError("the item has no <title>")
    t = parse_title(title)
    link = (_child(item, "link") or "").strip()
    sa_id = _advisory_id(t.id, link)
    fields = _Fields.of(_child(item, "description", DESCRIPTION_MAX_CHARS) or "")
    kind, project, machine = _project(fields, t, sa_id)
    risk = _risk(fields, t)
    # Read in this order: a field too large is reported as the first such field.
    affected = fields.line("affected versions")
    cves = tuple(dict.fromkeys(c.upper() for c in _CVE.findall(fields.text("cve ids") or "")))
    vulnerability = fields.line("vulnerability")
    if vulnerability is None:
        vulnerability = t.vulnerability
    published = _parse_pubdate(_child(item, "pubDate")) or _parse_field_date(fields.text("date"))
    if published is None:
        raise ValueError("neither <pubDate> nor the Date field is a date")
    solution, solution_link = _solution(fields)
    window = psa_window(fields.text("description") or "") if kind == "psa" else None
    package = _package_for(kind, machine)
    if kind == "contrib" and package is None:
        notes.append(
            f"{sa_id}: no project machine name in the item, so it cannot be matched to sites; "
            "check it by hand"
        )
    guid = (_child(item, "guid") or "").strip() or link or sa_id
    adv = Advisory(
        id=sa_id,
        kind=kind,
        title=title,
        project=project,
        machine_name=machine,
        package=package,
        risk_label=risk.label,
        score=risk.score,
        vector=risk.vector,
        vulnerability=vulnerability,
        affected=affected,
        cve_ids=cves,
        link=link,
        guid=guid,
        published=published,
        solution=solution,
        solution_link=solution_link,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        source="rss",
    )
    return adv, notes


def _capped_errors(errors: list[str]) -> tuple[str, ...]:
    """At most :data:`ERRORS_MAX` messages; the rest counted in the last one."""
    if len(errors) <= ERRORS_MAX:
        return tuple(errors)
    more = len(errors) - (ERRORS_MAX - 1)
    return (*errors[: ERRORS_MAX - 1], f"… and {more} more problems like these")


def _too_many_items(count: int) -> str:
    return (
        f"the feed lists {count} items, more than drupal.org's ever do (limit "
        f"{FEED_MAX_ITEMS}, FEED_MAX_ITEMS); only the first {FEED_MAX_ITEMS} were read — check "
        "the feed URL and who serves it"
    )


def parse_rss(data: bytes) -> FeedParseResult:
    """Parse a drupal.org security RSS feed. Never raises for bad input."""
    tags = data.count(b"<")
    if tags > FEED_MAX_TAGS:
        return FeedParseResult(
            (),
            (
                f"refused: the feed holds {tags} XML tags, more than any drupal.org feed (limit "
                f"{FEED_MAX_TAGS}, FEED_MAX_TAGS); nothing was parsed — check the feed URL and "
                "who serves it",
            ),
        )
    try:
        root = DefusedET.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except EntitiesForbidden:
        return FeedParseResult(
            (),
            (
                "refused: the feed declares XML entities (an entity-expansion attack such as "
                "'billion laughs' uses them; drupal.org's feeds never do); nothing was parsed — "
                "check the feed URL and who serves it",
            ),
        )
    except (DTDForbidden, DefusedXmlException) as exc:
        return FeedParseResult(
            (), (f"refused: the feed uses forbidden XML ({type(exc).__name__}); nothing parsed",)
        )
    except ET.ParseError as exc:
        return FeedParseResult(
            (),
            (f"the feed is not well-formed XML ({exc}); check that the URL serves an RSS feed",),
        )
    if root.tag != "rss":
        return FeedParseResult(
            (),
            (
                f"the document is XML but not RSS (root element <{root.tag}>); "
                "check that the URL is a drupal.org security RSS feed",
            ),
        )
    advisories: list[Advisory] = []
    errors: list[str] = []
    items = root.findall("channel/item")
    for n, item in enumerate(items[:FEED_MAX_ITEMS], start=1):
        try:
            adv, notes = _parse_item(item)
        except ValueError as exc:
            title = _preview(_child_text(item, "title"))
            errors.append(f"item {n} ({title!r}) skipped: {exc}")
            continue
        advisories.append(adv)
        errors.extend(notes)
    if len(items) > FEED_MAX_ITEMS:
        errors.insert(0, _too_many_items(len(items)))
    return FeedParseResult(tuple(advisories), _capped_errors(errors))


# ----------------------------------------------------------------- psa.json


PSA_INSECURE_MAX = 2000
"""Versions one psa.json item may list as insecure. Core's full list of insecure releases is a
few hundred; a longer one is refused with its item."""


def _json_text(raw: Mapping[str, Any], key: str) -> str:
    """A psa.json string field (numbers too); "" when absent; ValueError for anything else or
    anything longer than :data:`SHORT_FIELD_MAX_CHARS`."""
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise ValueError(f"{key!r} is a JSON {type(value).__name__}, not a string")
    text = str(value)
    _check_size(repr(key), text, SHORT_FIELD_MAX_CHARS)
    return text


def _psa_json_item(raw: Mapping[str, Any]) -> Advisory:
    title = _one_line(_json_text(raw, "title"))
    if not title:
        raise ValueError("the item has no title")
    t = parse_title(title)
    if t.id is None:
        raise ValueError("no advisory id (SA-…/PSA-…) at the end of the title")
    machine = _json_text(raw, "project").strip() or None
    is_psa = _json_text(raw, "is_psa").strip().lower() in ("1", "true")
    typ = _json_text(raw, "type").strip().lower()
    kind: AdvisoryKind
    if is_psa:
        kind = "psa"
    elif typ == "core" or machine == "drupal":
        kind = "core"
    elif typ:
        kind = "contrib"
    else:
        kind = _kind_for(t.id, machine)
    pub = _json_text(raw, "pubDate")
    published = _parse_pubdate(pub)
    if published is None:
        raise ValueError(f"pubDate {pub!r} is not an RFC 2822 date")
    insecure_raw = raw.get("insecure") or []
    if not isinstance(insecure_raw, list):
        raise ValueError("'insecure' is not a list of versions")
    if len(insecure_raw) > PSA_INSECURE_MAX:
        raise ValueError(
            f"'insecure' lists {len(insecure_raw)} versions, more than any real advisory "
            f"(limit {PSA_INSECURE_MAX}); the item was skipped as broken or hostile"
        )
    insecure = tuple(
        v.strip()
        for v in insecure_raw
        if isinstance(v, str) and v.strip() and len(v) <= SHORT_FIELD_MAX_CHARS
    )
    link = _json_text(raw, "link").strip()
    project = t.project if t.risk_label else None
    if project is None and kind == "core":
        project = "Drupal core"
    return Advisory(
        id=t.id,
        kind=kind,
        title=title,
        project=project,
        machine_name=machine,
        # A psa.json PSA names the project it concerns (core shows it to sites that have it).
        package=_package_for("core" if machine == "drupal" else "contrib", machine),
        risk_label=t.risk_label,
        score=None,
        vector=None,
        vulnerability=t.vulnerability,
        affected=None,
        cve_ids=(),
        link=link,
        guid=f"psa.json:{t.id}:{machine or ''}",
        published=published,
        insecure_versions=insecure,
        source="psa-json",
    )


def parse_psa_json(data: bytes) -> FeedParseResult:
    """Parse ``updates.drupal.org/psa.json`` (a list of objects). Never raises for bad input.

    Its items carry exact ``insecure`` releases instead of a constraint, and no score; one SA
    id may appear once per project, so ``(id, package)`` is the key, not ``id`` alone. Unlike
    RSS PSAs, a psa.json PSA keeps the ``package`` of the project it names.
    """
    try:
        doc = json.loads(data)
    except RecursionError:
        return FeedParseResult(
            (),
            (
                "refused: psa.json nests deeper than Python's JSON reader allows (a real one "
                "is two levels deep); nothing was parsed — check the URL and who serves it",
            ),
        )
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return FeedParseResult((), (f"psa.json is not valid JSON ({exc}); check the URL",))
    if not isinstance(doc, list):
        return FeedParseResult(
            (), (f"psa.json should be a JSON list of advisories, not a {type(doc).__name__}",)
        )
    advisories: list[Advisory] = []
    errors: list[str] = []
    for n, raw in enumerate(doc[:FEED_MAX_ITEMS], start=1):
        if not isinstance(raw, dict):
            errors.append(f"item {n} skipped: not a JSON object")
            continue
        try:
            advisories.append(_psa_json_item(raw))
        except ValueError as exc:
            title = raw.get("title")
            shown = _preview(title if isinstance(title, str) else "")
            errors.append(f"item {n} ({shown!r}) skipped: {exc}")
    if len(doc) > FEED_MAX_ITEMS:
        errors.insert(0, _too_many_items(len(doc)))
    return FeedParseResult(tuple(advisories), _capped_errors(errors))


def parse_feed(data: bytes) -> FeedParseResult:
    """RSS or psa.json, told apart by the first non-blank byte (``[``/``{`` means JSON)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"[", b"{"):
        return parse_psa_json(data)
    return parse_rss(data)


# ----------------------------------------------------------------- revisions


def detect_revision(old: Advisory, new: Advisory) -> list[str]:
    """What changed between two versions of one advisory that can change the decision.

    Empty when nothing did. Example: ``["risk Critical 17 -> Highly critical 20"]``.
    """
    changes: list[str] = []
    if old.kind != new.kind:
        changes.append(f"kind {old.kind} -> {new.kind}")
    if (old.risk_label, old.score) != (new.risk_label, new.score):
        changes.append(f"risk {old.risk_text} -> {new.risk_text}")
    if old.affected != new.affected:
        changes.append(f"affected versions {old.affected or 'none'} -> {new.affected or 'none'}")
    if old.insecure_versions != new.insecure_versions:
        changes.append(
            f"insecure versions {', '.join(old.insecure_versions) or 'none'} -> "
            f"{', '.join(new.insecure_versions) or 'none'}"
        )
    return changes
