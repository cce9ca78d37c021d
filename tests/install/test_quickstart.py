"""``./quickstart`` says what it is doing at each step of an install (pip is quiet: without
these lines a first run sat silent for 20 s), and names where ``monitord`` lives."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]

FAKE_PYTHON = """\
#!/bin/sh
# A stand-in interpreter: records each call; `-m venv DIR` makes DIR/bin/python (itself).
echo "$0 $*" >> "{log}"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin" && cp "{me}" "$3/bin/python" && chmod +x "$3/bin/python"
fi
if [ "$1" = "--version" ]; then echo "Python 3.99.0"; fi
exit 0
"""


def fake_checkout(tmp_path: Path) -> tuple[Path, Path, Path]:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy2(ROOT / "quickstart", checkout / "quickstart")
    log = tmp_path / "calls.log"
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON.format(log=log, me=python))
    python.chmod(0o755)
    return checkout, python, log


def run(checkout: Path, python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": str(python)}
    return subprocess.run(
        ["sh", "./quickstart", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_each_install_step_is_announced(tmp_path: Path) -> None:
    checkout, python, log = fake_checkout(tmp_path)
    proc = run(checkout, python, "test", "-q")
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("quickstart: ")]
    assert said[0] == "quickstart: creating .venv with Python 3.99.0"
    assert said[1] == "quickstart: upgrading pip in .venv"
    assert said[2].startswith("quickstart: installing monitord with its test tools into .venv")
    assert said[3] == "quickstart: running the test suite: .venv/bin/python -m pytest -q"
    calls = log.read_text().splitlines()
    assert any("-m pip install -q -e .[test]" in c for c in calls)
    assert calls[-1].endswith("-m pytest -q")


def test_demo_says_where_monitord_lives(tmp_path: Path) -> None:
    checkout, python, _ = fake_checkout(tmp_path)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy2(python, checkout / ".venv" / "bin" / "python")
    monitord = checkout / ".venv" / "bin" / "monitord"
    monitord.write_text('#!/bin/sh\necho demo-ran "$@"\n')
    monitord.chmod(0o755)
    proc = run(checkout, python, "demo", "--duration", "5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "demo-ran demo --duration 5\n"
    assert "quickstart: installing monitord and its dependencies into .venv" in proc.stderr
    assert "run it as .venv/bin/monitord" in proc.stderr
    # .venv existed: no venv is made again.
    assert "creating .venv" not in proc.stderr
