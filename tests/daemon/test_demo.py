"""`monitord demo` runs offline and shows what happened and which e-mails went where."""

from __future__ import annotations

import email
import email.policy
import io
from pathlib import Path

import pytest

from monitord.demo import command_name, run_demo


async def test_demo_runs_offline_and_mails_go_where_they_should(tmp_path: Path) -> None:
    out = io.StringIO()
    summary = await run_demo(tmp_path / "demo", duration=10, stream=out)
    text = out.getvalue()
    kinds = [(kind, site) for _t, kind, site, _check in summary["events"]]
    assert ("site-down", "flaky") in kinds
    assert ("site-recovered", "flaky") in kinds
    assert ("site-down", "slow") in kinds
    assert not any(site == "healthy" for _k, site in kinds)
    # Jo asked for down and recovered; Sam only for down.
    rcpts = [(r, s) for _t, r, s, _p in summary["messages"]]
    assert sum(1 for r, _ in rcpts if r == "sam@flaky.example") == sum(
        1 for k, _ in kinds if k in ("site-down", "site-reminder")
    )
    assert sum(1 for r, _ in rcpts if r == "jo@healthy.example") == len(kinds)
    for _t, _r, _s, path in summary["messages"]:
        msg = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
        assert msg["Message-ID"] and msg["Auto-Submitted"] == "auto-generated"
    assert "E-mails (" in text and ".eml" in text
    # A site incident's events name the site, not "site/None".
    assert "/None" not in text
    assert "site-down       flaky\n" in text
    # Each demo site has its own name in what people read (not three times "127.0.0.1").
    bodies = {
        Path(p).read_bytes().decode("ascii", "replace") for _t, _r, _s, p in summary["messages"]
    }
    assert any("Site:                   flaky (Flaky demo site)" in b for b in bodies)
    assert any("Site:                   slow (Slow demo site)" in b for b in bodies)
    assert not any("(127.0.0.1)" in b for b in bodies)
    # Every problem became a ticket; the flaky site's was resolved on recovery.
    assert "Tickets opened (2)" in text
    assert "resolved" in text and "flaky" in text.split("Tickets opened")[1]
    assert "site-down" in text and "flaky" in text
    # Probes started on time (the daemon's own lateness figures).
    assert summary["lateness"] and max(summary["lateness"]) < 1.0


def test_printed_commands_run_from_a_fresh_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo prints commands to paste: they must name a program the shell finds."""
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "monitord"
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    # Run as ./quickstart runs it: .venv/bin/monitord, which is not on $PATH.
    assert command_name(".venv/bin/monitord", on_path="") == ".venv/bin/monitord"
    assert command_name(str(script), on_path="") == ".venv/bin/monitord"
    # On $PATH (an activated venv, or installed): the plain name.
    assert command_name(".venv/bin/monitord", on_path=str(script)) == "monitord"
    # Another monitord on $PATH is not this one: keep the path.
    other = tmp_path / "other-monitord"
    other.write_text("#!/bin/sh\n")
    assert command_name(".venv/bin/monitord", on_path=str(other)) == ".venv/bin/monitord"
    # python -m monitord
    assert command_name("/x/monitord/__main__.py", on_path="").endswith(" -m monitord")
    # From another directory: an absolute path.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert command_name(str(script), on_path="") == str(script)
