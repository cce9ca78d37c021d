"""The open-file budget (monitord.fds): how a limit is shared out (tables), the limit a
configuration needs, the soft limit raised at start, and ``check-config`` saying when the limit
is too low (a real subprocess under a lowered RLIMIT_NOFILE)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitord.daemon import MAX_CONCURRENT_PROBES
from monitord.fds import limit_warning, needed_fds, plan_fds
from monitord.limits import API_ACCEPT_OVERSHOOT, FD_RESERVE, FDS_PER_PROBE
from tests.service.conftest import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("limit", "api", "probes"),
    [
        (1024, 64, 384),  # systemd's default: the API gets its 64, probes 384 at once
        (8192, 64, 2000),  # the shipped unit: probes at their ceiling
        (512, 32, 144),  # a small limit: the API is held to a quarter of what is left
        (200, 1, 3),  # absurdly small: one connection and a few probes, never none
        (0, 1, 1),
    ],
)
def test_plan_shares_the_limit_out(limit: int, api: int, probes: int) -> None:
    plan = plan_fds(limit, checks=10, api_max_connections=64, max_probes=2000)
    assert (plan.api_connections, plan.probes) == (api, probes)
    if limit >= 512:  # everything fits under the limit, the reserve untouched
        assert (
            FD_RESERVE + plan.api_connections + API_ACCEPT_OVERSHOOT + (FDS_PER_PROBE * plan.probes)
            <= limit
        )


@pytest.mark.parametrize(
    ("checks", "api", "needed"),
    [
        (0, 64, 256),
        (3, 64, 262),
        (1000, 64, 2256),
        (2000, 64, 4256),
        (10_000, 64, 4256),  # probes in flight stop at MAX_CONCURRENT_PROBES
        (10, 500, 712),
    ],
)
def test_needed_is_the_documented_formula(checks: int, api: int, needed: int) -> None:
    assert MAX_CONCURRENT_PROBES == 2000
    assert needed_fds(checks, api, MAX_CONCURRENT_PROBES) == needed
    plan = plan_fds(1024, checks=checks, api_max_connections=api, max_probes=2000)
    assert plan.needed == needed and plan.short == (needed > 1024)


def test_the_shipped_unit_covers_any_number_of_checks() -> None:
    unit = (REPO / "systemd" / "monitord.service").read_text()
    limit = int(unit.split("\nLimitNOFILE=", 1)[1].split("\n", 1)[0])
    assert limit >= needed_fds(10**6, 64, MAX_CONCURRENT_PROBES)


def test_limit_warning_table() -> None:
    assert limit_warning(1024, 524288, 500, 1256) is None  # the daemon raises to the hard one
    assert limit_warning(1024, 1024, 500, 1256) == (
        "warning: the open-file limit here is 1024 (hard 1024), and these 500 checks need "
        "1256: set LimitNOFILE=1256 or more in the unit (systemctl edit monitord) — "
        'docs/service.md, "Open files"'
    )


def _many_checks(d: Path, sites: int) -> Path:
    write_config(d)
    lines = ["client: many", "name: Many", "sites:"]
    for i in range(sites):
        lines.append(
            textwrap.indent(
                f"- id: s{i}\n  url: http://127.0.0.1:9/\n  checks: [{{type: tcp, port: 9}}]",
                "  ",
            )
        )
    (d / "clients" / "many.yml").write_text("\n".join(lines) + "\n")
    return d


def _run(args: list[str], limit: int | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    def lower() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "monitord", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        preexec_fn=lower,  # only setrlimit: nothing that could deadlock after fork
        timeout=60,
        check=False,
    )


def test_check_config_warns_when_the_limit_is_below_the_need(tmp_path: Path) -> None:
    cfg = _many_checks(tmp_path / "cfg", 500)
    low = _run(["check-config", "--config", str(cfg)], 256, tmp_path)
    assert low.returncode == 0, low.stderr
    assert low.stdout.startswith("config OK: 3 clients, 503 sites, 504 checks")
    # 503 checks open sockets (the heartbeat does not): 256 + 2 × 503.
    fd_lines = [line for line in low.stderr.splitlines() if "open-file limit" in line]
    assert fd_lines == [limit_warning(256, 256, 503, 1262)]

    enough = _run(["check-config", "--config", str(cfg)], 4096, tmp_path)
    assert enough.returncode == 0, enough.stderr
    assert "open-file limit" not in enough.stderr


def test_the_daemon_raises_its_soft_limit_to_the_hard_one(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """\
        import resource
        from monitord.fds import raise_fd_limit
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        soft, hard2, error = raise_fd_limit()
        print(soft == hard == hard2, error, resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == ["True", "None", "True"], out.stderr
