"""``monitord audit``: every inventory against an OSV directory; exit 1 when vulnerable."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.commands.audit import Finding, audit, move_to
from monitord.drupal.inventory import Inventory
from monitord.drupal.osv import load_osv_directory

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
    assert "acme/acme-www: drupal/webform 6.2.3 is vulnerable — update to 6.2.9 or later" in out
    assert "acme/acme-shop: drupal/vbo_extra 4.3.1 is vulnerable — update to 4.3.2 or later" in out
    assert "beta/beta-www: drupal/token 8.x-1.14 is vulnerable — update to 1.15.0 or later" in out
    # 3.0.1 is listed as last affected, with no fix on the 3.0 branch
    assert "drupal/admin_toolbar 3.0.1 is vulnerable — no fixed release on this branch" in out
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


def test_move_to_takes_the_highest_fix() -> None:
    f = [
        Finding("c", "s", "drupal/token", "1.11.0", "A", None, ["1.12.0"]),
        Finding("c", "s", "drupal/token", "1.11.0", "B", None, ["1.15.0"]),
    ]
    assert move_to(f) == "update to 1.15.0 or later"
    assert move_to([*f, Finding("c", "s", "drupal/token", "1.11.0", "C", None, [])]).startswith(
        "no fixed release"
    )


def test_audit_over_the_drupal_security_teams_database() -> None:
    """Optional conformance: the real OSV database (skipped when ../shared is absent)."""
    root = shared_osv()
    if root is None:
        pytest.skip("the shared OSV database is not here")
    records = load_osv_directory(root)
    assert len(records) > 100
    # For every record with a fixed event: the release just below it (introduced itself) is
    # reported with that fix; the fixed release itself is not reported for this record.
    checked = 0
    for r in records:
        for rng in r.ranges:
            if rng.fixed is None or rng.introduced == "0":
                continue
            inv = inventory(**{r.package.split("/", 1)[1]: rng.introduced})
            result = audit([("c", "s", inv)], [r])
            if not result.findings:
                continue  # a range the record's constraint does not cover (team-corrected)
            assert rng.fixed in result.findings[0].fixed, (r.id, rng)
            fixed_inv = inventory(**{r.package.split("/", 1)[1]: rng.fixed})
            again = audit([("c", "s", fixed_inv)], [r])
            assert all(rng.fixed not in f.fixed for f in again.findings), (r.id, rng)
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
