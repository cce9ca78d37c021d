"""``monitord hours …`` through the real CLI, on a real configuration and a real SQLite file
or PostgreSQL database (every test runs on both, ``setup``'s parameter)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.config import load_config
from monitord.contracts import cli as hours_cli
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.store.side import HoursStore, open_time_entries
from tests.helpers.clock import Clock

MAIN = """\
agency: {name: Collective, timezone: Europe/London}
STATE
billing:
  currency: GBP
  hourly_rate: "120.00"
  day_hours: 7h
  day_rate: "840.00"
  vat: 20%
  minimum_monthly: 2h
"""
ACME = """\
client: acme
name: ACME Charity
contract:
  start: 2026-01
  monthly_hours: 10h
  changes: [{from: 2026-07, monthly_hours: 15h}]
  rollover_cap: 2
  carry_overuse_up_to: 1h
  rounding: 15m
sites: []
"""
RIVERSIDE = """\
client: riverside
name: Riverside Trust
contract: {start: 2026-03, monthly_hours: 2h}
sites: []
"""
PLAIN = "client: plain\nname: No Contract Ltd\nsites: []\n"


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str) -> tuple[Path, Clock]:
    conf = tmp_path / "config"
    (conf / "clients").mkdir(parents=True)
    (conf / "monitord.yml").write_text(MAIN.replace("STATE", state))
    (conf / "clients" / "acme.yml").write_text(ACME)
    (conf / "clients" / "riverside.yml").write_text(RIVERSIDE)
    (conf / "clients" / "plain.yml").write_text(PLAIN)
    clock = Clock(datetime(2026, 2, 10, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(hours_cli, "utcnow", clock)
    return conf, clock


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Clock]:
    """The configuration (its state store on the parameter's backend) and the commands' clock."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return _setup(tmp_path, monkeypatch, f"state: {{url: '{url}'}}")
    return sqlite_setup(tmp_path, monkeypatch)


def sqlite_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Clock]:
    return _setup(tmp_path, monkeypatch, f"state: {{path: {tmp_path / 'state.sqlite3'}}}")


def ledger(conf: Path) -> HoursStore:
    """The configuration's hours store, as the commands open it."""
    return open_time_entries(load_config(conf, notifier_types=NOTIFIER_TYPES))


def run(conf: Path, *args: str) -> int:
    return main(["hours", *args, "--config", str(conf)])


