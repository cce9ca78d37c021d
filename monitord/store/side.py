"""The side tables' backend, picked by the configuration: the hours ledger and the report's
tables live in the SQLite file at ``state.path`` (store.sqlite.side), or in the PostgreSQL
database of ``state.url`` (store.postgres.side), where every node of a cluster shares them.

The PostgreSQL variants are imported only when ``state.url`` is set (so is the driver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from monitord.contracts.store import SqliteTimeEntryStore
from monitord.report.store import ReportStore

if TYPE_CHECKING:
    from monitord.config.models import Config
    from monitord.store.postgres.hours import PgTimeEntryStore
    from monitord.store.postgres.report import PgReportStore

HoursStore: TypeAlias = "SqliteTimeEntryStore | PgTimeEntryStore"
"""The hours ledger on either backend."""

AnyReportStore: TypeAlias = "ReportStore | PgReportStore"
"""The report's tables (uptime roll-ups, raw results, reports sent) on either backend."""


def open_time_entries(config: Config) -> HoursStore:
    """The hours ledger of ``config``'s state store: the PostgreSQL database when
    ``state.url`` is set (shared by every node), else the SQLite file at ``state.path``."""
    url = config.main.state.url
    if url is not None:
        from monitord.store.postgres.hours import PgTimeEntryStore

        return PgTimeEntryStore(url)
    return SqliteTimeEntryStore(config.state_path())


def open_report_store(config: Config) -> AnyReportStore:
    """The report's tables of ``config``'s state store (see :func:`open_time_entries`)."""
    url = config.main.state.url
    if url is not None:
        from monitord.store.postgres.report import PgReportStore

        return PgReportStore(url)
    return ReportStore(config.state_path())
