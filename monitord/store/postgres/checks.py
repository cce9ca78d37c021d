"""States, latest results and incidents (store.base.Store)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from monitord.store.base import IncidentRow, ResultRow
from monitord.store.postgres.base import PostgresBase
from monitord.store.postgres.codec import _incident_row, _result_row


class ChecksMixin(PostgresBase):
    async def load_states(self) -> dict[str, dict[str, Any]]:
        await self.flush()

        async def run(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
            rows = await conn.fetch("SELECT key, state FROM check_state")
            return {r["key"]: json.loads(r["state"]) for r in rows}

        return await self._do("read check states", run, tx=False)

    async def latest_results(self) -> dict[str, ResultRow]:
        await self.flush()

        async def run(conn: asyncpg.Connection) -> dict[str, ResultRow]:
            rows = await conn.fetch(
                "SELECT key, client, site, check_id, ok, message, warning, duration, at, "
                "details FROM latest_result"
            )
            return {r["key"]: _result_row(r) for r in rows}

        return await self._do("read latest results", run, tx=False)

    # -- incidents ---------------------------------------------------------------------------------

    async def open_incidents(self) -> list[IncidentRow]:
        async def run(conn: asyncpg.Connection) -> list[IncidentRow]:
            rows = await conn.fetch(
                "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
                "FROM incident WHERE ended IS NULL ORDER BY started, id"
            )
            return [_incident_row(r) for r in rows]

        return await self._do("read incidents", run, tx=False)

    async def incidents(self, limit: int = 100) -> list[IncidentRow]:
        async def run(conn: asyncpg.Connection) -> list[IncidentRow]:
            rows = await conn.fetch(
                "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
                "FROM incident ORDER BY started DESC, id DESC LIMIT $1",
                limit,
            )
            return [_incident_row(r) for r in rows]

        return await self._do("read incidents", run, tx=False)
