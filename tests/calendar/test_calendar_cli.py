"""``monitord calendar patch-days`` and ``monitord calendar respond-by``, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitord.cli import main


def write_config(directory: Path, agency_yaml: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "monitord.yml").write_text(agency_yaml, encoding="utf-8")
    return directory


@pytest.fixture
def agency_dir(tmp_path: Path) -> Path:
    """The example agency: London, GB/ENG, closed on 2026-12-29 and on 2026-03-19."""
    return write_config(
        tmp_path / "agency",
        "agency:\n"
        "  name: Collective\n"
        "  timezone: Europe/London\n"
        '  office_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n'
        '  holidays: {country: GB, subdivision: ENG, extra: ["2026-12-29", "2026-03-19"]}\n',
    )


@pytest.fixture
def bavaria_dir(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "bavaria",
        "agency:\n"
        "  name: Kollektiv\n"
        "  timezone: Europe/Berlin\n"
        "  holidays: {country: DE, subdivision: BY}\n",
    )


@pytest.fixture
def new_york_dir(tmp_path: Path) -> Path:
    """An office in New York whose config names only the country (no subdivision)."""
    return write_config(
        tmp_path / "ny",
        "agency:\n"
        "  name: Collective NY\n"
        "  timezone: America/New_York\n"
        '  office_hours: {start: "08:00", end: "16:00"}\n'
        "  holidays: {country: US}\n",
    )


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run where no ./config exists and $MONITORD_CONFIG is unset, so a command without
    --config finds no configuration (this machine has no /etc/monitord)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITORD_CONFIG", raising=False)


BUILT_IN_NOTE = (
    "monitord: no configuration found (--config, $MONITORD_CONFIG, /etc/monitord, ./config): "
    "using the built-in calendar (Europe/London, Mon-Fri 09:00-17:00, GB/ENG bank holidays, "
    "no extra closure days)\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_patch_days_default_calendar(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "calendar", "patch-days", "2026")
    assert (code, err) == (0, BUILT_IN_NOTE)
    assert out.splitlines() == [
        "2026-01-22",
        "2026-02-19",
        "2026-03-19",
        "2026-04-16",
        "2026-05-21",
        "2026-06-18",
        "2026-07-16",
        "2026-08-20",
        "2026-09-17",
        "2026-10-22",
        "2026-11-19",
        "2026-12-17",
    ]


def test_patch_days_use_the_configured_closures(
    capsys: pytest.CaptureFixture[str], agency_dir: Path
) -> None:
    code, out, _ = run(capsys, "calendar", "patch-days", "2026", "--config", str(agency_dir))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 12
    assert lines[2] == "2026-03-20"  # the 19th is an agency closure day
    assert lines[0] == "2026-01-22"


def test_patch_days_use_the_configured_country(
    capsys: pytest.CaptureFixture[str], bavaria_dir: Path
) -> None:
    code, out, _ = run(capsys, "calendar", "patch-days", "2030", "--config", str(bavaria_dir))
    assert code == 0
    assert out.splitlines()[5] == "2030-06-21"  # Thu 20 Jun 2030 is Corpus Christi


@pytest.mark.parametrize("year", ["twenty", "0", "10000"])
def test_patch_days_bad_year(capsys: pytest.CaptureFixture[str], year: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["calendar", "patch-days", year])
    assert exc.value.code == 2
    assert "YEAR" in capsys.readouterr().err


RESPOND_ROWS = [
    # (argv after respond-by, config fixture or None, expected line)
    (["2026-12-24T16:30"], None, "2026-12-29T09:30:00+00:00"),  # GB/ENG, no closure day
    (["2026-12-24T16:30"], "agency_dir", "2026-12-30T09:30:00+00:00"),
    (["2026-06-10T15:30:00Z"], None, "2026-06-11T09:30:00+01:00"),
    (["2026-06-10T16:30"], None, "2026-06-11T09:30:00+01:00"),  # naive: London wall clock
    (["2026-03-27T16:30:00+00:00"], None, "2026-03-30T09:30:00+01:00"),
    (["2026-10-23T16:30:00+01:00"], None, "2026-10-26T09:30:00+00:00"),
    (["  2026-06-13T11:00  "], None, "2026-06-15T10:00:00+01:00"),
    # Naive input is New York wall clock; Thanksgiving is Thu 26 Nov 2026; office 08–16.
    (["2026-11-25T15:30"], "new_york_dir", "2026-11-27T08:30:00-05:00"),
    (["2026-11-25T20:30:00+00:00"], "new_york_dir", "2026-11-27T08:30:00-05:00"),
    # Bavaria: Thu 4 Jun 2026 is Corpus Christi.
    (["2026-06-03T16:30"], "bavaria_dir", "2026-06-05T09:30:00+02:00"),
]


@pytest.mark.parametrize(("argv", "config", "expected"), RESPOND_ROWS)
def test_respond_by(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    argv: list[str],
    config: str | None,
    expected: str,
) -> None:
    extra = ["--config", str(request.getfixturevalue(config))] if config else []
    code, out, err = run(capsys, "calendar", "respond-by", *argv, *extra)
    assert (code, out, err) == (0, expected + "\n", "" if config else BUILT_IN_NOTE)


def test_respond_by_bad_input_says_how_to_write_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["calendar", "respond-by", "next tuesday"])
    out, err = capsys.readouterr()
    assert exited.value.code == 2  # a usage error, as in every command that takes a moment
    assert out == ""
    assert "'next tuesday' is not a date and time" in err
    assert "2026-12-24T16:30" in err


def test_a_missing_config_directory_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    code, out, err = run(
        capsys, "calendar", "respond-by", "2026-06-10T12:00", "--config", str(missing)
    )
    assert (code, out) == (1, "")
    assert str(missing) in err and "does not exist" in err


def test_an_invalid_agency_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = write_config(
        tmp_path / "bad", "agency:\n  name: X\n  office_hours: {start: '17:00', end: '09:00'}\n"
    )
    code, out, err = run(capsys, "calendar", "patch-days", "2026", "--config", str(bad))
    assert (code, out) == (1, "")
    assert "monitord.yml:" in err and "office_hours" in err


def test_calendar_group_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calendar")
    assert code == 2
    assert "patch-days" in out and "respond-by" in out


def test_installed_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "monitord", "calendar", "patch-days", "2027"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "2027-01-21"  # 1 Jan 2027 is a Friday
    assert len(proc.stdout.splitlines()) == 12
