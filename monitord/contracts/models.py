"""The ``billing:`` section of monitord.yml and the ``contract:`` section of a client file.

Money is :class:`~decimal.Decimal`, written in quotes (``"120.00"``): a number without quotes
is a float to YAML and may not hold pence exactly, so it is refused. Percentages are written
``20%`` and kept as fractions (``Decimal("0.20")``). Durations are whole minutes (``10h``,
``1h30m``, ``15m``). Months are ``YYYY-MM``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from monitord.durations import parse_duration

MAX_MONTHLY_ALLOWANCE = timedelta(hours=744)
"""Every hour of a 31-day month: an allowance above it is a typo (``100d`` for ``100h``)."""

MAX_ROUNDING = timedelta(hours=1)
"""Entries rounded up to more than an hour would bill time nobody spent."""

MAX_DAY_HOURS = timedelta(hours=24)

MAX_ROLLOVER_CAP = Decimal(12)
"""A balance of a year's allowance at most: more is no longer a monthly contract."""

PAGE_TOKEN_MIN_CHARS = 16
"""A client's page token shorter than this is guessable; ``secrets.token_urlsafe(32)`` gives 43."""

DEFAULT_THRESHOLDS = (Decimal("0.75"), Decimal("1.00"))
"""Warn when use passes 75 % and 100 % of the month's available time."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- months


class Month(NamedTuple):
    """A calendar month; ordered, hashable, printed ``2026-01``."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-01`` -> Month(2026, 1); ValueError with a hint otherwise."""
        s = text.strip()
        year, sep, month = s.partition("-")
        if sep and len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit():
            m = cls(int(year), int(month))
            if 1 <= m.month <= 12 and m.year >= 1:
                return m
        raise ValueError(f"{text!r} is not a month; write it as YYYY-MM, such as 2026-01")

    @classmethod
    def of(cls, at: datetime, zone: ZoneInfo) -> Month:
        """The month ``at`` falls in, on the calendar of ``zone``."""
        local = at.astimezone(zone)
        return cls(local.year, local.month)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def prev(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start(self, zone: ZoneInfo) -> datetime:
        """Midnight at the start of the month in ``zone`` (aware)."""
        return datetime(self.year, self.month, 1, tzinfo=zone)


def _month(v: Any) -> Any:
    if isinstance(v, Month):
        return v
    if isinstance(v, date) and not isinstance(v, datetime):
        if v.day != 1:
            raise ValueError(
                f"{v.isoformat()} is a day; write the month as YYYY-MM, such as 2026-01"
            )
        return Month(v.year, v.month)
    if isinstance(v, str):
        return Month.parse(v)
    raise ValueError("expected a month; write it as YYYY-MM, such as 2026-01")


MonthField = Annotated[Month, BeforeValidator(_month)]


# ---------------------------------------------------------------- money, percentages, minutes

PENNY = Decimal("0.01")


def _money(v: Any) -> Any:
    if isinstance(v, (bool, float)):
        raise ValueError(
            f'{v!r} is written without quotes; put money in quotes, such as "120.00" (an '
            "unquoted number is read as a float, which does not hold pence exactly)"
        )
    if isinstance(v, int):
        v = str(v)
    if not isinstance(v, str | Decimal):
        raise ValueError('expected an amount of money; write it in quotes, such as "120.00"')
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        raise ValueError(
            f'{v!r} is not an amount of money; write it in quotes, such as "120.00"'
        ) from None
    if not d.is_finite() or d < 0:
        raise ValueError(f'{v!r} is not an amount of money; write it in quotes, such as "120.00"')
    if d != d.quantize(PENNY):
        raise ValueError(f"{v!r} has fractions of a penny; write at most two decimals")
    return d.quantize(PENNY)


Money = Annotated[Decimal, BeforeValidator(_money)]


def _percent(v: Any) -> Any:
    text = v.strip() if isinstance(v, str) else None
    if text is None or not text.endswith("%"):
        raise ValueError(f"{v!r} is not a percentage; write it with a % sign, such as 20%")
    try:
        d = Decimal(text[:-1].strip())
    except InvalidOperation:
        raise ValueError(f"{v!r} is not a percentage; write it such as 20% or 17.5%") from None
    if not d.is_finite() or d < 0 or d > 1000:
        raise ValueError(f"{v!r} is not a percentage from 0% to 1000%; write it such as 20%")
    return d / 100


Percent = Annotated[Decimal, BeforeValidator(_percent)]


def _minutes(v: Any) -> Any:
    td = parse_duration(v)
    if td.total_seconds() % 60:
        raise ValueError(f"{v!r} is not a whole number of minutes; write it such as 1h30m or 15m")
    return td


def _positive(v: timedelta) -> timedelta:
    if v <= timedelta(0):
        raise ValueError("must be more than 0m; write a duration such as 10h")
    return v


Minutes = Annotated[timedelta, BeforeValidator(_minutes)]
"""A duration in whole minutes, 0 or more."""
PositiveMinutes = Annotated[timedelta, BeforeValidator(_minutes), AfterValidator(_positive)]


def minutes(td: timedelta) -> int:
    """Whole minutes of a configured duration (validated to be whole)."""
    return int(td.total_seconds()) // 60


# ---------------------------------------------------------------- billing: (monitord.yml)


class BillingConfig(Model):
    """The agency's standard rates and terms; a contract may override the rates."""

    currency: str = "GBP"
    """ISO 4217 code, shown beside every amount and in the invoice export."""
    hourly_rate: Money
    """Ex VAT."""
    day_hours: PositiveMinutes = timedelta(hours=7)
    """A day, for charging an overuse: beyond this much, whole days are charged at the day rate."""
    day_rate: Money | None = None
    """None: ``day_hours`` × ``hourly_rate``."""
    vat: Percent
    minimum_monthly: PositiveMinutes = timedelta(hours=2)
    """No contract's monthly allowance may be below this."""
    thresholds: tuple[Percent, ...] = DEFAULT_THRESHOLDS
    """Shares of the month's available time at which use is reported (warnings)."""

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if len(v) != 3 or not v.isascii() or not v.isalpha() or not v.isupper():
            raise ValueError(f"{v!r} is not a currency code; use ISO 4217, such as GBP or EUR")
        return v

    @field_validator("day_hours")
    @classmethod
    def _day_hours(cls, v: timedelta) -> timedelta:
        if v > MAX_DAY_HOURS:
            raise ValueError("day_hours must be at most 24h; write the working day, such as 7h")
        return v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        return _check_thresholds(v)


def _check_thresholds(v: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    if any(t <= 0 for t in v):
        raise ValueError("a threshold of 0% would always be passed; use values such as 75%")
    if list(v) != sorted(set(v)):
        raise ValueError(
            "the thresholds are not in order; list each once, lowest first, such as [75%, 100%]"
        )
    return v


# ---------------------------------------------------------------- contract: (clients/*.yml)


def _allowance(v: timedelta) -> timedelta:
    if v > MAX_MONTHLY_ALLOWANCE:
        raise ValueError(
            "a monthly allowance must be at most 744h (a whole month); write it in hours, such as 10h"
        )
    return v


Allowance = Annotated[
    timedelta, BeforeValidator(_minutes), AfterValidator(_positive), AfterValidator(_allowance)
]


class ContractChange(Model):
    """A new allowance from a given month on (the contract's review)."""

    from_: MonthField = Field(alias="from")
    monthly_hours: Allowance


class HelpdeskLinks(Model):
    """Which helpdesk tickets are this client's: their time entries are pulled into its
    ledger. Each key needs a notifier of that type in monitord.yml (its URL and credentials)."""

    freshdesk_company_id: int | None = Field(default=None, ge=1)
    """The Freshdesk company (Admin → Companies; the number in its URL)."""
    jira_project: str | None = None
    """The Jira project key (``ACME``)."""
    redmine_project: str | None = None
    """The Redmine project's identifier (``acme``) or number; its subprojects are included."""

    @field_validator("jira_project")
    @classmethod
    def _jira(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]*", v):
            raise ValueError(
                f"{v!r} is not a Jira project key; write the key in capitals, as in issue "
                "keys such as ACME-12 (Jira → Project settings → Details)"
            )
        return v

    @field_validator("redmine_project")
    @classmethod
    def _redmine(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError(
                "the Redmine project is empty; write its identifier (in its URL, "
                "/projects/acme) or its number"
            )
        return v

    def linked(self) -> dict[str, str]:
        """Notifier type → this client's key in it."""
        out: dict[str, str] = {}
        if self.freshdesk_company_id is not None:
            out["freshdesk"] = str(self.freshdesk_company_id)
        if self.jira_project is not None:
            out["jira"] = self.jira_project
        if self.redmine_project is not None:
            out["redmine"] = self.redmine_project
        return out


class ContractConfig(Model):
    """A client's support contract: the monthly allowance and how the ledger treats it."""

    start: MonthField
    """The first month of the agreement; entries dated earlier are not billed."""
    monthly_hours: Allowance
    changes: tuple[ContractChange, ...] = ()
    rollover_cap: Decimal = Field(default=Decimal(2), ge=1, le=MAX_ROLLOVER_CAP)
    """The balance at the start of a month is at most this × the month's allowance."""
    carry_overuse_up_to: Minutes = timedelta(hours=1)
    """An overuse up to this is deducted from next month's allowance instead of charged."""
    rounding: PositiveMinutes = timedelta(minutes=1)
    """Each time entry is rounded up to a multiple of this."""
    hourly_rate: Money | None = None
    """None: billing.hourly_rate."""
    day_rate: Money | None = None
    """None: billing.day_rate, else day_hours × the contract's hourly rate."""
    vat: Percent | None = None
    """None: billing.vat."""
    thresholds: tuple[Percent, ...] | None = None
    """None: billing.thresholds."""
    helpdesk: HelpdeskLinks = HelpdeskLinks()
    """The client's organisation or project in each helpdesk (docs/contracts.md)."""
    page_token: SecretStr | None = None
    """The bearer token of the client's hours page (give it as a credential: ${ACME_HOURS_TOKEN})."""

    @field_validator("rollover_cap", mode="before")
    @classmethod
    def _cap(cls, v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        return v

    @field_validator("rounding")
    @classmethod
    def _rounding(cls, v: timedelta) -> timedelta:
        if v > MAX_ROUNDING:
            raise ValueError("rounding must be at most 1h; use 1m (exact minutes), 6m, 15m…")
        return v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[Decimal, ...] | None) -> tuple[Decimal, ...] | None:
        return None if v is None else _check_thresholds(v)

    @field_validator("page_token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < PAGE_TOKEN_MIN_CHARS:
            raise ValueError(
                f"page_token must be at least {PAGE_TOKEN_MIN_CHARS} characters; generate one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return v

    @model_validator(mode="after")
    def _changes(self) -> ContractConfig:
        previous = self.start
        for change in self.changes:
            if change.from_ <= previous:
                raise ValueError(
                    f"the change from {change.from_} is not after {previous}; list changes "
                    "in month order, each after the contract's start"
                )
            previous = change.from_
        return self
