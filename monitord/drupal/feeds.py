"""Parse drupal.org's security feeds into :class:`Advisory` values — safely and cheaply.

* RSS (``/security/rss.xml``, ``/security/contrib/rss.xml``, ``/security/psa/rss.xml``,
  ``/security/all/rss.xml``) with :func:`parse_rss`;
* ``https://updates.drupal.org/psa.json`` with :func:`parse_psa_json`;
* either, sniffed, with :func:`parse_feed`.

Pure functions over bytes. XML goes through ``defusedxml`` (entity declarations and external
references are refused and reported, never expanded); the escaped HTML of each item's
description is read with a few regular expressions instead of an HTML parser or feedparser
(feedparser costs ~0.3 s of CPU for a 50-item feed; this costs a few milliseconds, see
bench/bench_feed_parse.py), so it can run on the event loop. Nothing here raises for bad
input: a broken document gives a result with an error and no advisories, and one broken item
gives an error while every other item still parses.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from monitord.drupal.advisory import (
    MAX_RISK_SCORE,
    Advisory,
    AdvisoryKind,
    canonical_risk_label,
    risk_label_for_score,
)

SOLUTION_MAX_CHARS = 4000
"""Solution text kept per advisory: enough for every real one (a few lines of "upgrade to"),
bounded so one odd item cannot bloat the store or a ticket."""

TITLE_PREVIEW_CHARS = 80
"""How much of an item's title an error message quotes, to say which item is broken."""


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
_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
_PROJECT_HREF = re.compile(r"/project/([A-Za-z0-9_]+)")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _preview(title: str | None) -> str:
    t = _one_line(title or "")
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
        dt = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None:  # RFC 2822 "-0000": time is UTC, zone unknown
        dt = dt.replace(tzinfo=UTC)
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


# ----------------------------------------------------------------- description HTML

_LABEL = re.compile(r'<div class="field-label[^"]*">(.*?)</div>', re.DOTALL)
_BLOCK_TAG = re.compile(r"</?(?:p|li|ul|ol|br|div|h[1-6]|tr)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_STRONG = re.compile(r"<strong[^>]*>(.*?)</strong>", re.DOTALL | re.IGNORECASE)
_HREF = re.compile(r'<a\s[^>]*?href="([^"]*)"', re.IGNORECASE)
_RISK = re.compile(
    r"^(?P<label>(?:not|less|moderately|highly)?\s*critical)?\s*"
    r"(?:(?P<score>\d{1,2})\s*[∕/]\s*(?P<max>\d{1,2}))?\s*(?P<vector>\S.*)?$",
    re.IGNORECASE,
)


def _text(fragment: str) -> str:
    """Escaped-HTML fragment -> plain text: one line per block, spaces collapsed."""
    s = _ANY_TAG.sub("", _BLOCK_TAG.sub("\n", fragment))
    lines = (_one_line(line) for line in html.unescape(s).split("\n"))
    return "\n".join(line for line in lines if line)


def description_fields(description: str) -> dict[str, str]:
    """The labelled fields of an item's description: ``{"security risk": "<a …>…</a>", …}``.

    Keys are the labels lower-cased without the colon; values are the raw HTML of each field.
    """
    fields: dict[str, str] = {}
    matches = list(_LABEL.finditer(description))
    for i, m in enumerate(matches):
        label = _one_line(html.unescape(_ANY_TAG.sub("", m.group(1)))).rstrip(":").strip()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(description)
        fields.setdefault(label.casefold(), description[m.end() : end])
    return fields


@dataclass(frozen=True, slots=True)
class Risk:
    label: str | None
    score: int | None
    vector: str | None


def parse_risk(fragment: str) -> Risk:
    """``<strong>Moderately critical</strong> 12 ∕ 25 AC:Basic/…`` (HTML or text) -> Risk.

    The slash is U+2215 or ``/``; the spaces around it thin, plain or absent. A score outside
    0–25 or a label that is not drupal.org's raises ValueError naming the text.
    """
    strong = _STRONG.search(fragment)
    text = _one_line(_text(fragment))
    m = _RISK.match(text)
    if not m or not text:
        raise ValueError(f"security risk {text!r} is not '<label> <score>/25 <vector>'")
    raw_label = _text(strong.group(1)) if strong else (m.group("label") or "")
    label = canonical_risk_label(raw_label) if raw_label else None
    if raw_label and label is None:
        raise ValueError(f"security risk label {raw_label!r} is not one of drupal.org's")
    score: int | None = None
    if m.group("score") is not None:
        score = int(m.group("score"))
        if int(m.group("max")) != MAX_RISK_SCORE or score > MAX_RISK_SCORE:
            raise ValueError(f"security risk score in {text!r} is not on the 0–25 scale")
        if label is None:
            label = risk_label_for_score(score)
    vector = m.group("vector")
    return Risk(label, score, vector.strip() if vector else None)


_WINDOW_DATE = re.compile(
    r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})",
    re.IGNORECASE,
)
_WINDOW_TIMES = re.compile(
    r"(?P<h1>\d{1,2}):?(?P<m1>\d{2})\s*(?:and|to|-|–|—)\s*(?P<h2>\d{1,2}):?(?P<m2>\d{2})\s*UTC",
    re.IGNORECASE,
)
WINDOW_SEARCH_CHARS = 200
"""How far after a date a PSA's "between 17:00 and 21:00 UTC" may be, to belong to that date."""


