"""OSV records: loading, affects, and the fixed version to move to.

Records are written here in the OSV format the Drupal Security Team publishes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitord.drupal.osv import (
    OsvError,
    fixed_versions,
    load_osv_directory,
    load_osv_record,
    parse_osv_record,
)
from monitord.errors import VersionError


def record(
    rid: str,
    package: str,
    affected_versions: str | None,
    ranges: list[tuple[list[dict[str, str]], str | None]],
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {
        "package": {"ecosystem": "Packagist:https://packages.drupal.org/8", "name": package},
        "severity": [],
        "ranges": [
            {
                "type": "ECOSYSTEM",
                "events": events,
                **({"database_specific": {"constraint": c}} if c else {}),
            }
            for events, c in ranges
        ],
    }
    if affected_versions is not None:
        affected["database_specific"] = {"affected_versions": affected_versions}
    doc: dict[str, Any] = {
        "schema_version": "1.7.0",
        "id": rid,
        "modified": "2025-03-05T16:59:37.000Z",
        "published": "2025-03-05T14:36:25.000Z",
        "aliases": [],
        "details": "The module does not sufficiently check access.",
        "affected": [affected],
        "references": [
            {
                "type": "WEB",
                "url": f"https://www.drupal.org/{rid.lower().replace('drupal-', 'sa-')}",
            }
        ],
        "credits": [],
    }
    doc.update(extra)
    return doc


def I(v: str) -> dict[str, str]:  # noqa: E743
    return {"introduced": v}


def F(v: str) -> dict[str, str]:
    return {"fixed": v}


def L(v: str) -> dict[str, str]:
    return {"last_affected": v}


TWO_BRANCHES = record(
    "DRUPAL-CONTRIB-2025-052",
    "drupal/example_a",
    "<4.7.0 || >=5.0.1 <5.2.0",
    [([I("0"), F("4.7.0")], "<4.7.0"), ([I("5.0.1"), F("5.2.0")], ">=5.0.1 <5.2.0")],
    aliases=["CVE-2025-31693"],
)
WILDCARDS = record(
    "DRUPAL-CORE-2026-005",
    "drupal/core",
    "<10.5.12 || >=11.2.0 <11.2.14 || 11.0.* || 11.1.*",
    [
        ([I("0"), F("10.5.12")], "<10.5.12"),
        ([I("11.2.0"), F("11.2.14")], ">=11.2.0 <11.2.14"),
        ([I("11.0.0"), F("11.1.0")], "11.0.*"),
        ([I("11.1.0"), F("11.2.0")], "11.1.*"),
    ],
    aliases=["CVE-2026-1", "CVE-2026-2"],
    summary="Multiple vulnerabilities",
    severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L"}],
)
UNFIXED = record("DRUPAL-CONTRIB-2024-049", "drupal/example_b", "*", [([I("0")], None)])
LAST = record(
    "DRUPAL-CONTRIB-2021-025",
    "drupal/example_c",
    "<2.5.0 || 3.0.0 || 3.0.1",
    [([I("0"), F("2.5.0")], "<2.5.0"), ([I("3.0.0"), L("3.0.1")], None)],
)
PRE = record(
    "DRUPAL-CONTRIB-2024-042",
    "drupal/example_d",
    "<1.8.0 || >=2.0.0-beta1 <2.0.0-beta3",
    [([I("0"), F("1.8.0")], "<1.8.0"), ([I("2.0.0-beta1"), F("2.0.0-beta3")], None)],
)


def test_fields() -> None:
    r = parse_osv_record(WILDCARDS)
    assert r.id == "DRUPAL-CORE-2026-005"
    assert r.sa_id == "SA-CORE-2026-005"
    assert r.aliases == ("CVE-2026-1", "CVE-2026-2")
    assert r.package == "drupal/core"
    assert r.affected_versions == "<10.5.12 || >=11.2.0 <11.2.14 || 11.0.* || 11.1.*"
    assert [(g.introduced, g.fixed, g.constraint) for g in r.ranges] == [
        ("0", "10.5.12", "<10.5.12"),
        ("11.2.0", "11.2.14", ">=11.2.0 <11.2.14"),
        ("11.0.0", "11.1.0", "11.0.*"),
        ("11.1.0", "11.2.0", "11.1.*"),
    ]
    assert r.summary == "Multiple vulnerabilities"
    assert r.link == "https://www.drupal.org/sa-core-2026-005"
    assert r.severity == ("CVSS_V3:CVSS:3.1/AV:N/AC:L",)
    assert r.published is not None and r.published.isoformat() == "2025-03-05T14:36:25+00:00"
    assert str(r.constraint) == r.affected_versions
    plain = parse_osv_record(TWO_BRANCHES)
    assert plain.summary is None and plain.severity == ()
    assert plain.details.startswith("The module")


# (record, installed, affected, fixed versions to move to)
FIXED = [
    (TWO_BRANCHES, "4.6.9", True, ["4.7.0"]),
    (TWO_BRANCHES, "8.x-4.6", True, ["4.7.0"]),
    (TWO_BRANCHES, "4.7.0", False, []),
    (TWO_BRANCHES, "5.0.0", False, []),
    (TWO_BRANCHES, "5.0.1", True, ["5.2.0"]),
    (TWO_BRANCHES, "5.1.9", True, ["5.2.0"]),
    (TWO_BRANCHES, "5.2.0", False, []),
    (TWO_BRANCHES, "5.2.0-beta1", False, []),  # Composer: <5.2.0 is < 5.2.0.0-dev
    (TWO_BRANCHES, "dev-main", False, []),
    (WILDCARDS, "10.5.11", True, ["10.5.12"]),
    (WILDCARDS, "10.5.12", False, []),
    # 11.1.0 and 11.2.0 end the database's "11.0.*" and "11.1.*" ranges, but the same record
    # affects them (11.1.*, >=11.2.0 <11.2.14): the first release it does not affect is 11.2.14.
    (WILDCARDS, "11.0.4", True, ["11.2.14"]),
    (WILDCARDS, "11.1.3", True, ["11.2.14"]),
    (WILDCARDS, "11.2.13", True, ["11.2.14"]),
    (WILDCARDS, "11.2.14", False, []),
    (WILDCARDS, "11.3.0", False, []),
    (UNFIXED, "1.0.0", True, []),
    (UNFIXED, "8.x-2.3", True, []),
    (LAST, "3.0.1", True, []),
    (LAST, "3.0.2", False, []),
    (LAST, "2.4.0", True, ["2.5.0"]),
    (PRE, "2.0.0-beta2", True, ["2.0.0-beta3"]),
    (PRE, "2.0.0-alpha1", False, []),
    (PRE, "1.7.0", True, ["1.8.0"]),
]


@pytest.mark.parametrize(("doc", "installed", "affected", "fixed"), FIXED)
def test_fixed_versions(
    doc: dict[str, Any], installed: str, affected: bool, fixed: list[str]
) -> None:
    r = parse_osv_record(doc)
    assert r.affects(installed) is affected
    assert fixed_versions(r, installed) == fixed


def test_ranges_used_when_no_constraint() -> None:
    doc = record("DRUPAL-CONTRIB-2020-001", "drupal/x", None, [([I("1.0.0"), F("1.2.0")], None)])
    r = parse_osv_record(doc)
    assert r.constraint is None
    assert r.affects("1.1.0") and not r.affects("1.2.0") and not r.affects("0.9.0")
    assert fixed_versions(r, "1.1.0") == ["1.2.0"]


def test_bad_installed_version_raises() -> None:
    with pytest.raises(VersionError, match="banana"):
        fixed_versions(parse_osv_record(TWO_BRANCHES), "banana")


def test_load_directory(tmp_path: Path) -> None:
    for doc in (TWO_BRANCHES, WILDCARDS, UNFIXED):
        project = doc["affected"][0]["package"]["name"].split("/")[1]
        folder = tmp_path / "advisories" / project
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{doc['id']}.json").write_text(json.dumps(doc))
    (tmp_path / "advisories" / "README.md").write_text("not a record")
    records = load_osv_directory(tmp_path)
    assert [r.id for r in records] == [
        "DRUPAL-CONTRIB-2024-049",
        "DRUPAL-CONTRIB-2025-052",
        "DRUPAL-CORE-2026-005",
    ]
    assert [r.id for r in load_osv_directory(tmp_path / "advisories")] == [r.id for r in records]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read it as OSV JSON"),
        ("[]", "not an OSV record"),
        ('{"id": "DRUPAL-X", "affected": []}', "lists no affected package"),
        ('{"id": "DRUPAL-X", "affected": [{"package": {}}]}', "has no package name"),
    ],
)
def test_unusable_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "DRUPAL-X.json"
    path.write_text(content)
    with pytest.raises(OsvError, match=message):
        load_osv_record(path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(OsvError, match="expected advisories/<project>/DRUPAL"):
        load_osv_directory(tmp_path / "nope")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[" * 200_000, "nests JSON deeper than any OSV record"),
        (b'{"id": "DRUPAL-X", "affected": [{"package": ["drupal/x"]}]}', "not in the OSV format"),
        (
            b'{"id": "DRUPAL-X", "affected": [{"package": {"name": "drupal/x"}, "ranges": [1]}]}',
            "not in the OSV format",
        ),
        (b"\xff\xfe", "cannot read it as OSV JSON"),
    ],
)
def test_a_broken_or_hostile_record_is_an_osv_error(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "DRUPAL-X.json"
    path.write_bytes(content)
    with pytest.raises(OsvError, match=expected):
        load_osv_record(path)
