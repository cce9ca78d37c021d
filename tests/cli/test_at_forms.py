"""Every command that takes a moment (``--at``, ``calendar respond-by``'s argument) accepts the
same forms — agency wall-clock time without an offset, or an offset / ``Z`` — and refuses a
malformed one with the same words, as a usage error (exit 2)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.cli import main, moment_argument, moment_or_date_argument
from monitord.contracts.cli import parse_at
from monitord.errors import MonitordError
from monitord.timeinput import EXAMPLES, in_zone, read_moment

LONDON = ZoneInfo("Europe/London")
FEED = Path(__file__).parents[1] / "drupal" / "fixtures" / "match" / "feed.rss.xml"

# (argv before the moment, argv after it): every command with a moment argument.
COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "calendar respond-by": (["calendar", "respond-by"], []),
    "routes explain": (["routes", "explain", "--kind", "site-down", "--at"], []),
    "advisories match": (["advisories", "match", "--feed", str(FEED), "--at"], []),
    "hours log": (["hours", "log", "acme", "1h", "--at"], []),
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    d.mkdir()
    (d / "monitord.yml").write_text(
        "agency:\n  name: Collective\n  timezone: Europe/London\n"
        '  office_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n'
        f"state: {{path: {d / 'state.sqlite3'}}}\n"
        "security: {enabled: false}\n"
    )
    return d


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-01T16:30", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),  # BST wall clock
        ("2026-07-01 16:30", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),
        ("2026-07-01T16:30:00", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),
        ("2026-07-01T16:30+01:00", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),
        ("2026-07-01T15:30Z", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),
        ("2026-12-24T16:30", datetime(2026, 12, 24, 16, 30, tzinfo=UTC)),  # GMT wall clock
    ],
)
def test_the_accepted_forms(text: str, expected: datetime) -> None:
    assert in_zone(moment_argument(text), LONDON) == expected
    assert in_zone(moment_or_date_argument(text), LONDON) == expected
    assert parse_at(text, LONDON) == expected


def test_a_bare_date_is_its_noon_only_where_dates_are_taken() -> None:
    assert parse_at("2026-07-01", LONDON) == datetime(2026, 7, 1, 11, tzinfo=UTC)
    assert in_zone(moment_or_date_argument("2026-07-01"), LONDON) == datetime(
        2026, 7, 1, 11, tzinfo=UTC
    )
    with pytest.raises(argparse.ArgumentTypeError, match="is not a date and time"):
        moment_argument("2026-07-01")


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T10:00", "16:30", "2026-07-01T25:00"])
def test_malformed_moments_say_how_to_write_them(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        read_moment(bad)
    assert str(info.value) == f"{bad!r} is not a date and time; write it as {EXAMPLES}"
    with pytest.raises(
        MonitordError, match=re.escape(f"is not a date and time; write it as {EXAMPLES}")
    ):
        parse_at(bad, LONDON)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_malformed_moment_alike(
    command: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = COMMANDS[command]
    with pytest.raises(SystemExit) as exited:
        main([*before, "next tuesday", *after, "--config", str(config)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"monitord: error: {command}: argument " in err
    assert (
        "'next tuesday' is not a date and time; write it as 2026-12-24T16:30 (agency time)" in err
    )


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "forms",
    [
        # 16:30 BST = 15:30 UTC: after office hours on one reading, inside them on the other.
        ("2026-07-01T16:30", "2026-07-01T16:30+01:00", "2026-07-01T15:30Z"),
        ("2026-12-24T16:30", "2026-12-24T16:30+00:00", "2026-12-24T16:30Z"),
    ],
)
def test_respond_by_and_routes_explain_read_every_form_alike(
    forms: tuple[str, ...], config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config)]
    respond = {_run(["calendar", "respond-by", f, *cfg], capsys) for f in forms}
    assert len(respond) == 1, respond
    explain = {
        _run(["routes", "explain", "--kind", "security-now", "--at", f, *cfg], capsys)
        for f in forms
    }
    assert len(explain) == 1, explain


def test_respond_by_reads_a_naive_time_as_agency_time(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Wednesday 1 July 2026, 16:30 BST: one working hour later is Thursday 09:30 BST.
    out = _run(["calendar", "respond-by", "2026-07-01T16:30", "--config", str(config)], capsys)
    assert out.strip() == "2026-07-02T09:30:00+01:00"
