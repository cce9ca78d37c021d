"""What every command shares: usage errors, configuration errors, help text, pipes."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitord.cli import build_parser, main

ROOT = Path(__file__).parents[2]


def test_a_usage_error_says_monitord_error_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["calendar", "patch-days", "27", "--config", str(ROOT / "config")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: monitord calendar patch-days")
    assert err[1] == (
        "monitord: error: calendar patch-days: argument YEAR: 27 is out of range: write the "
        "full year, 2000 to 2100; did you mean 2027? (see monitord calendar patch-days --help)"
    )


def test_an_unknown_command_says_monitord_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["stauts"])
    assert exc.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("monitord: error: argument COMMAND: invalid choice: 'stauts'")
    assert last.endswith("(see monitord --help)")


def test_a_configuration_error_counts_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "clients").mkdir()
    (tmp_path / "monitord.yml").write_text("agency: {name: X}\n")
    (tmp_path / "clients" / "a.yml").write_text(
        textwrap.dedent(
            """\
            client: a
            name: A
            sites:
              - id: w
                url: http://127.0.0.1:9/
                checks: [{type: http, interval: sixty, timeout: ten}]
            """
        )
    )
    assert main(["status", "--config", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert "interval: 'sixty' is not a duration" in err[0]
    assert "timeout: 'ten' is not a duration" in err[1]
    assert err[2] == (
        f"monitord: error: 2 problems in the configuration {tmp_path}; fix them "
        "(monitord check-config lists them) and run this again"
    )


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_and_group_has_help_text() -> None:
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in top._choices_actions}
    for name, sub in _subparsers(parser).items():
        assert helps.get(name), f"monitord {name} has no help text"
        inner = next((a for a in sub._actions if isinstance(a, argparse._SubParsersAction)), None)
        if inner is None:
            continue
        inner_helps = {c.dest: c.help for c in inner._choices_actions}
        for child in inner.choices:
            assert inner_helps.get(child), f"monitord {name} {child} has no help text"


def test_output_piped_to_head_ends_quietly(tmp_path: Path) -> None:
    (tmp_path / "clients").mkdir()
    (tmp_path / "monitord.yml").write_text(
        f"agency: {{name: X}}\nstate: {{path: {tmp_path}/s.db}}\n"
    )
    sites = "".join(
        f"  - id: s{i}\n    url: http://127.0.0.1:9/{i}\n    checks: [{{type: http}}]\n"
        for i in range(3000)
    )
    (tmp_path / "clients" / "a.yml").write_text(f"client: a\nname: A\nsites:\n{sites}")
    script = (
        f"{sys.executable} -m monitord status --config {tmp_path} | head -1; "
        'echo "status=${PIPESTATUS[0]}"'
    )
    proc = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "status=0"
