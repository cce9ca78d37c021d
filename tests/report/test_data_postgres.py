"""The monthly report's data read from a PostgreSQL store (``state.url``): the incidents,
tickets, security history, certificates, uptime roll-ups and hours ledger stored there, not
in a SQLite file. A month seeded in SQLite and copied by ``monitord state migrate`` reads
back exactly as it did from the file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitord.cli import main
from monitord.config import load_config
from monitord.contracts.models import Month
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.report.data import gather
from monitord.store.base import IncidentRow
from tests.helpers.postgres import open_postgres_store
from tests.report.seed import NOW, WWW, seed, write_config

NOVEMBER = Month(2026, 11)


def on_postgres(d: Path, url: str) -> Path:
    yml = d / "monitord.yml"
    text = yml.read_text()
    line = f"state: {{path: {d / 'state.sqlite3'}}}"
    assert line in text
    yml.write_text(text.replace(line, f'state: {{url: "{url}"}}'))
    return d


def test_a_month_copied_to_postgresql_reads_back_the_same(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite_cfg = write_config(tmp_path / "sqlite")
    path = seed(sqlite_cfg)
    config = load_config(sqlite_cfg, notifier_types=NOTIFIER_TYPES)
    before = gather(config, "acme", NOVEMBER, NOW)
    assert before.incidents and before.tickets and before.advisories and before.statement

    assert main(["state", "migrate", "--from", str(path), "--to", postgres_url]) == 0
    pg_cfg = on_postgres(write_config(tmp_path / "pg"), postgres_url)
    after = gather(load_config(pg_cfg, notifier_types=NOTIFIER_TYPES), "acme", NOVEMBER, NOW)
    assert after == before
    assert not [p for p in (tmp_path / "pg").rglob("*") if "sqlite" in p.name]


def test_an_incident_stored_in_postgresql_is_in_the_report(
    tmp_path: Path, postgres_url: str
) -> None:
    started = datetime(2026, 11, 12, 10, 3, tzinfo=UTC)
    ended = datetime(2026, 11, 12, 10, 50, tzinfo=UTC)
    row = IncidentRow("inc-9", WWW, "acme", "acme-www", "http", started, ended, "down", "HTTP 503")

    async def store_it() -> None:
        async with open_postgres_store(postgres_url) as store:
            await store.write(WWW, {"s": 1}, None, incident=row, now=ended)

    asyncio.run(store_it())
    cfg = on_postgres(write_config(tmp_path), postgres_url)
    data = gather(load_config(cfg, notifier_types=NOTIFIER_TYPES), "acme", NOVEMBER, NOW)
    [inc] = data.incidents
    assert (inc.id, inc.site, inc.started, inc.ended, inc.cause) == (
        "inc-9",
        "acme-www",
        started,
        ended,
        "HTTP 503",
    )
    assert data.tickets == () and data.statement is not None  # an empty ledger, in PostgreSQL
    assert not (tmp_path / "state.sqlite3").exists()