def statement(conf: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert run(conf, "statement", "acme", "--json", *args) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_log_then_statement_json(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    assert run(conf, "log", "acme", "1h30m", "--at", "2026-01-05T10:00", "--ticket", "T-1") == 0
    out = capsys.readouterr().out
    assert "logged 1h 30m for acme on 2026-01-05 (ticket T-1) as manual:" in out
    assert "acme: 18h 30m of 18h 30m left in 2026-02" in out  # January left 8h30m
    assert run(conf, "log", "acme", "0:50", "--at", "2026-02-03T09:00:00+00:00", "--by", "Sam") == 0
    capsys.readouterr()

    jan = statement(conf, capsys, "--month", "2026-01")
    assert {k: jan[k] for k in ("month", "closed", "used_minutes", "carried_forward_minutes")} == {
        "month": "2026-01",
        "closed": False,
        "used_minutes": 90,
        "carried_forward_minutes": 510,
    }
    feb = statement(conf, capsys)
    assert feb["month"] == "2026-02" and feb["closed"] is False
    assert feb["as_of"] == "2026-02-10T12:00:00+00:00"
    assert (feb["brought_forward_minutes"], feb["available_minutes"]) == (510, 1110)
    assert (feb["used_minutes"], feb["remaining_minutes"]) == (60, 1050)  # 50 min -> 1 h
    assert (feb["net"], feb["vat"], feb["gross"], feb["currency"]) == (
        "0.00",
        "0.00",
        "0.00",
        "GBP",
    )
    entries = feb["entries"]
    assert isinstance(entries, list) and entries[0]["person"] == "Sam"


def test_the_first_log_message_reports_this_months_balance(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    assert run(conf, "log", "acme", "45m") == 0
    assert "acme: 19h 15m of 20h 00m left in 2026-02" in capsys.readouterr().out


def test_import_is_idempotent_and_counts(
    setup: tuple[Path, Clock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    csv1 = tmp_path / "time.csv"
    csv1.write_text(
        "date,client,duration,ticket,note,person,id\n"
        "2026-01-05,acme,2h,T-1,fixed the form,Sam,1\n"
        "2026-01-20T16:00,acme,50m,,,Jo,2\n"
        "2026-02-02,acme,1:15,,,,3\n"
    )
    assert run(conf, "import", str(csv1)) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": 3 added, 0 updated, 0 unchanged")
    assert run(conf, "import", str(csv1)) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": 0 added, 0 updated, 3 unchanged")
    csv1.write_text(
        "id,date,client,duration\n"  # any column order; the optional ones may be left out
        "1,2026-01-05,acme,2h\n"
        "2,2026-01-20T16:00,acme,80m\n"
        "3,2026-02-02,acme,1:15\n"
        "4,2026-02-03,acme,30m\n"
    )
    assert run(conf, "import", str(csv1)) == 0
    # 1 lost its ticket, note and person; 2 changed; 4 is new
    assert capsys.readouterr().out.splitlines()[0].endswith(": 1 added, 2 updated, 1 unchanged")


def test_import_errors_name_the_line_and_import_nothing(
    setup: tuple[Path, Clock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,client,duration,ticket,note,person,id\n"
        "2026-01-05,acme,2h,,,,1\n"
        "2026-01-06,acme,90,,,,2\n"
        "2026-02-30,acme,1h,,,,3\n"
        "2026-01-07,nobody,1h,,,,4\n"
        "2026-01-08,acme,1h,,,,1\n"
        "2026-02-08,riverside,1h,,,,5\n"
        "2026-01-09,plain,1h,,,,6\n"
        "2026-01-10,acme,1h,,,,\n"
    )
    assert run(conf, "import", str(bad)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{bad}:3: duration: '90' is not a duration; write it as 1h30m, 45m or 1:30 (a bare "
        "number could be hours or minutes)"
    )
    assert err[1].startswith(f"{bad}:4: date: '2026-02-30' is not a date and time")
    assert err[2] == (
        f"{bad}:5: client: there is no client 'nobody'; the clients are: acme, plain, riverside"
    )
    assert err[3] == f"{bad}:6: id: '1' is also on line 2 — give every row its own id"
    assert err[4].startswith(f"{bad}:7: date: 2026-02-08 is before the contract starts (2026-03)")
    assert err[5].startswith(f"{bad}:8: client: plain has no support contract")
    assert err[6].startswith(f"{bad}:9: id: empty")
    assert err[7] == f"7 problem(s) in {bad}; nothing imported — fix them and import again"
    with ledger(conf) as store:
        assert store.entries("acme") == []


def test_import_refuses_an_unknown_column(
    setup: tuple[Path, Clock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    bad = tmp_path / "bad.csv"
    bad.write_text("date,client,duration,persn,id\n2026-01-05,acme,2h,Sam,1\n")
    assert run(conf, "import", str(bad)) == 1
    assert capsys.readouterr().err.startswith(
        f"monitord: error: {bad}:1: unknown column(s) persn — the header must name the columns"
    )


def test_close_then_a_late_entry_is_an_adjustment(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, clock = setup
    assert run(conf, "log", "acme", "2h", "--at", "2026-01-05") == 0
    assert run(conf, "close", "--month", "2026-01") == 0
    out = capsys.readouterr().out
    assert "acme: closed 2026-01: used 2h 00m of 10h 00m, carried forward 8h 00m" in out
    assert "riverside: contract starts 2026-03, nothing to close" in out
    assert run(conf, "close", "--month", "2026-01") == 0
    assert "acme: 2026-01 was already closed 2026-02-10 12:00 GMT" in capsys.readouterr().out

    assert run(conf, "log", "acme", "1h", "--at", "2026-01-31T17:00") == 0
    out = capsys.readouterr().out
    assert "2026-01 is closed: booked into 2026-02 as an adjustment dated 2026-01-31" in out
    jan = statement(conf, capsys, "--month", "2026-01")
    assert (jan["closed"], jan["used_minutes"], jan["as_of"]) == (
        True,
        120,
        "2026-02-10T12:00:00+00:00",
    )
    feb = statement(conf, capsys)
    assert feb["used_minutes"] == 60 and feb["brought_forward_minutes"] == 480
    entries = feb["entries"]
    assert isinstance(entries, list)
    assert (entries[0]["adjustment"], entries[0]["original_date"]) == ("late", "2026-01-31")

    # February cannot be closed before it ends; March closes February first.
    assert run(conf, "close", "--month", "2026-02") == 1
    assert "2026-02 has not ended" in capsys.readouterr().err
    clock.now = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert run(conf, "close", "--month", "2026-03", "--client", "acme") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["closed 2026-02", "closed 2026-03"]


def test_statement_csv_invoice_lines(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, clock = setup
    clock.now = datetime(2026, 1, 31, 18, 0, tzinfo=UTC)
    # 10 h allowance; 18h01m used, rounded to 18h15m: 8h15m over = a day + 1h15m
    assert run(conf, "log", "acme", "9h", "--at", "2026-01-05") == 0
    assert run(conf, "log", "acme", "9h1m", "--at", "2026-01-06") == 0
    assert "acme: 8h 15m over the 10h 00m available in 2026-01" in capsys.readouterr().out
    assert run(conf, "statement", "acme", "--month", "2026-01", "--csv") == 0
    assert capsys.readouterr().out.splitlines() == [
        "invoice_date,client,client_name,month,description,quantity,unit,unit_price,net,vat_rate,currency",
        "2026-02-01,acme,ACME Charity,2026-01,"
        "Support beyond the allowance in 2026-01: whole days,1,day,840.00,840.00,20%,GBP",
        "2026-02-01,acme,ACME Charity,2026-01,"
        "Support beyond the allowance in 2026-01: 1h 15m at 120.00/h,1,item,150.00,150.00,20%,GBP",
    ]
    jan = statement(conf, capsys, "--month", "2026-01")
    assert (jan["charged_minutes"], jan["net"], jan["vat"], jan["gross"]) == (
        495,
        "990.00",
        "198.00",
        "1188.00",
    )


def test_a_date_alone_is_accepted_for_today_before_noon(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, clock = setup
    clock.now = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
    assert run(conf, "log", "acme", "1h", "--at", "2026-02-10") == 0
    assert run(conf, "log", "acme", "1h", "--at", "2026-02-11") == 1
    assert "2026-02-11 is in the future" in capsys.readouterr().err


def test_balance(setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]) -> None:
    conf, _clock = setup
    assert run(conf, "log", "acme", "2h30m", "--at", "2026-02-09") == 0
    capsys.readouterr()
    assert run(conf, "balance") == 0
    assert capsys.readouterr().out.splitlines() == [
        "2026-02, as of 2026-02-10 12:00 GMT",
        "CLIENT  AVAILABLE    USED  REMAINING  USED %",
        "acme      20h 00m  2h 30m    17h 30m     12%",
        "riverside: contract starts 2026-03",
    ]
    assert run(conf, "balance", "--client", "acme", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2026-02-10T12:00:00+00:00"
    assert data["clients"][0]["remaining_minutes"] == 1050


def test_delete_credits_a_closed_month_in_the_open_one(
    setup: tuple[Path, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    conf, _clock = setup
    assert run(conf, "log", "acme", "2h", "--at", "2026-01-05") == 0
    ref = capsys.readouterr().out.split(" as ")[1].split()[0]
    assert run(conf, "close") == 0  # last month: January
    capsys.readouterr()
    assert run(conf, "delete", ref) == 0
    assert "(its month is closed: the open month is credited)" in capsys.readouterr().out
    feb = statement(conf, capsys)
    assert feb["used_minutes"] == -120
    assert run(conf, "delete", ref) == 1
    assert f"there is no time entry {ref} to delete" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (("log", "acme", "90"), "'90' is not a duration"),
        (("log", "acme", "25h"), "at most 24h"),
        (("log", "acme", "1h", "--at", "2025-12-31"), "before the contract starts (2026-01)"),
        (("log", "acme", "1h", "--at", "2026-02-11T09:00"), "is in the future"),
        (("log", "nobody", "1h"), "there is no client 'nobody'"),
        (("log", "plain", "1h"), "plain has no support contract"),
        (("statement", "acme", "--month", "2026-3"), "'2026-3' is not a month"),
        (("statement", "acme", "--month", "2026-03"), "2026-03 has not begun"),
        (("statement", "acme", "--month", "2025-12"), "contract starts in 2026-01"),
        (("close", "--month", "2026-02"), "2026-02 has not ended"),
    ],
)
def test_mistakes_are_explained(
    setup: tuple[Path, Clock],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    conf, _clock = setup
    assert run(conf, *args) == 1
    err = capsys.readouterr().err
    assert err.startswith("monitord: error: ") and message in err
    assert "Traceback" not in err


def test_the_hours_tables_share_the_daemons_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf, _clock = sqlite_setup(tmp_path, monkeypatch)
    assert run(conf, "log", "acme", "1h", "--at", "2026-02-01") == 0
    conn = sqlite3.connect(conf.parent / "state.sqlite3")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"contracts_schema_version", "hours_entry", "hours_statement"} <= tables
    assert "schema_version" not in tables  # the daemon's migrations are its own


def test_on_postgresql_the_ledger_is_in_the_database_not_a_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With state.url, a logged entry is read back by another command from the database (as
    another node would), and no SQLite side file is made anywhere."""
    conf, _clock = _setup(tmp_path, monkeypatch, f"state: {{url: '{postgres_url}'}}")
    assert run(conf, "log", "acme", "2h", "--at", "2026-02-03T10:00", "--ticket", "T-9") == 0
    capsys.readouterr()
    assert run(conf, "balance") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("acme"))
    assert row.split() == ["acme", "20h", "00m", "2h", "00m", "18h", "00m", "10%"]
    with ledger(conf) as store:
        assert type(store).__name__ == "PgTimeEntryStore"
        assert [(e.seconds, e.ticket) for e in store.entries("acme")] == [(7200, "T-9")]
    assert not [p for p in tmp_path.rglob("*") if "sqlite" in p.name]
