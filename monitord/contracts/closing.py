"""Closing months: issuing the statements of ended months, in order, each once.

``monitord hours close`` does it by hand; the daemon's report service does it on the first
working day of a month, before the monthly report is built, so the report shows the issued
statement. Both go through :func:`close_through`. An issued statement never changes: entries
that arrive later for a closed month are booked into the open month as dated adjustments
(:mod:`monitord.contracts.ledger`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitord.contracts.ledger import Statement, Terms, close, first_open_month
from monitord.contracts.models import Month
from monitord.errors import StoreError
from monitord.store.side import HoursStore, open_time_entries

if TYPE_CHECKING:
    from monitord.config.models import Config


def close_through(
    store: HoursStore,
    client: str,
    terms: Terms,
    month: Month,
    now: datetime,
    zone: ZoneInfo,
) -> list[Statement]:
    """Issue the statements of ``client``'s open months up to and including ``month`` (which
    must have ended by ``now``), earliest first; those newly issued. Months already closed are
    left as they are, so a second call changes nothing. When another process (the command,
    the daemon) issued one meanwhile, its statement stands and this one is dropped."""
    if month < terms.start:
        return []
    closed = store.closed(client)
    if month in closed:
        return []
    entries = store.entries(client)
    issued: list[Statement] = []
    m = first_open_month(terms, closed)
    while m <= month:
        st = close(client, terms, m, entries, closed, now, zone)
        try:
            store.save_closed(st, zone)
        except StoreError:  # issued elsewhere a moment ago: that one is the statement
            closed = store.closed(client)
            if m not in closed:
                raise
            st = closed[m]
        else:
            closed[m] = st
            issued.append(st)
        m = m.next()
    return issued


def close_all(config: Config, month: Month, now: datetime) -> dict[str, list[Statement]]:
    """Close ``month`` (and the open months before it) for every client with a contract, in
    the configuration's state store; client -> the statements newly issued."""
    billing = config.main.billing
    if billing is None:
        return {}
    zone = ZoneInfo(config.main.agency.timezone)
    out: dict[str, list[Statement]] = {}
    with open_time_entries(config) as store:
        for client in config.clients:
            if client.contract is None:
                continue
            terms = Terms.from_config(billing, client.contract)
            issued = close_through(store, client.client, terms, month, now, zone)
            if issued:
                out[client.client] = issued
    return out