def psa_window(text: str) -> tuple[datetime, datetime] | None:
    """The release window a PSA announces, from its text, in UTC; None when none is stated.

    Reads ``on September 23, 2026 between 17:00 and 21:00 UTC`` and
    ``February 20th 2019 between 1PM to 5PM America/New York (1800 to 2200 UTC)``.
    """
    flat = _one_line(text)
    for d in _WINDOW_DATE.finditer(flat):
        t = _WINDOW_TIMES.search(flat, d.end(), d.end() + WINDOW_SEARCH_CHARS)
        if t is None:
            continue
        try:
            day = datetime(
                int(d.group("year")), _MONTHS[d.group("month").lower()], int(d.group("day"))
            )
            start = day.replace(hour=int(t.group("h1")), minute=int(t.group("m1")), tzinfo=UTC)
            end = day.replace(hour=int(t.group("h2")), minute=int(t.group("m2")), tzinfo=UTC)
        except ValueError:
            continue
        if end <= start:
            end += timedelta(days=1)
        return start, end
    return None


# ----------------------------------------------------------------- RSS


def _child_text(item: ET.Element, tag: str) -> str | None:
    el = item.find(tag)
    return None if el is None or el.text is None else el.text


def _parse_item(item: ET.Element) -> tuple[Advisory, list[str]]:
    """One <item>. Raises ValueError (with what is wrong) when it cannot become an Advisory."""
    notes: list[str] = []
    title = _one_line(_child_text(item, "title") or "")
    if not title:
        raise ValueError("the item has no <title>")
    t = parse_title(title)
    link = (_child_text(item, "link") or "").strip()
    sa_id = t.id
    if sa_id is None:
        m = re.search(r"/(p?sa-[a-z]+-\d{4}-\d+|psa-\d{4}-\d{2}-\d{2})/?$", link, re.IGNORECASE)
        if not m:
            raise ValueError(
                "no advisory id (SA-…/PSA-…) at the end of the title or in the link; "
                "is this a drupal.org security feed?"
            )
        sa_id = m.group(1).upper()
    fields = description_fields(_child_text(item, "description") or "")

    def text_of(label: str) -> str | None:
        frag = fields.get(label)
        value = None if frag is None else _text(frag)
        return value or None

    # Project: display name and machine name (from its field, else the /project/<x> link).
    project = text_of("project")
    project = _one_line(project) if project else t.project
    machine = text_of("project machine name")
    if machine:
        machine = _one_line(machine)
    elif (frag := fields.get("project")) is not None and (m2 := _PROJECT_HREF.search(frag)):
        machine = m2.group(1)
    kind = _kind_for(sa_id, machine)
    if kind == "core" and not machine:
        machine = "drupal"
    if kind == "psa" and t.risk_label is None:
        project = None  # a PSA's title is a sentence, not a project

    risk = Risk(t.risk_label, None, None)
    if (frag := fields.get("security risk")) is not None and _text(frag):
        risk = parse_risk(frag)
        if risk.label is None:
            risk = Risk(t.risk_label, risk.score, risk.vector)

    affected = text_of("affected versions")
    affected = _one_line(affected) if affected else None
    cves = tuple(dict.fromkeys(c.upper() for c in _CVE.findall(text_of("cve ids") or "")))
    vulnerability = text_of("vulnerability")
    vulnerability = _one_line(vulnerability) if vulnerability else t.vulnerability

    published = _parse_pubdate(_child_text(item, "pubDate")) or _parse_field_date(text_of("date"))
    if published is None:
        raise ValueError("neither <pubDate> nor the Date field is a date")

    solution = text_of("solution")
    if solution and len(solution) > SOLUTION_MAX_CHARS:
        solution = solution[: SOLUTION_MAX_CHARS - 1] + "…"
    solution_link = None
    if (frag := fields.get("solution")) is not None and (h := _HREF.search(frag)):
        solution_link = html.unescape(h.group(1))
        if solution_link.startswith("/"):
            solution_link = "https://www.drupal.org" + solution_link

    window = None
    if kind == "psa":
        window = psa_window(text_of("description") or "")

    package = _package_for(kind, machine)
    if kind == "contrib" and package is None:
        notes.append(
            f"{sa_id}: no project machine name in the item, so it cannot be matched to sites; "
            "check it by hand"
        )
    guid = (_child_text(item, "guid") or "").strip() or link or sa_id
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


