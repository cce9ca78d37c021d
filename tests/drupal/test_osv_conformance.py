"""Conformance: every record of the Drupal Security Team's OSV database (../shared/data).

For each record the constraint drupal.org wrote (affected_versions) must agree with the
introduced/fixed boundaries the database derived from it, as our Composer parser reads it:
introduced affected; last_affected affected; fixed not affected by its own range's
constraint, and not by the whole constraint unless another range of the record starts
there (``11.0.* || 11.1.*`` is written as adjacent ranges); the patch release just below a
stable fix affected. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from monitord.drupal.osv import OsvRecord, load_osv_directory
from monitord.drupal.versions import parse_constraint, parse_version

pytestmark = pytest.mark.conformance


def shared_data() -> Path:
    env = os.environ.get("MONITORD_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


OSV = shared_data() / "drupal" / "osv"
needs_data = pytest.mark.skipif(not OSV.is_dir(), reason="../shared/data is absent")

# record id -> why our reading disagrees with the database's boundaries. Empty today: every
# disagreement found so far was an adjacent wildcard range (handled above) or a constraint
# the Security Team corrected upstream (patches.toml; the database carries the correction).
ALLOWED_MISMATCHES: dict[str, str] = {}


def mismatches(r: OsvRecord) -> list[str]:
    out: list[str] = []
    whole = r.constraint
    if whole is None:
        return [f"{r.id}: no affected_versions"]
    for g in r.ranges:
        own = parse_constraint(g.constraint) if g.constraint else None
        if not whole.matches(g.introduced):
            out.append(f"{r.id}: introduced {g.introduced} not affected by {whole}")
        if own is not None and not own.matches(g.introduced):
            out.append(f"{r.id}: introduced {g.introduced} not affected by range {own}")
        if g.last_affected is not None and not whole.matches(g.last_affected):
            out.append(f"{r.id}: last_affected {g.last_affected} not affected by {whole}")
        if g.fixed is None:
            continue
        adjacent = any(o is not g and o.contains(g.fixed) for o in r.ranges)
        if own is not None and own.matches(g.fixed):
            out.append(f"{r.id}: fixed {g.fixed} affected by its range {own}")
        if whole.matches(g.fixed) and not adjacent:
            out.append(f"{r.id}: fixed {g.fixed} affected by {whole}")
        fixed = parse_version(g.fixed)
        if fixed.modifier is None and not fixed.dev and fixed.release[2] > 0:
            major, minor, patch, _ = fixed.release
            below = f"{major}.{minor}.{patch - 1}"
            if parse_version(below) >= parse_version(g.introduced) and not whole.matches(below):
                out.append(f"{r.id}: {below}, just below fixed {g.fixed}, not affected by {whole}")
    return out


@needs_data
def test_every_record_boundary_agrees_with_its_constraint() -> None:
    records = load_osv_directory(OSV)
    assert len(records) == 591
    found: dict[str, list[str]] = {}
    for r in records:
        problems = mismatches(r)
        if problems:
            found[r.id] = problems
    unexplained = {k: v for k, v in found.items() if k not in ALLOWED_MISMATCHES}
    assert not unexplained, "\n".join(p for v in unexplained.values() for p in v)
    stale = set(ALLOWED_MISMATCHES) - set(found)
    assert not stale, f"allow-list entries no longer needed: {sorted(stale)}"


@needs_data
def test_adjacent_wildcard_ranges_are_the_only_fixed_boundaries_still_affected() -> None:
    # Without the adjacency rule these are the records whose "fixed" is still affected:
    # each is the end of an x.y.* range, and another affected range begins right there.
    records = load_osv_directory(OSV)
    hits = []
    for r in records:
        whole = r.constraint
        assert whole is not None
        for g in r.ranges:
            if g.fixed is not None and whole.matches(g.fixed):
                hits.append((r.id, g.fixed))
                assert g.constraint is not None and g.constraint.endswith(".*"), (r.id, g)
                assert any(o.introduced == g.fixed for o in r.ranges if o is not g), (r.id, g)
    assert hits  # the database does contain such records; the rule above is not idle


@needs_data
def test_upstream_corrections_are_in_the_database() -> None:
    patches = tomllib.loads((OSV / "patches.toml").read_text())
    by_sa = {r.sa_id: r for r in load_osv_directory(OSV)}
    checked = 0
    for sa_id, patch in patches.items():
        original, corrected = patch["field_affected_versions"]
        record = by_sa.get(sa_id)
        if record is None:
            continue  # withdrawn upstream (corrected to "")
        assert record.affected_versions == corrected, sa_id
        assert not mismatches(record), sa_id
        parse_constraint(original)  # the uncorrected text still parses: it was wrong, not garbled
        checked += 1
    assert checked >= 20


@needs_data
def test_every_affected_versions_parses() -> None:
    for r in load_osv_directory(OSV):
        assert r.constraint is not None, r.id
        assert r.package.startswith("drupal/"), r.id
        assert r.sa_id.startswith("SA-"), r.id
