"""What the ``monitord hours …`` commands share: the configuration and store, each client's
terms, reading times and durations as users write them, printing minutes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitord.clock import utcnow as utcnow  # the hours commands read it here; tests drive it
from monitord.config.models import ClientConfig, Config
from monitord.contracts.ledger import Statement, Terms, statement
from monitord.contracts.models import Month
from monitord.durations import parse_duration
from monitord.errors import MonitordError
from monitord.store.side import HoursStore, open_time_entries
from monitord.timeinput import parse_moment

MAX_ENTRY = timedelta(hours=24)
"""The longest single time entry: a day's work. More is a typo (``90h`` for ``90m``)."""


@dataclass
class Hours:
    """An open configuration and hours store."""

    config: Config
    zone: ZoneInfo
    store: HoursStore

    def client(self, client_id: str) -> tuple[ClientConfig, Terms]:
        """The client and its terms; a MonitordError saying what to do otherwise."""
        found = next((c for c in self.config.clients if c.client == client_id), None)
        if found is None:
            known = ", ".join(c.client for c in self.config.clients) or "none"
            raise MonitordError(f"there is no client {client_id!r}; the clients are: {known}")
        if found.contract is None or self.config.main.billing is None:
            raise MonitordError(
                f"{client_id} has no support contract: add a `contract:` section to its client "
                "file and `billing:` to monitord.yml (docs/contracts.md)"
            )
        return found, Terms.from_config(self.config.main.billing, found.contract)

    def contract_clients(self) -> list[ClientConfig]:
        return [c for c in self.config.clients if c.contract is not None]

    def statement(self, client_id: str, month: Month, now: datetime) -> Statement:
        _client, terms = self.client(client_id)
        return statement(
            client_id,
            terms,
            month,
            self.store.entries(client_id),
            self.store.closed(client_id),
            now,
            self.zone,
        )


@contextmanager
def open_hours(config_arg: str | None) -> Iterator[Hours]:
    """Load the configuration and open the hours tables in its state store (the SQLite file,
    or the PostgreSQL database of ``state.url``; created if new)."""
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES

    config = load_config(resolve_config_dir(config_arg), notifier_types=NOTIFIER_TYPES)
    path = config.state_path()
    if config.main.state.url is None and not path.parent.is_dir():
        raise MonitordError(
            f"the directory of the state store {path} does not exist; create it, or check "
            "state.path in monitord.yml"
        )
    store = open_time_entries(config)
    try:
        yield Hours(config, ZoneInfo(config.main.agency.timezone), store)
    finally:
        store.close()


def parse_at(text: str, zone: ZoneInfo) -> datetime:
    """A moment in the forms every command takes (:mod:`monitord.timeinput`), or a date (its
    noon); a naive one is read in ``zone``."""
    try:
        return parse_moment(text, zone, dates=True)
    except ValueError as exc:
        raise MonitordError(str(exc)) from None


_CLOCK = re.compile(r"^(\d+):([0-5]\d)$")


def parse_entry_duration(text: str) -> int:
    """Seconds of a time entry: ``1h30m``, ``45m``, ``90s`` or ``1:30`` (hours:minutes)."""
    s = text.strip()
    m = _CLOCK.match(s)
    seconds: float
    try:
        if m:
            seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60
        elif re.fullmatch(r"\d+(\.\d+)?", s):
            raise ValueError
        else:
            seconds = parse_duration(s).total_seconds()
    except ValueError:
        raise MonitordError(
            f"{text!r} is not a duration; write it as 1h30m, 45m or 1:30 (a bare number "
            "could be hours or minutes)"
        ) from None
    if seconds != int(seconds) or seconds <= 0 or seconds > MAX_ENTRY.total_seconds():
        raise MonitordError(
            f"{text!r} is not a time entry: it must be whole seconds, more than 0 and at most "
            "24h; split longer work into one entry a day"
        )
    return int(seconds)


def check_when(at: datetime, terms: Terms, zone: ZoneInfo, now: datetime) -> None:
    """An entry is dated within the contract and not after today (a date alone is read as
    noon, so today's date is accepted in the morning too)."""
    if Month.of(at, zone) < terms.start:
        raise MonitordError(
            f"{at.astimezone(zone):%Y-%m-%d} is before the contract starts ({terms.start}); "
            "check the date, or contract.start in the client's file"
        )
    if at.astimezone(zone).date() > now.astimezone(zone).date():
        raise MonitordError(
            f"{at.astimezone(zone):%Y-%m-%d} is in the future; log time once it is spent"
        )


def fmt_minutes(mins: int) -> str:
    """``12h 05m``; ``-1h 00m`` for an overuse."""
    sign = "-" if mins < 0 else ""
    h, m = divmod(abs(mins), 60)
    return f"{sign}{h}h {m:02d}m"


def local(dt: datetime, zone: ZoneInfo) -> str:
    t = dt.astimezone(zone)
    return f"{t:%Y-%m-%d %H:%M} {t.tzname()}"


def month_arg(text: str | None, default: Month) -> Month:
    if text is None:
        return default
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise MonitordError(str(exc).replace("; ", " — ", 1)) from None
