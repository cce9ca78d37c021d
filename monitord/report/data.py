"""Reads one client's month from the state store into :class:`~monitord.report.model.ReportData`.

Read-only SQL on the daemon's tables (incidents, local tickets and external ticket references,
advisory decisions and the patch-day queue, latest results), the uptime roll-ups
(:mod:`monitord.report.store`) and the hours ledger (:mod:`monitord.contracts`).

Security history from the decisions table: an advisory affected a site when it was decided
``now`` or queued for a patch day; detected is when it was queued (else when the advisory
was first seen); fixed is when the decision later became ``none`` with an installed version
(the inventory shows a fixed version).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitord.config.models import ClientConfig, Config
from monitord.contracts.ledger import Statement, Terms, first_open_month, statement
from monitord.contracts.models import Month
from monitord.errors import MonitordError
from monitord.report.model import (
    AdvisoryInfo,
    CertificateInfo,
    CheckInfo,
    IncidentInfo,
    ReportData,
    SiteInfo,
    TicketInfo,
    month_span,
)
from monitord.store.side import open_report_store, open_time_entries

MAX_ROWS = 10_000
"""Rows read per table for one client's month: far above any real month, a bound on a runaway."""


def check_key(client: str, site: str, check: str) -> str:
    """The key the daemon keeps a check's state and history under (monitord.daemon.check_key;
    not imported, to keep this module out of the daemon's import cycle)."""
    return f"{client}/{site}/{check}"


def find_client(config: Config, client_id: str) -> ClientConfig:
    found = next((c for c in config.clients if c.client == client_id), None)
    if found is None:
        known = ", ".join(c.client for c in config.clients) or "none"
        raise MonitordError(f"there is no client {client_id!r}; the clients are: {known}")
    return found


def _dt(text: str | datetime | None) -> datetime | None:
    if text is None:
        return None
    d = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


Query = Callable[[str, tuple[object, ...]], list[tuple[Any, ...]]]
"""Runs one read-only statement (``?`` placeholders, instants passed as aware datetimes) and
returns its rows: the same statements on either backend."""


