"""The report's tables on a real SQLite file and a real PostgreSQL database (the same tests):
roll-up slices add up per hour, raw results keep a failure's message only, pruning takes old
results and old hours, a report sent is recorded once per recipient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.report.rollup import Slice
from monitord.report.store import RawResult, ReportStore
from monitord.store.postgres.report import PgReportStore
from monitord.store.side import AnyReportStore

T = datetime(2026, 11, 18, 5, 30, tzinfo=UTC)
H5, H6 = datetime(2026, 11, 18, 5, tzinfo=UTC), datetime(2026, 11, 18, 6, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], AnyReportStore]:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return lambda: PgReportStore(url)
    return lambda: ReportStore(tmp_path / "state.sqlite3")


def test_rollups_add_up_and_raw_results_keep_failures(
    open_store: Callable[[], AnyReportStore],
) -> None:
    with open_store() as rs:
        rs.write_batch({("a", H5): Slice(H5, 60, 0, 0, 1)}, [RawResult("a", T, True, "fine")])
        rs.write_batch(
            {("a", H5): Slice(H5, 0, 30, 0, 1), ("a", H6): Slice(H6, 0, 0, 15.5, 1)},
            [RawResult("a", T + timedelta(minutes=1), False, "HTTP 503")],
        )
        rs.write_batch({("b", H6): Slice(H6, 5, 0, 0, 1)}, [])
    with open_store() as rs:  # reopened
        got = rs.hours(["a", "b", "c"], H5, H6 + timedelta(minutes=1))
        assert got == {
            "a": [Slice(H5, 60, 30, 0, 2), Slice(H6, 0, 0, 15.5, 1)],
            "b": [Slice(H6, 5, 0, 0, 1)],
            "c": [],
        }
        assert rs.hours(["a"], H6, H6 + timedelta(hours=1)) == {"a": [Slice(H6, 0, 0, 15.5, 1)]}
        assert rs.results("a") == [
            RawResult("a", T, True, ""),
            RawResult("a", T + timedelta(minutes=1), False, "HTTP 503"),
        ]
        assert rs.prune(results_before=T + timedelta(seconds=30), rollups_before=H6) == (1, 1)
        assert [r.ok for r in rs.results("a")] == [False]
        assert rs.hours(["a"], H5, H6 + timedelta(hours=1)) == {"a": [Slice(H6, 0, 0, 15.5, 1)]}


def test_a_report_sent_is_recorded_per_recipient(
    open_store: Callable[[], AnyReportStore],
) -> None:
    with open_store() as rs:
        assert rs.sent("acme", "2026-11") == {}
        rs.mark_sent("acme", "2026-11", "a@acme.example", T, "<1@x>")
        rs.mark_sent("acme", "2026-11", "a@acme.example", T + timedelta(hours=1), "<2@x>")
        rs.mark_sent("acme", "2026-11", "b@acme.example", T, "<3@x>")
        assert rs.sent("acme", "2026-11") == {
            "a@acme.example": T + timedelta(hours=1),
            "b@acme.example": T,
        }
        assert rs.sent("acme", "2026-10") == {}
