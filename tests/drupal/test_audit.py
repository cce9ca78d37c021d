"""``monitord audit``: every inventory against an OSV directory; exit 1 when vulnerable."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.commands.audit import Finding, audit, format_text, move_to
from monitord.drupal.inventory import Inventory
from monitord.drupal.osv import load_osv_directory, safe_target
from monitord.drupal.versions import parse_version

HERE = Path(__file__).parent
OSV = HERE / "fixtures" / "audit-osv"
CONFIG = HERE / "fixtures" / "match" / "config"


def shared_osv() -> Path | None:
    env = os.environ.get("MONITORD_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    path = root / "drupal" / "osv"
    return path if (path / "advisories").is_dir() else None


@pytest.fixture
def config(tmp_path: Path) -> Path:
    dest = tmp_path / "config"
    shutil.copytree(CONFIG, dest)
    return dest


def test_audit_lists_vulnerable_packages_with_the_version_to_move_to(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code = main(["audit", "--config", str(config), "--osv", str(OSV)])
    cap = capsys.readouterr()
    assert code == 1
    out = cap.out
    assert "acme/acme-www: drupal/webform 6.2.3 is vulnerable — update to 6.2.9\n" in out
    assert "acme/acme-shop: drupal/vbo_extra 4.3.1 is vulnerable — update to 4.3.2\n" in out
    assert "beta/beta-www: drupal/token 8.x-1.14 is vulnerable — update to 1.15.0\n" in out
    # 3.0.1 is listed as last affected, and the advisory names no release above it
    assert (
        "drupal/admin_toolbar 3.0.1 is vulnerable — no release free of its advisories is known: "
        "move to a supported branch or remove it"
    ) in out
    assert "SA-CONTRIB-2026-903" not in out  # token's older advisory no longer applies
    assert "SA-CONTRIB-2026-906" not in out  # nobody has that project
    assert "acme/acme-legacy: inventory unknown — check by hand" in out
    assert "acme-static" not in out  # not a Drupal site
    assert "4 findings on 3 sites, 1 sites to check by hand" in cap.err


def test_audit_json_and_one_client(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code = main(["audit", "--config", str(config), "--osv", str(OSV), "--client", "beta", "--json"])
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert sorted((r["package"], r["advisory"], tuple(r["fixed"])) for r in rows) == [
        ("drupal/admin_toolbar", "SA-CONTRIB-2026-901", ()),
        ("drupal/token", "SA-CONTRIB-2026-902", ("1.15.0",)),
    ]
    assert {r["site"] for r in rows} == {"beta-www"}


def test_audit_exit_0_when_nothing_is_vulnerable(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    (config / "clients" / "beta.yml").write_text(
        (config / "clients" / "beta.yml")
        .read_text()
        .replace("drupal/admin_toolbar: 3.0.1", "drupal/admin_toolbar: 3.0.2")
        .replace("8.x-1.14", "8.x-1.15")
    )
    code = main(["audit", "--config", str(config), "--osv", str(OSV), "--client", "beta"])
    cap = capsys.readouterr()
    assert code == 0
    assert cap.out == ""
    assert "0 findings" in cap.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --osv DIR"),
        (["--osv", "/no/such/osv"], "not a directory of OSV advisories"),
        (["--osv", str(OSV), "--client", "nope"], "no client 'nope'"),
    ],
)
def test_audit_cannot_run_exit_2_says_why(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    config: Path,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("MONITORD_OSV_DIR", raising=False)
    code = main(["audit", "--config", str(config), *args])
    assert code == 2
    assert message in capsys.readouterr().err


def inventory(**packages: str) -> Inventory:
    return Inventory({f"drupal/{k}": v for k, v in packages.items()}, "modules", True)


AUDIT_TABLE = [
    ("fixed branch", "webform", "6.2.8", ["SA-CONTRIB-2026-904"]),
    ("fixed release", "webform", "6.2.9", []),
    ("two advisories, one applies", "token", "1.13.0", ["SA-CONTRIB-2026-902"]),
    (
        "two advisories, both apply",
        "token",
        "1.11.0",
        ["SA-CONTRIB-2026-902", "SA-CONTRIB-2026-903"],
    ),
    ("drupal version string", "token", "8.x-1.11", ["SA-CONTRIB-2026-902", "SA-CONTRIB-2026-903"]),
    ("between ranges", "vbo_extra", "4.2.9", []),
    ("second range", "vbo_extra", "4.3.0", ["SA-CONTRIB-2026-905"]),
    ("exact listed release", "admin_toolbar", "3.0.0", ["SA-CONTRIB-2026-901"]),
    ("after listed releases", "admin_toolbar", "3.0.2", []),
    ("dev branch is not ordered", "admin_toolbar", "dev-3.x", []),
]


@pytest.mark.parametrize(
    ("package", "installed", "advisories"),
    [r[1:] for r in AUDIT_TABLE],
    ids=[r[0] for r in AUDIT_TABLE],
)
def test_audit_table(package: str, installed: str, advisories: list[str]) -> None:
    result = audit([("c", "s", inventory(**{package: installed}))], load_osv_directory(OSV))
    assert sorted(f.advisory for f in result.findings) == advisories


def test_audit_unparseable_version_is_a_problem_not_a_silent_pass() -> None:
    result = audit([("c", "s", inventory(webform="banana"))], load_osv_directory(OSV))
    assert result.findings == []
    assert result.problems and "banana" in result.problems[0]


CORE_2026 = HERE / "fixtures" / "osv-core-2026"
"""Six core advisories of 2026 in the Drupal Security Team's OSV layout (written here): the
``11.2.*`` ranges of SA-CORE-2026-010/011/012 end at 11.3.0, which their ``>=11.3.0 <11.3.14``
ranges affect."""

# (installed core, the release to move to: the lowest that none of the six affects)
TARGETS = [
    ("11.2.5", "11.3.14"),  # not 11.3.0: SA-CORE-2026-010/011/012 affect it
    ("11.2.13", "11.3.14"),  # 11.2.14 ends SA-CORE-2026-005 only; 11.2.* stays affected
    ("11.0.4", "11.3.14"),
    ("11.3.0", "11.3.14"),
    ("11.3.13", "11.3.14"),
    ("11.4.0", "11.4.4"),
    ("10.5.3", "10.6.13"),  # no 10.5 release escapes SA-CORE-2026-010 (<10.6.13)
    ("10.6.12", "10.6.13"),
    ("8.x-8.9", "10.6.13"),
    ("11.4.4", None),  # nothing above it is named; it is not affected anyway
]


@pytest.mark.parametrize(("installed", "target"), TARGETS)
def test_safe_target_is_the_lowest_release_no_advisory_affects(
    installed: str, target: str | None
) -> None:
    records = load_osv_directory(CORE_2026)
    assert safe_target(records, installed) == target
    if target is not None:
        assert not any(r.affects(target) for r in records)
        assert not any(g.contains(target) for r in records for g in r.ranges)


def test_audit_of_11_2_5_never_recommends_a_release_it_calls_vulnerable() -> None:
    records = load_osv_directory(CORE_2026)
    result = audit([("c", "s", inventory(core="11.2.5"))], records)
    found = {f.advisory: f for f in result.findings}
    assert sorted(found) == [
        "SA-CORE-2026-001",
        "SA-CORE-2026-005",
        "SA-CORE-2026-010",
        "SA-CORE-2026-011",
        "SA-CORE-2026-012",
    ]
    assert move_to(result.findings) == "update to 11.3.14"
    # Each advisory's own "fixed in" is a release that advisory does not affect.
    assert {a: f.fixed for a, f in found.items()} == {
        "SA-CORE-2026-001": ["11.2.11"],
        "SA-CORE-2026-005": ["11.2.14"],
        "SA-CORE-2026-010": ["11.3.14"],
        "SA-CORE-2026-011": ["11.3.14"],
        "SA-CORE-2026-012": ["11.3.14"],
    }
    text = format_text(result)
    assert text.splitlines()[0] == "c/s: drupal/core 11.2.5 is vulnerable — update to 11.3.14"
    assert "11.3.0" not in text
    assert {f.to_json()["target"] for f in result.findings} == {"11.3.14"}


def test_move_to_without_a_safe_release() -> None:
    f = Finding("c", "s", "drupal/token", "1.11.0", "A", None, [], None)
    assert move_to([f]) == (
        "no release free of its advisories is known: move to a supported branch or remove it"
    )


def test_audit_over_the_drupal_security_teams_database() -> None:
    """Optional conformance: the real OSV database (skipped when ../shared is absent)."""
    root = shared_osv()
    if root is None:
        pytest.skip("the shared OSV database is not here")
    records = load_osv_directory(root)
    assert len(records) > 100
    # For every record with a fixed event: from the range's first release, the release to
    # move to is above it, outside the record (every range), and no later than the range's
    # fixed release when the record does not affect that one.
    checked = 0
    for r in records:
        for rng in r.ranges:
            if rng.fixed is None or rng.introduced == "0":
                continue
            inv = inventory(**{r.package.split("/", 1)[1]: rng.introduced})
            result = audit([("c", "s", inv)], [r])
            if not result.findings:
                continue  # a range the record's constraint does not cover (team-corrected)
            (target,) = result.findings[0].fixed
            assert parse_version(target) > parse_version(rng.introduced), (r.id, rng)
            assert not r.affects(target), (r.id, rng, target)
            assert not any(g.contains(target) for g in r.ranges), (r.id, rng, target)
            if not r.affects(rng.fixed):
                assert parse_version(target) <= parse_version(rng.fixed), (r.id, rng, target)
            checked += 1
    assert checked > 50


def test_a_hostile_composer_lock_is_unchecked_with_its_reason_and_the_rest_audited(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    """200,000 ``[`` in one site's composer.lock once ended the audit with a traceback."""
    lock = config / "sites" / "acme-shop.composer.lock"
    lock.write_bytes(b"[" * 200_000)
    code = main(["audit", "--config", str(config), "--osv", str(OSV)])
    cap = capsys.readouterr()
    assert code == 1  # the healthy sites' findings still count
    assert "Traceback" not in cap.err
    assert "acme/acme-www: drupal/webform 6.2.3 is vulnerable" in cap.out
    assert (
        f"acme/acme-shop: inventory unknown — check by hand (composer.lock: {lock} nests JSON "
        "deeper than"
    ) in cap.out
    assert "3 findings on 2 sites, 2 sites to check by hand" in cap.err
