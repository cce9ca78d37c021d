"""States, latest results and incidents (store.base.Store)."""

from __future__ import annotations

import json
from typing import Any

from monitord.store.base import IncidentRow, ResultRow
from monitord.store.sqlite.base import SqliteBase
from monitord.store.sqlite.codec import _incident_row, _result_row

_SELECT_RESULTS = (
    "SELECT key, client, site, check_id, ok, message, warning, duration, at, details "
    "FROM latest_result"
)
_SELECT_OPEN_INCIDENTS = (
    "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
    "FROM incident WHERE ended IS NULL ORDER BY started, id"
)
_SELECT_INCIDENTS = (
    "SELECT id, key, client, site, check_id, started, ended, summary, last_message "
    "FROM incident ORDER BY started DESC, id DESC LIMIT ?"
)


class ChecksMixin(SqliteBase):
    def _load_states_sync(self) -> dict[str, dict[str, Any]]:
        rows = self._db().execute("SELECT key, state FROM check_state").fetchall()
        return {row["key"]: json.loads(row["state"]) for row in rows}

    async def load_states(self) -> dict[str, dict[str, Any]]:
        await self.flush()
        return await self._run("read check states", self._load_states_sync)

    def _latest_results_sync(self) -> dict[str, ResultRow]:
        rows = self._db().execute(_SELECT_RESULTS).fetchall()
        return {row["key"]: _result_row(row) for row in rows}

    async def latest_results(self) -> dict[str, ResultRow]:
        await self.flush()
        return await self._run("read latest results", self._latest_results_sync)

    # -- incidents ---------------------------------------------------------------------------

    def _incidents_sync(self, only_open: bool, limit: int) -> list[IncidentRow]:
        if only_open:
            rows = self._db().execute(_SELECT_OPEN_INCIDENTS).fetchall()
        else:
            rows = self._db().execute(_SELECT_INCIDENTS, (limit,)).fetchall()
        return [_incident_row(row) for row in rows]

    async def open_incidents(self) -> list[IncidentRow]:
        return await self._run("read incidents", self._incidents_sync, True, 0)

    async def incidents(self, limit: int = 100) -> list[IncidentRow]:
        return await self._run("read incidents", self._incidents_sync, False, limit)
