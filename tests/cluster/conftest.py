"""The multi-node scenarios' measurements (takeover seconds, notice counts) in the terminal
summary (tests/cluster/test_nodes_e2e.py puts them in the stash)."""

from __future__ import annotations

import pytest

from tests.cluster.harness import RESULTS
from tests.helpers.smtp import smtp_server, smtp_server_factory, test_ca  # noqa: F401


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    results = config.stash.get(RESULTS, None)
    if not results:
        return
    terminalreporter.section("cluster scenarios: several nodes on one PostgreSQL")
    for sid, r in results.items():
        terminalreporter.write_line(f"{sid}: {'pass' if r.passed else 'FAIL'} in {r.seconds:.0f}s")
        for k, v in r.figures.items():
            terminalreporter.write_line(f"  {k}: {v}")
