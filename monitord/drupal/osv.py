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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitord.drupal.versions import ComposerVersion, Constraint, parse_constraint, parse_version
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
    "safe_target",
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
    try:
        return _parse_osv_record(doc, source)
    except (AttributeError, TypeError) as exc:  # a field of the wrong JSON type
        raise OsvError(
            f"{source}: not in the OSV format ({type(exc).__name__}: {exc}); "
            "remove it or fetch the database again"
        ) from None


def _parse_osv_record(doc: Any, source: str) -> OsvRecord:
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
    except RecursionError:
        raise OsvError(
            f"{path}: nests JSON deeper than any OSV record; remove it or fetch the database again"
        ) from None
    except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
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


def _affected_by(record: OsvRecord, version: str) -> bool:
    """Whether ``version`` is affected by ``record``: its constraint, or ANY of its ranges (a
    range the constraint lost must not make a release look safe)."""
    try:
        if record.affects(version):
            return True
    except VersionError:
        pass
    for r in record.ranges:
        try:
            if r.contains(version):
                return True
        except VersionError:
            continue  # a malformed range in the database must not hide the others
    return False


def _named_releases(records: Iterable[OsvRecord]) -> set[str]:
    """Every release the records name as a range boundary (``introduced`` and ``fixed``)."""
    out: set[str] = set()
    for record in records:
        for r in record.ranges:
            for v in (r.introduced, r.fixed):
                if v and v != "0":
                    out.add(v)
    return out


_STABILITY = {"dev": 0, "alpha": 1, "beta": 2, "RC": 3, "stable": 4}
"""Composer's stability order: a target is at least as stable as what is installed."""


def safe_target(records: Sequence[OsvRecord], installed: str) -> str | None:
    """The lowest release above ``installed`` that NO record in ``records`` affects, or None.

        ``records`` are every advisory for the package (not only those that affect ``installed``):
        a release one advisory fixes may be affected by another (11.3.0 ends SA-CORE-2026-010's
        ``11.2.*`` range but is affected by its ``>=11.3.0 <11.3.14``). Candidates are the releases
        the records name (range boundaries), no less stable than ``installed`` (a stable site is
    sent to a stable release; a beta may go to a later beta); each is checked against every range
        and constraint of every record. The lowest safe one is on the installed minor line when
        that line has one, else on its major line, else the next line up — releases order that
        way. None when no named release is safe: move to another branch or remove the project.
        Raises :class:`VersionError` when ``installed`` cannot be read.
    """
    have = parse_version(installed)
    best: tuple[ComposerVersion, str] | None = None
    for raw in _named_releases(records):
        try:
            v = parse_version(raw)
        except VersionError:
            continue
        if v.is_branch or _STABILITY[v.stability] < _STABILITY[have.stability] or not v > have:
            continue
        if best is not None and not v < best[0]:
            continue
        if any(_affected_by(record, raw) for record in records):
            continue
        best = (v, raw)
    return None if best is None else best[1]


def fixed_versions(record: OsvRecord, installed: str) -> list[str]:
    """The release to move to from ``installed`` to be clear of ``record`` alone: the lowest
    release it names above ``installed`` that it does not affect (see :func:`safe_target`).

    Empty when ``installed`` is not affected, or when it is but the record names no release
    that escapes it (no ``fixed`` on the branch: upgrade to another branch or remove the
    project). A list, so a record may one day give more than one. Raises
    :class:`VersionError` for an unparseable version.
    """
    if not record.affects(installed):
        return []
    target = safe_target([record], installed)
    return [] if target is None else [target]