def parse_rss(data: bytes) -> FeedParseResult:
    """Parse a drupal.org security RSS feed. Never raises for bad input."""
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
    for n, item in enumerate(root.iterfind("channel/item"), start=1):
        try:
            adv, notes = _parse_item(item)
        except ValueError as exc:
            title = _preview(_child_text(item, "title"))
            errors.append(f"item {n} ({title!r}) skipped: {exc}")
            continue
        advisories.append(adv)
        errors.extend(notes)
    return FeedParseResult(tuple(advisories), tuple(errors))


# ----------------------------------------------------------------- psa.json


def _psa_json_item(raw: Mapping[str, Any]) -> Advisory:
    title = _one_line(str(raw.get("title") or ""))
    if not title:
        raise ValueError("the item has no title")
    t = parse_title(title)
    if t.id is None:
        raise ValueError("no advisory id (SA-…/PSA-…) at the end of the title")
    machine = str(raw.get("project") or "").strip() or None
    is_psa = str(raw.get("is_psa", "0")).strip().lower() in ("1", "true")
    typ = str(raw.get("type") or "").strip().lower()
    kind: AdvisoryKind
    if is_psa:
        kind = "psa"
    elif typ == "core" or machine == "drupal":
        kind = "core"
    elif typ:
        kind = "contrib"
    else:
        kind = _kind_for(t.id, machine)
    published = _parse_pubdate(raw.get("pubDate"))
    if published is None:
        raise ValueError(f"pubDate {raw.get('pubDate')!r} is not an RFC 2822 date")
    insecure_raw = raw.get("insecure") or []
    if not isinstance(insecure_raw, list):
        raise ValueError("'insecure' is not a list of versions")
    insecure = tuple(str(v).strip() for v in insecure_raw if str(v).strip())
    link = str(raw.get("link") or "").strip()
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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return FeedParseResult((), (f"psa.json is not valid JSON ({exc}); check the URL",))
    if not isinstance(doc, list):
        return FeedParseResult(
            (), (f"psa.json should be a JSON list of advisories, not a {type(doc).__name__}",)
        )
    advisories: list[Advisory] = []
    errors: list[str] = []
    for n, raw in enumerate(doc, start=1):
        if not isinstance(raw, dict):
            errors.append(f"item {n} skipped: not a JSON object")
            continue
        try:
            advisories.append(_psa_json_item(raw))
        except ValueError as exc:
            errors.append(f"item {n} ({_preview(str(raw.get('title') or ''))!r}) skipped: {exc}")
    return FeedParseResult(tuple(advisories), tuple(errors))


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