@contextmanager
def _open_reader(config: Config) -> Iterator[tuple[Query, set[str]]]:
    """A :data:`Query` on ``config``'s state store and the tables it has."""
    if config.main.state.url is not None:
        with _pg_reader(config.main.state.url) as found:
            yield found
        return
    conn = sqlite3.connect(f"file:{config.state_path()}?mode=ro", uri=True)
    try:

        def q(sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
            return conn.execute(sql, tuple(_sqlite_arg(a) for a in args)).fetchall()

        tables = {r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'table'")}
        yield q, tables
    finally:
        conn.close()


def _sqlite_arg(a: object) -> object:
    return a.astimezone(UTC).isoformat() if isinstance(a, datetime) else a


@contextmanager
def _pg_reader(url: str) -> Iterator[tuple[Query, set[str]]]:
    import asyncpg

    from monitord.store.postgres.side import SyncPostgres

    pg = SyncPostgres(url, "monitord report")
    try:

        def q(sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
            n = iter(range(1, sql.count("?") + 1))
            text = re.sub(r"\?", lambda _m: f"${next(n)}", sql)

            async def op(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in await conn.fetch(text, *args)]

            return pg.call("read the report's data", op)

        tables = {
            r[0]
            for r in q(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        yield q, tables
    finally:
        pg.close()


def hours_statement(
    config: Config, client: ClientConfig, month: Month, now: datetime, zone: ZoneInfo
) -> Statement | None:
    """The ledger's statement of ``month`` (closed, else running as of ``now``), or None when
    the client has no contract or the month is outside it."""
    if client.contract is None or config.main.billing is None:
        return None
    terms = Terms.from_config(config.main.billing, client.contract)
    with open_time_entries(config) as hs:
        closed = hs.closed(client.client)
        if month < terms.start or (month < first_open_month(terms, closed) and month not in closed):
            return None
        return statement(client.client, terms, month, hs.entries(client.client), closed, now, zone)


def gather(config: Config, client_id: str, month: Month, now: datetime) -> ReportData:
    """Everything the report of ``month`` needs for ``client_id``, read as of ``now``."""
    client = find_client(config, client_id)
    zone = ZoneInfo(config.main.agency.timezone)
    start, end = month_span(month, zone)
    sites = tuple(SiteInfo(s.id, s.display_name, s.display_url or "") for s in client.sites)
    checks = tuple(
        CheckInfo(
            check_key(client.client, s.id, spec.id or spec.type),
            s.id,
            spec.id or spec.type,
            spec.type,
            spec.interval,
        )
        for s in client.sites
        for spec in s.checks
    )
    with open_report_store(config) as rs:
        hours = rs.hours([c.key for c in checks], start, end)
    with _open_reader(config) as (q, tables):
        tickets_by_thread = _tickets_by_thread(q, tables, client.client)
        incidents = _incidents(q, tables, client.client, start, end, tickets_by_thread)
        tickets = _tickets(q, tables, client.client, start, end)
        advisories, patch_days = _security(q, tables, client.client, end)
        certificates = _certificates(q, tables, client.client)
    return ReportData(
        client=client.client,
        client_name=client.name,
        month=month,
        zone=zone,
        sites=sites,
        checks=checks,
        hours=hours,
        incidents=incidents,
        tickets=tickets,
        advisories=advisories,
        patch_days=patch_days,
        certificates=certificates,
        statement=hours_statement(config, client, month, now, zone),
        agency=config.main.agency.name,
    )


def _tickets_by_thread(q: Query, tables: set[str], client: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if "ticket_ref" in tables:
        for thread, ext in q("SELECT thread, external_id FROM ticket_ref", ()):
            out[thread] = ext
    if "ticket" in tables:
        for thread, tid in q(
            "SELECT thread, id FROM ticket WHERE client = ? LIMIT ?", (client, MAX_ROWS)
        ):
            out[thread] = f"#{tid}"
    return out


def _incidents(
    q: Query,
    tables: set[str],
    client: str,
    start: datetime,
    end: datetime,
    tickets: dict[str, str],
) -> tuple[IncidentInfo, ...]:
    if "incident" not in tables:
        return ()
    rows = q(
        "SELECT id, site, check_id, started, ended, summary, last_message FROM incident "
        "WHERE client = ? AND started < ? ORDER BY started LIMIT ?",
        (client, end, MAX_ROWS),
    )
    out = []
    for iid, site, check, started, ended, summary, last in rows:
        s, e = _dt(started), _dt(ended)
        assert s is not None
        if e is not None and e < start:
            continue
        out.append(IncidentInfo(iid, site, check, s, e, last or summary, tickets.get(iid)))
    return tuple(out)


def _tickets(
    q: Query, tables: set[str], client: str, start: datetime, end: datetime
) -> tuple[TicketInfo, ...]:
    if "ticket" not in tables:
        return ()
    rows = q(
        "SELECT id, site, title, opened_at, respond_by, acked_at, resolved_at FROM ticket "
        "WHERE client = ? LIMIT ?",
        (client, MAX_ROWS),
    )
    out = []
    for tid, site, title, opened, respond_by, acked, resolved in rows:
        o, rb = _dt(opened), _dt(respond_by)
        assert o is not None and rb is not None
        if not start <= o < end:
            continue
        answered = _dt(acked) or _dt(resolved)
        out.append(TicketInfo(f"#{tid}", site, title, o, rb, answered))
    return tuple(out)


def _security(
    q: Query, tables: set[str], client: str, end: datetime
) -> tuple[tuple[AdvisoryInfo, ...], tuple[date, ...]]:
    if "advisory_decision" not in tables:
        return (), ()
    adv: dict[str, dict[str, object]] = {}
    first_seen: dict[str, datetime] = {}
    for aid, data, seen in q("SELECT id, data, first_seen FROM advisory", ()):
        adv[aid] = json.loads(data)
        fs = _dt(seen)
        if fs is not None and (aid not in first_seen or fs < first_seen[aid]):
            first_seen[aid] = fs
    queued: dict[tuple[str, str], tuple[datetime, datetime | None, datetime]] = {}
    for site, aid, qa, t, pd in q(
        "SELECT site, advisory, queued_at, ticketed_at, patch_day FROM patch_queue "
        "WHERE client = ?",
        (client,),
    ):
        qd, td, pdd = _dt(qa), _dt(t), _dt(pd)
        assert qd is not None and pdd is not None
        queued[(aid, site)] = (qd, td, pdd)
    out = []
    for aid, site, decision, installed, decided in q(
        "SELECT advisory, site, decision, installed, decided_at FROM advisory_decision "
        "WHERE client = ? LIMIT ?",
        (client, MAX_ROWS),
    ):
        was_queued = (aid, site) in queued
        if decision not in ("now", "patch-day") and not was_queued:
            continue
        decided_at = _dt(decided)
        assert decided_at is not None
        detected = queued[(aid, site)][0] if was_queued else first_seen.get(aid, decided_at)
        if detected >= end:
            continue
        fixed = decided_at if decision == "none" and installed else None
        a = adv.get(aid, {})
        out.append(
            AdvisoryInfo(
                advisory=aid,
                title=str(a.get("title", aid)),
                risk=str(a.get("risk_label") or "unknown"),
                site=site,
                decision=decision if decision in ("now", "patch-day") else "patch-day",
                detected=detected,
                fixed=fixed,
                link=str(a.get("link", "")),
            )
        )
    held = {t.date() for (_q, t, _p) in queued.values() if t is not None}
    return tuple(out), tuple(sorted(held))


def _certificates(q: Query, tables: set[str], client: str) -> tuple[CertificateInfo, ...]:
    if "latest_result" not in tables:
        return ()
    out = []
    for site, check, details in q(
        "SELECT site, check_id, details FROM latest_result WHERE client = ?", (client,)
    ):
        na = json.loads(details).get("cert_not_after")
        if isinstance(na, str):
            d = _dt(na)
            assert d is not None
            out.append(CertificateInfo(site, check, d))
    return tuple(out)
