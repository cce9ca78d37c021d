"""Runs the selected fault cases once per session, all at once, and reports them.

``pytest tests/faults`` runs them alone (``-m faults`` selects them in a wider run,
``-m "not faults"`` leaves them out); every case is one test, so ``-k store-locked`` runs one.
The table goes to the terminal summary and to ``$MONITORD_FAULTS_REPORT``, else
``tests/faults/last-report.md`` (not committed; docs/reliability.md has a copy from a run).
``$MONITORD_FAULTS_TREE=/path/to/checkout`` runs the daemons from another checkout.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.faults.cases import BY_ID
from tests.faults.harness import CaseResult, report, run_cases, table

RESULTS = pytest.StashKey[dict[str, CaseResult]]()
REPORT_PATH = pytest.StashKey[Path]()
DEFAULT_REPORT = Path(__file__).with_name("last-report.md")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: the fault-injection suite (real daemon subprocesses; ~1 min)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.faults)


def _selected(session: pytest.Session) -> list[str]:
    ids: list[str] = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "case_id" in callspec.params:
            ids.append(callspec.params["case_id"])
    return list(dict.fromkeys(ids))


@pytest.fixture(scope="session")
def fault_results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CaseResult]:
    """The results of every selected case, run concurrently the first time a case asks."""
    ids = _selected(request.session)
    results = run_cases([BY_ID[i] for i in ids], tmp_path_factory.mktemp("faults"))
    ordered = [results[c] for c in BY_ID if c in results]
    path = Path(os.environ.get("MONITORD_FAULTS_REPORT") or DEFAULT_REPORT)
    command = (
        "pytest " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "pytest"
    )
    path.write_text(report(ordered, command) + "\n")
    request.config.stash[RESULTS] = results
    request.config.stash[REPORT_PATH] = path
    return results


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    results = config.stash.get(RESULTS, None)
    if not results:
        return
    ordered = [results[c] for c in BY_ID if c in results]
    terminalreporter.section("fault injection: notices expected / delivered / duplicated")
    terminalreporter.write_line(table(ordered))
    terminalreporter.write_line(f"details: {config.stash[REPORT_PATH]}")
