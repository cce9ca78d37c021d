"""The Drupal Security Team's OSV advisory database, read into plain records.

Layout: ``<root>/advisories/<project>/DRUPAL-*.json`` (``root`` may also be the
``advisories`` folder itself). Each record affects one package (``drupal/<project>``);
``affected[].database_specific.affected_versions`` is drupal.org's verbatim Composer
constraint and ``ranges[].events`` the introduced/fixed (or last_affected) pairs derived from
it. OSV ``aliases`` carry CVE ids; the SA id is derived from the record id
(``DRUPAL-CONTRIB-2021-025`` → ``SA-CONTRIB-2021-025``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitord.drupal.versions import Constraint, parse_constraint, parse_version
from monitord.errors import MonitordError, VersionError

__all__ = [
    "OSV_RECORD_MAX_BYTES",
    "OsvError",
    "OsvRange",
    "OsvRecord",
    "fixed_versions",
    "load_osv_directory",
    "load_osv_record",
    "parse_osv_record",
]

OSV_RECORD_MAX_BYTES = 1024 * 1024
"""Largest single OSV file we read; the biggest in the Drupal database is about 20 KB."""


class OsvError(MonitordError):
    """An OSV file cannot be read as a Drupal advisory record."""


@dataclass(frozen=True, slots=True)
class OsvRange:
    """One ECOSYSTEM range: from ``introduced`` up to ``fixed`` (exclusive) or
    ``last_affected`` (inclusive), or open-ended when both are None."""

    introduced: str
    fixed: str | None = None
    last_affected: str | None = None
    constraint: str | None = None

    def contains(self, version: str) -> bool:
        """Whether ``version`` lies in this range, in Composer's order."""
        v = parse_version(version)
        if v.is_branch:
            return False
        if v < parse_version(self.introduced):
            return False
        if self.fixed is not None:
            return v < parse_version(self.fixed)
        if self.last_affected is not None:
            return v <= parse_version(self.last_affected)
        return True


@dataclass(frozen=True, slots=True)
class OsvRecord:
    id: str
    sa_id: str
    aliases: tuple[str, ...]
    package: str
    affected_versions: str | None
    ranges: tuple[OsvRange, ...]
    summary: str | None
    details: str
    link: str | None
    severity: tuple[str, ...]
    published: datetime | None
    modified: datetime | None

    @property
    def constraint(self) -> Constraint | None:
        """The parsed affected-versions constraint (None when the record has none)."""
        if not self.affected_versions:
            return None
        return parse_constraint(self.affected_versions)

    def affects(self, installed: str) -> bool:
        """Whether ``installed`` is affected, by the constraint, else by the ranges."""
        c = self.constraint
        if c is not None:
            return c.matches(installed)
        return any(r.contains(installed) for r in self.ranges)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _sa_id(record_id: str) -> str:
    return (
        "SA-" + record_id.removeprefix("DRUPAL-") if record_id.startswith("DRUPAL-") else record_id
    )


def parse_osv_record(doc: Any, *, source: str = "OSV record") -> OsvRecord:
    """Build a record from a decoded OSV JSON object; :class:`OsvError` when unusable."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise OsvError(f"{source}: not an OSV record (no id); expected the OSV JSON format")
    affected = doc.get("affected")
    if not isinstance(affected, list) or not affected or not isinstance(affected[0], dict):
        raise OsvError(f"{source}: {doc['id']} lists no affected package")
    first = affected[0]
    package = (first.get("package") or {}).get("name")
    if not isinstance(package, str):
        raise OsvError(f"{source}: {doc['id']} has no package name")
    ranges: list[OsvRange] = []
    for raw in first.get("ranges") or []:
        introduced: str | None = None
        fixed: str | None = None
        last: str | None = None
        for event in raw.get("events") or []:
            introduced = event.get("introduced", introduced)
            fixed = event.get("fixed", fixed)
            last = event.get("last_affected", last)
        constraint = (raw.get("database_specific") or {}).get("constraint")
        ranges.append(OsvRange(introduced or "0", fixed, last, constraint))
    severity: list[str] = []
    for block in [*(doc.get("severity") or []), *(first.get("severity") or [])]:
        if isinstance(block, dict) and block.get("score"):
            severity.append(f"{block.get('type', '')}:{block['score']}")
    link = next(
        (
            ref["url"]
            for ref in doc.get("references") or []
            if isinstance(ref, dict) and isinstance(ref.get("url"), str)
        ),
        None,
    )
    affected_versions = (first.get("database_specific") or {}).get("affected_versions")
    details = doc.get("details")
    return OsvRecord(
        id=doc["id"],
        sa_id=_sa_id(doc["id"]),
        aliases=tuple(a for a in doc.get("aliases") or [] if isinstance(a, str)),
        package=package,
        affected_versions=affected_versions if isinstance(affected_versions, str) else None,
        ranges=tuple(ranges),
        summary=doc.get("summary") if isinstance(doc.get("summary"), str) else None,
        details=details if isinstance(details, str) else "",
        link=link,
        severity=tuple(severity),
        published=_time(doc.get("published")),
        modified=_time(doc.get("modified")),
    )


def load_osv_record(path: Path) -> OsvRecord:
    """Read one OSV JSON file."""
    try:
        size = path.stat().st_size
        if size > OSV_RECORD_MAX_BYTES:
            raise OsvError(f"{path}: {size} bytes is too large for an OSV record")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OsvError(f"{path}: cannot read it as OSV JSON ({exc})") from None
    return parse_osv_record(doc, source=str(path))


def load_osv_directory(root: Path) -> list[OsvRecord]:
    """Every ``DRUPAL-*.json`` under ``root/advisories`` (or ``root``), sorted by id."""
    base = root / "advisories" if (root / "advisories").is_dir() else root
    if not base.is_dir():
        raise OsvError(
            f"{root}: not a directory of OSV advisories; expected advisories/<project>/DRUPAL-*.json"
        )
    records = [load_osv_record(p) for p in sorted(base.glob("*/DRUPAL-*.json"))]
    return sorted(records, key=lambda r: r.id)


def fixed_versions(record: OsvRecord, installed: str) -> list[str]:
    """The fixed version(s) to move to from ``installed`` on its own branch.

    Empty when ``installed`` is not affected, or when it is but no fix exists on its branch
    (the range has no ``fixed`` event: upgrade to another branch or remove the project).
    Raises :class:`VersionError` for an unparseable version.
    """
    if not record.affects(installed):
        return []
    found: set[str] = set()
    for r in record.ranges:
        try:
            inside = r.contains(installed)
        except VersionError:
            continue  # a malformed range in the database must not hide the others
        if inside and r.fixed is not None:
            found.add(r.fixed)
    return sorted(found, key=parse_version)
