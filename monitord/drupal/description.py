"""The HTML of a drupal.org advisory's description, read as text — pure.

drupal.org writes each advisory's facts as labelled fields (``<div class="field-label">…``)
inside the RSS description: :func:`description_fields` splits them, :func:`parse_risk` reads
the security risk (label, score, vector) and :func:`psa_window` the release window a PSA
announces. Scanned with plain string searches, linear in the input whatever it holds.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitord.drupal.advisory import MAX_RISK_SCORE, canonical_risk_label, risk_label_for_score

WINDOW_MAX_DATES = 20
"""Dates in a PSA's text tried as its release window (each looks 200 characters ahead for the
times). A PSA names one or two; the limit keeps a text of thousands of dates linear."""


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


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------- description HTML

_BLOCK_TAG = re.compile(r"</?(?:p|li|ul|ol|br|div|h[1-6]|tr)\b[^<>]*>", re.IGNORECASE)
"""Tags that end a line of text. ``[^<>]`` (not ``[^>]``) keeps every tag pattern linear."""
_ANY_TAG = re.compile(r"<[^<>]*>")
_LABEL_OPEN = '<div class="field-label'
_STRONG_OPEN = re.compile(r"<strong", re.IGNORECASE)
_STRONG_CLOSE = re.compile(r"</strong>", re.IGNORECASE)
_A_OPEN = re.compile(r"<a\s", re.IGNORECASE)
_HREF_ATTR = re.compile(r'href="', re.IGNORECASE)
_RISK = re.compile(
    r"^(?P<label>(?:not|less|moderately|highly)?\s*critical)?\s*"
    r"(?:(?P<score>\d{1,2})\s*[∕/]\s*(?P<max>\d{1,2}))?\s*(?P<vector>\S.*)?$",
    re.IGNORECASE,
)


def _strip_tags(fragment: str, block: str = "") -> str:
    """``fragment`` without its tags; each block tag becomes ``block``. Linear time.

    A tag is ``<`` up to the next ``>`` with no ``<`` in between: the match from one ``<``
    ends at the next ``<`` at the latest, so the spans scanned from different starts never
    overlap (``<[^>]*>`` rescans to the end from every ``<`` of a run: quadratic).
    """
    if block:
        fragment = _BLOCK_TAG.sub(block, fragment)
    return _ANY_TAG.sub("", fragment)


def _text(fragment: str) -> str:
    """Escaped-HTML fragment -> plain text: one line per block, spaces collapsed."""
    s = _strip_tags(fragment, "\n")
    lines = (_one_line(line) for line in html.unescape(s).split("\n"))
    return "\n".join(line for line in lines if line)


def _labels(description: str) -> list[tuple[int, int, str]]:
    """``(start, end, label HTML)`` of each ``<div class="field-label…">…</div>``, in order.

    One left-to-right pass: each search starts where the previous one stopped, and a missing
    ``"`` or ``</div>`` ends the scan (no later label could be closed either).
    """
    found: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        start = description.find(_LABEL_OPEN, pos)
        if start < 0:
            break
        quote = description.find('"', start + len(_LABEL_OPEN))
        if quote < 0:
            break
        if not description.startswith('">', quote):
            pos = start + len(_LABEL_OPEN)
            continue
        close = description.find("</div>", quote + 2)
        if close < 0:
            break
        found.append((start, close + len("</div>"), description[quote + 2 : close]))
        pos = close + len("</div>")
    return found


def description_fields(description: str) -> dict[str, str]:
    """The labelled fields of an item's description: ``{"security risk": "<a …>…</a>", …}``.

    Keys are the labels lower-cased without the colon; values are the raw HTML of each field.
    """
    fields: dict[str, str] = {}
    labels = _labels(description)
    for i, (_start, end, label_html) in enumerate(labels):
        label = _one_line(html.unescape(_strip_tags(label_html))).rstrip(":").strip()
        stop = labels[i + 1][0] if i + 1 < len(labels) else len(description)
        fields.setdefault(label.casefold(), description[end:stop])
    return fields


def _strong(fragment: str) -> str | None:
    """The inner HTML of the first ``<strong …>…</strong>``, or None."""
    m = _STRONG_OPEN.search(fragment)
    if m is None:
        return None
    gt = fragment.find(">", m.end())
    if gt < 0:
        return None
    close = _STRONG_CLOSE.search(fragment, gt + 1)
    return None if close is None else fragment[gt + 1 : close.start()]


def _first_href(fragment: str) -> str | None:
    """The raw ``href="…"`` value of the first ``<a …>`` that has one, or None.

    Each tag's window (to its ``>``) is searched once: the next ``<a`` is looked for after the
    window, so overlapping unclosed tags stay linear.
    """
    pos = 0
    while (m := _A_OPEN.search(fragment, pos)) is not None:
        gt = fragment.find(">", m.end())
        end = len(fragment) if gt < 0 else gt
        h = _HREF_ATTR.search(fragment, m.end(), end)
        if h is not None:
            close = fragment.find('"', h.end())
            return None if close < 0 else fragment[h.end() : close]
        if gt < 0:
            return None
        pos = gt
    return None


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
    strong = _strong(fragment)
    text = _one_line(_text(fragment))
    m = _RISK.match(text)
    if not m or not text:
        raise ValueError(f"security risk {text!r} is not '<label> <score>/25 <vector>'")
    raw_label = _text(strong) if strong is not None else (m.group("label") or "")
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
    for n, d in enumerate(_WINDOW_DATE.finditer(flat)):
        if n == WINDOW_MAX_DATES:
            break
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
