"""The Advisory: one drupal.org security advisory or PSA, as every later step sees it.

It is a plain frozen value. Parsing lives in :mod:`monitord.drupal.feeds`; matching against
inventories and deciding (now / patch day) live elsewhere. ``fingerprint()`` changes exactly
when drupal.org revises something that can change a decision (risk, score, affected versions,
kind, insecure-version list), so a store can notice a revision by comparing fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

AdvisoryKind = Literal["core", "contrib", "psa"]
ADVISORY_KINDS: tuple[AdvisoryKind, ...] = ("core", "contrib", "psa")

AdvisorySource = Literal["rss", "psa-json"]

RISK_LABELS: tuple[str, ...] = (
    "Not critical",
    "Less critical",
    "Moderately critical",
    "Critical",
    "Highly critical",
)
"""drupal.org's risk labels, lowest first; index * 5 is the band's lowest score."""

HIGHLY_CRITICAL_SCORE = 20
"""Scores 20–25 are the "Highly critical" band: patched at once, even out of hours."""

MAX_RISK_SCORE = 25
"""drupal.org's risk scale (NIST Common Misuse Scoring System) runs 0–25."""


def risk_label_for_score(score: int) -> str:
    """The band of a score: 0–4 Not critical … 20–25 Highly critical."""
    if not 0 <= score <= MAX_RISK_SCORE:
        raise ValueError(f"risk score {score} is outside drupal.org's scale of 0 to 25")
    return RISK_LABELS[min(score // 5, len(RISK_LABELS) - 1)]


def canonical_risk_label(text: str) -> str | None:
    """``"moderately  critical"`` -> ``"Moderately critical"``; None when it is no risk label."""
    wanted = " ".join(text.split()).casefold()
    for label in RISK_LABELS:
        if label.casefold() == wanted:
            return label
    return None


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("Advisory.published must be timezone-aware")
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory. Every string is plain text (HTML already removed and unescaped)."""

    id: str
    """``SA-CORE-2018-002``, ``SA-CONTRIB-2026-191``, ``PSA-2026-09-21`` (upper case)."""
    kind: AdvisoryKind
    title: str
    """The item's title as published."""
    project: str | None
    """Display name (``Drupal core``, ``Tawk.to - Live chat application``); None for most PSAs."""
    machine_name: str | None
    """drupal.org project machine name (``drupal`` for core, ``tawk_to``)."""
    package: str | None
    """Composer name: ``drupal/core`` for core, ``drupal/<machine>`` for contrib, None for PSAs."""
    risk_label: str | None
    score: int | None
    vector: str | None
    """``AC:Basic/A:User/CI:Some/II:Some/E:Theoretical/TD:Uncommon``."""
    vulnerability: str | None
    affected: str | None
    """The Composer constraint as drupal.org wrote it (``<10.2.11 || >=10.3.0 <10.3.9``)."""
    cve_ids: tuple[str, ...]
    link: str
    guid: str
    published: datetime
    """Aware, UTC."""
    solution: str | None = None
    solution_link: str | None = None
    """The first link in the Solution section (usually the fixed release)."""
    insecure_versions: tuple[str, ...] = ()
    """psa.json only: exact insecure releases as written there (``8.x-1.1``, ``7.65``)."""
    window_start: datetime | None = None
    window_end: datetime | None = None
    """PSAs only: the release window the PSA announces (UTC), when its text states one."""
    source: AdvisorySource = "rss"
    """Which kind of feed it came from; not part of the fingerprint."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "published", _utc(self.published))
        if self.window_start is not None:
            object.__setattr__(self, "window_start", _utc(self.window_start))
        if self.window_end is not None:
            object.__setattr__(self, "window_end", _utc(self.window_end))

    @property
    def highly_critical(self) -> bool:
        """Score 20 or more; when there is no score, the label "Highly critical"."""
        if self.score is not None:
            return self.score >= HIGHLY_CRITICAL_SCORE
        return self.risk_label == "Highly critical"

    @property
    def risk_text(self) -> str:
        """``Critical 17``, ``Highly critical``, or ``unrated``."""
        parts = [p for p in (self.risk_label, None if self.score is None else str(self.score)) if p]
        return " ".join(parts) if parts else "unrated"

    def decision_fields(self) -> dict[str, Any]:
        """The fields whose change means the decision about this advisory must be re-made."""
        return {
            "kind": self.kind,
            "risk_label": self.risk_label,
            "score": self.score,
            "affected": self.affected,
            "insecure_versions": list(self.insecure_versions),
        }

    def fingerprint(self) -> str:
        """SHA-256 (hex) of :meth:`decision_fields`; equal means nothing to re-decide."""
        blob = json.dumps(self.decision_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 with ``+00:00``); inverse of from_json."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "project": self.project,
            "machine_name": self.machine_name,
            "package": self.package,
            "risk_label": self.risk_label,
            "score": self.score,
            "highly_critical": self.highly_critical,
            "vector": self.vector,
            "vulnerability": self.vulnerability,
            "affected": self.affected,
            "cve_ids": list(self.cve_ids),
            "link": self.link,
            "guid": self.guid,
            "published": self.published.isoformat(),
            "solution": self.solution,
            "solution_link": self.solution_link,
            "insecure_versions": list(self.insecure_versions),
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
            "source": self.source,
            "fingerprint": self.fingerprint(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Advisory:
        """Rebuild from :meth:`to_json` output (derived keys such as ``fingerprint`` ignored)."""
        kind = data["kind"]
        if kind not in ADVISORY_KINDS:
            raise ValueError(f"advisory kind {kind!r} is not one of {', '.join(ADVISORY_KINDS)}")
        source = data.get("source", "rss")
        if source not in ("rss", "psa-json"):
            raise ValueError(f"advisory source {source!r} is not 'rss' or 'psa-json'")

        def when(key: str) -> datetime | None:
            v = data.get(key)
            return None if v is None else datetime.fromisoformat(str(v))

        published = when("published")
        if published is None:
            raise ValueError("advisory JSON lacks 'published'")
        score = data.get("score")
        return cls(
            id=str(data["id"]),
            kind=cast(AdvisoryKind, kind),
            title=str(data.get("title") or data["id"]),
            project=data.get("project"),
            machine_name=data.get("machine_name"),
            package=data.get("package"),
            risk_label=data.get("risk_label"),
            score=None if score is None else int(score),
            vector=data.get("vector"),
            vulnerability=data.get("vulnerability"),
            affected=data.get("affected"),
            cve_ids=tuple(data.get("cve_ids") or ()),
            link=str(data.get("link") or ""),
            guid=str(data.get("guid") or data["id"]),
            published=published,
            solution=data.get("solution"),
            solution_link=data.get("solution_link"),
            insecure_versions=tuple(data.get("insecure_versions") or ()),
            window_start=when("window_start"),
            window_end=when("window_end"),
            source=cast(AdvisorySource, source),
        )
