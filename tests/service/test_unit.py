"""systemd/monitord.service: its hardening and restart directives, and systemd/check-unit.sh
(``systemd-analyze verify`` + ``security --offline=yes`` at most 2.0) passing on it and failing
on a weakened copy. Skipped without systemd-analyze, except on CI (set CI=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "monitord.service"
SCRIPT = REPO / "systemd" / "check-unit.sh"

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze is not installed (apt-get install systemd); required on CI",
)


def directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "monitord"),
        ("ConfigurationDirectory", "monitord"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("UMask", "0077"),
        ("LoadCredential", "SMTP_PASSWORD:/etc/monitord/credentials/smtp-password"),
        ("LoadCredential", "API_TOKEN:/etc/monitord/credentials/api-token"),
    ],
)
def test_unit_has(key: str, value: str) -> None:
    assert value in directives().get(key, []), f"{key}={value} missing from {UNIT}"


def test_unit_runs_the_daemon_with_a_watchdog_and_no_address_deny() -> None:
    d = directives()
    assert d["ExecStart"] == ["/usr/local/bin/monitord run --config /etc/monitord"]
    assert d["WatchdogSec"] and d["WatchdogSec"][0] != "0"
    assert "IPAddressDeny" not in d  # it probes the internet


def _bin() -> str:
    return str(Path(sys.executable).with_name("monitord"))


@needs_analyze
def test_check_unit_passes() -> None:
    proc = subprocess.run(
        ["sh", str(SCRIPT)],
        env={**os.environ, "MONITORD_BIN": _bin()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check-unit: OK" in proc.stdout


@needs_analyze
@pytest.mark.parametrize(
    "weaken",
    [
        # Exposure above 2.0: the sandbox mostly gone.
        lambda t: "\n".join(
            ln
            for ln in t.splitlines()
            if not ln.startswith(
                (
                    "SystemCallFilter",
                    "CapabilityBoundingSet",
                    "PrivateUsers",
                    "ProtectSystem",
                    "PrivateDevices",
                    "UMask",
                    "ProtectProc",
                    "RestrictAddressFamilies",
                )
            )
        ),
        # verify fails: an unknown directive.
        lambda t: t.replace("[Service]\n", "[Service]\nProtectEverything=yes\n"),
    ],
    ids=["exposure", "verify"],
)
def test_check_unit_fails_on_a_weaker_unit(tmp_path: Path, weaken: Callable[[str], str]) -> None:
    (tmp_path / "check-unit.sh").write_text(SCRIPT.read_text())
    (tmp_path / "monitord.service").write_text(weaken(UNIT.read_text()))
    proc = subprocess.run(
        ["sh", str(tmp_path / "check-unit.sh")],
        env={**os.environ, "MONITORD_BIN": _bin()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
