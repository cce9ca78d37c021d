"""Golden tests: every directory under invalid/ is a broken configuration; ``check-config``
must print exactly the lines in its ``expected.txt`` on stderr and exit 1.

A case may hold ``env.txt`` (NAME=VALUE lines exported for the run; the values must never be
printed) and ``args.txt`` (the command line, default ``check-config --config .``). The run
happens inside the case directory; its absolute path prints as ``<DIR>``.

To rewrite the goldens after a deliberate wording change: MONITORD_UPDATE_GOLDEN=1 pytest …,
then read every diff before committing it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from monitord.cli import main

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(p.name for p in INVALID.iterdir() if p.is_dir())


def _env(case: Path) -> dict[str, str]:
    f = case / "env.txt"
    if not f.exists():
        return {}
    pairs = (line.split("=", 1) for line in f.read_text().splitlines() if line.strip())
    return {k: v for k, v in pairs}


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", CASES)
def test_invalid_config(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = INVALID / name
    env = _env(case)
    for key in [k for k in os.environ if k.startswith("MONITORD_TEST_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args_file = case / "args.txt"
    args = (
        shlex.split(args_file.read_text())
        if args_file.exists()
        else ["check-config", "--config", "."]
    )
    monkeypatch.chdir(case)

    code = main(args)

    out, err = capsys.readouterr()
    err = err.replace(str(case.resolve()), "<DIR>")
    for value in env.values():
        assert value not in err, f"the value of a ${{}} reference was printed: {value!r}"
    expected_file = case / "expected.txt"
    if os.environ.get("MONITORD_UPDATE_GOLDEN") == "1":
        expected_file.write_text(err)
    assert code == 1
    assert out == ""
    assert err.splitlines() == expected_file.read_text().splitlines()
