"""Every command finds the configuration the same way (``--config``, then
``$MONITORD_CONFIG``, then /etc/monitord, then ./config) and, when the flag was not given,
says on stderr which one it took. A command that answered from built-in defaults instead of
the agency's calendar (29 December is the bundled agency's closure day) would put a wrong
respond-by or patch day in front of the user: an SLA breach."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from monitord.cli import main

FIXTURES = Path(__file__).parents[1] / "drupal" / "fixtures" / "match"

AGENCY = """\
agency:
  name: Collective
  timezone: Europe/London
  support_email: support@collective.example
  holidays: {country: GB, subdivision: ENG, extra: ["2026-12-17", "2026-12-29"]}
state: {path: /nonexistent/never-opened.sqlite3}
security: {enabled: true}
smtp: {host: 127.0.0.1, port: 2525, from: "Collective monitoring <monitor@collective.example>"}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ./config: the match fixture's clients and an agency closed
    on 17 December (December's patch day) and 29 December."""
    shutil.copytree(FIXTURES / "config", tmp_path / "config")
    (tmp_path / "config" / "monitord.yml").write_text(AGENCY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITORD_CONFIG", raising=False)
    return tmp_path


def how(kind: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    """The extra argv and the directory the stderr note must name, for one way of choosing."""
    if kind == "flag":
        return ["--config", str(workdir / "config")], ""
    if kind == "env":
        moved = workdir / "elsewhere"
        shutil.move(str(workdir / "config"), moved)
        monkeypatch.setenv("MONITORD_CONFIG", str(moved))
        return [], f"monitord: configuration {moved} (from $MONITORD_CONFIG"
    return [], "monitord: configuration config (the first of /etc/monitord and ./config"


WAYS = ["flag", "env", "cwd"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def check_note(err: str, note: str) -> None:
    if note:
        assert note in err
    else:
        assert "monitord: configuration" not in err


@pytest.mark.parametrize("way", WAYS)
def test_respond_by_honours_the_closure_day(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], way: str
) -> None:
    extra, note = how(way, workdir, monkeypatch)
    code, out, err = run(capsys, "calendar", "respond-by", "2026-12-24T16:30:00+00:00", *extra)
    assert (code, out) == (0, "2026-12-30T09:30:00+00:00\n")
    check_note(err, note)
    if note:
        assert "calendar of Collective from" in err and "2 extra closure days" in err


@pytest.mark.parametrize("way", WAYS)
def test_patch_days_honour_the_closure_day(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], way: str
) -> None:
    extra, note = how(way, workdir, monkeypatch)
    code, out, err = run(capsys, "calendar", "patch-days", "2026", *extra)
    assert code == 0
    assert out.splitlines()[-1] == "2026-12-18"  # Thu 17th is closed
    check_note(err, note)


@pytest.mark.parametrize("way", WAYS)
def test_routes_explain_honours_the_closure_day(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], way: str
) -> None:
    extra, note = how(way, workdir, monkeypatch)
    at = "2026-12-29T10:00:00+00:00"  # a Tuesday, but the agency is closed
    code, out, err = run(
        capsys, "routes", "explain", "--kind", "site-down", "--client", "acme", "--at", at, *extra
    )
    assert code == 0, err
    assert "GMT — out of hours" in out, out
    check_note(err, note)


@pytest.mark.parametrize("way", WAYS)
def test_advisories_match_honours_the_closure_day(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], way: str
) -> None:
    extra, note = how(way, workdir, monkeypatch)
    feed = str(FIXTURES / "feed.rss.xml")
    code, out, err = run(
        capsys, "advisories", "match", "--feed", feed, "--json", "--at", "2026-11-20T12:00Z", *extra
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    days = {r["patch_day"] for r in rows if r.get("decision") == "patch-day"}
    assert days == {"2026-12-18T09:00:00+00:00"}
    check_note(err, note)
