"""``monitord state migrate --to URL``: a seeded SQLite store copied into an empty PostgreSQL
store reads back the same through the Protocol, and so do its hours ledger and report tables
through their stores; a non-empty target is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.cli import main
from monitord.contracts.ledger import Statement, Terms, TimeEntry, close
from monitord.contracts.models import Month
from monitord.contracts.store import SqliteTimeEntryStore
from monitord.report.rollup import attribute, merge
from monitord.report.store import RawResult, ReportStore
from monitord.store.base import AdvisoryRow, DecisionRow, PatchItemRow, SecurityChanges
from monitord.store.postgres.hours import PgTimeEntryStore
from monitord.store.postgres.report import PgReportStore
from monitord.store.sqlite import SqliteStore
from tests.helpers.postgres import PgServer, open_postgres_store
from tests.store.contract.values import DAY, HOUR, T0, incident, note, result
from tests.store.test_postgres_store import _ticket


async def seed(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    await store.open()
    await store.write("a", {"n": 1}, result("a", 1), now=T0)
    await store.write(
        "b", {"n": 2}, result("b", 2, ok=False), [note("down")], incident("i1", T0), now=T0
    )
    await store.enqueue([note("later")], T0, due_at=T0 + HOUR)
    (down,) = await store.claim_due(T0, 10, "r")
    await store.mark_sent(down.id, T0, "<down@collective.example>")
    adv = AdvisoryRow("SA-1", "rss", "f1", {"title": "x"}, T0, T0, history=("f0",))
    await store.save_security(
        SecurityChanges(
            advisories=[adv],
            decisions=[DecisionRow("SA-1", "w", "acme", "d", "1.0", "patch-day", T0, "r", T0)],
            queue_add=[PatchItemRow("w", "SA-1", "acme", "drupal", "1.0", None, "l", T0, T0)],
            ticketed=[("w", "SA-1")],
        ),
        T0,
    )
    await store.apply_local_ticket(_ticket(), "down", False, "down", T0)
    await store.apply_local_ticket(_ticket(), "up", True, "up", T0 + HOUR)
    await store.record_ticket("jira", "i1", "down", "OPS-1", T0)
    await store.set_meta("etag", "W/1")
    return store


LONDON = ZoneInfo("Europe/London")
ENTRY = TimeEntry("manual", "e1", "acme", T0, 5400, "T-1", "form", "alex")


def seed_side(path: Path) -> Statement:
    """The hours ledger (an entry, an issued statement, a cursor, a warning, an estimate) and
    the report's tables (an hour's roll-ups, two raw results, a report sent) in the file."""
    zone = LONDON
    month = Month.of(T0, zone)
    with SqliteTimeEntryStore(path) as hs:
        hs.apply_page("manual", [ENTRY], (), ("manual", "c-7"), T0)
        hs.upsert(TimeEntry("manual", "e2", "acme", T0, 60, billable=False, deleted=True), T0)
        st = close(
            "acme", Terms(start=month, allowances=((month, 600),)), month, hs.entries("acme"),
            {}, T0 + DAY * 40, zone,
        )  # fmt: skip
        hs.save_closed(st, zone)
        hs.mark_warned("w1", "acme", month, T0)
        hs.set_estimate("jira:ACME-1", "acme", 3600, "cli", T0)
    with ReportStore(path) as rs:
        rs.write_batch(
            merge([("acme/w/http", s) for s in attribute(T0, HOUR, True)]),
            [RawResult("acme/w/http", T0, True, ""), RawResult("acme/w/tls", T0, False, "x")],
        )
        rs.mark_sent("acme", str(month), "a@acme.example", T0, "<r@collective.example>")
    return st


def side_snapshot(
    hs: SqliteTimeEntryStore | PgTimeEntryStore, rs: ReportStore | PgReportStore
) -> object:
    month = str(Month.of(T0, LONDON))
    return (
        hs.entries("acme"),
        hs.closed("acme"),
        hs.cursor("manual"),
        hs.warned("w1"),
        hs.estimates(),
        rs.hours(["acme/w/http"], T0 - DAY, T0 + DAY),
        rs.results("acme/w/http") + rs.results("acme/w/tls"),
        rs.sent("acme", month),
    )


async def snapshot(store: object) -> dict[str, object]:
    s: SqliteStore = store  # type: ignore[assignment]  # either store: the same Protocol
    tickets = await s.local_tickets()
    return {
        "states": await s.load_states(),
        "results": await s.latest_results(),
        "incidents": await s.incidents(),
        "outbox": await s.outbox_items(),
        "advisories": await s.load_advisories(),
        "decisions": await s.load_decisions(),
        "queue": await s.patch_queue(pending_only=False),
        "tickets": tickets,
        "notes": [await s.local_ticket(t.id) for t in tickets],
        "ref": await s.ticket_ref("jira", "i1"),
        "applied": await s.ticket_applied("jira", "down"),
        "meta": await s.get_meta("etag"),
    }


async def test_a_seeded_sqlite_store_is_copied_whole_and_a_used_target_refused(
    tmp_path: Path,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "state.sqlite3"
    store = await seed(path)
    before = await snapshot(store)
    await store.close()
    seed_side(path)
    with SqliteTimeEntryStore(path) as hs, ReportStore(path) as rs:
        side_before = side_snapshot(hs, rs)

    argv = ["state", "migrate", "--from", str(path), "--to", postgres_url]
    assert await asyncio.to_thread(main, argv) == 0  # the command runs its own event loop
    out = capsys.readouterr().out
    assert "copied 29 rows" in out  # 16 of the daemon's, 6 of the ledger, 7 of the report
    assert "hours_entry" in out and "uptime_hour" in out and "report_sent" in out
    assert "not copied" not in out

    with PgTimeEntryStore(postgres_url) as hs, PgReportStore(postgres_url) as rs:
        assert side_snapshot(hs, rs) == side_before
        # The check ids go on after the copied ones.
        rs.write_batch({}, [RawResult("acme/new/http", T0 + DAY, True, "")])
        assert [r.at for r in rs.results("acme/new/http")] == [T0 + DAY]

    async with open_postgres_store(postgres_url) as pg:
        assert await snapshot(pg) == before
        # The serial ids go on after the copied ones; a copied key stays unique.
        assert await pg.enqueue([note("down"), note("new")], T0 + DAY) == 1
        ids = [i.id for i in await pg.outbox_items()]
        assert ids[0] > max(ids[1:])
        # The pending item is claimed as it would have been on SQLite.
        assert [i.key for i in await pg.claim_due(T0 + HOUR, 10, "r2")] == ["later"]

    assert await asyncio.to_thread(main, argv) == 1
    err = capsys.readouterr().err
    assert "is not empty (table meta has rows)" in err
    assert "a copy never merges into a store in use" in err


async def test_a_target_on_which_a_node_runs_is_refused(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.sqlite3"
    await (await seed(path)).close()
    argv = ["state", "migrate", "--from", str(path), "--to", postgres_url]
    async with open_postgres_store(
        postgres_url, exclusive=True, node="ams-1", holder="monitord on ams-1"
    ):
        assert await asyncio.to_thread(main, argv) == 1
    err = capsys.readouterr().err
    assert "a monitord is running on" in err and "monitord on ams-1" in err
    assert "stop every node" in err


def test_a_missing_source_and_a_wrong_url_are_told(
    tmp_path: Path, postgres_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_server.url("nowhere")
    assert main(["state", "migrate", "--from", str(tmp_path / "x"), "--to", url]) == 1
    assert "there is no SQLite store at" in capsys.readouterr().err
    assert main(["state", "migrate", "--from", "x", "--to", "mysql://u:pw@h/db"]) == 1
    err = capsys.readouterr().err
    assert "is not a PostgreSQL database URL" in err and "pw" not in err.replace("PGPASSWORD", "")
