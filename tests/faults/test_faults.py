"""One test per fault case (tests/faults/cases.py); the cases run together, once (conftest)."""

from __future__ import annotations

import pytest

from tests.faults.cases import CASES
from tests.faults.harness import CaseResult


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_fault_case(case_id: str, fault_results: dict[str, CaseResult]) -> None:
    result = fault_results[case_id]
    assert result.passed, result.explain()
