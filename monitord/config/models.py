"""Frozen, validated configuration models: the user-facing contract.

``monitord.yml`` becomes :class:`MainConfig`; each ``clients/<client>.yml`` becomes
:class:`ClientConfig`; :class:`Config` holds both after cross-file checks.
Unknown keys are errors everywhere (``extra="forbid"``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitord.contracts.models import BillingConfig, ContractConfig
from monitord.durations import DurationTooLong, format_duration, parse_duration
from monitord.events import RouteKind, Severity
from monitord.limits import (
    API_HEADER_TIMEOUT,
    API_IDLE_TIMEOUT,
    API_MAX_CONNECTIONS,
    API_REQUEST_TIMEOUT,
    DEFAULT_PROBE_TIMEOUT,
    PROBE_TIMEOUT_CEILING,
    SMTP_TIMEOUT,
)
from monitord.redact import SCRUB_MIN_CHARS, display_host, display_url


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- limits of values
# Every duration and count a user writes has a floor and a ceiling, each with its reason, so
# an absurd value (1000000w, .inf, 0) is a located configuration error, not an OverflowError
# or a daemon that silently never checks.

MIN_CHECK_INTERVAL = timedelta(seconds=1)
"""Checks run at most once a second: faster is load on the site, not more knowledge."""

MAX_CHECK_INTERVAL = timedelta(days=1)
"""A check runs at least daily: rarer is not monitoring (a job that reports in monthly is a
heartbeat check with ``every: 30d``, evaluated every minute)."""

MAX_REPEAT_EVERY = timedelta(days=7)
"""Reminders while down come at least weekly: a rarer reminder reminds nobody (null: none)."""

MAX_HEARTBEAT_EVERY = timedelta(days=31)
"""A heartbeat job reports in at least monthly, the rarest schedule cron jobs commonly have."""

MAX_HEARTBEAT_GRACE = timedelta(days=31)
"""A late heartbeat is waited for a month at most (as long as the longest ``every``)."""

MAX_COMMAND_TIMEOUT = timedelta(minutes=10)
"""A Drupal inventory command (drush, composer) is given up on after ten minutes at most: it
runs once per advisory round, and a hung one must not hold the next."""

MAX_SMTP_TIMEOUT = timedelta(minutes=5)
"""One SMTP operation waits five minutes at most (RFC 5321 suggests 2-10 min per reply; the
outbox retries a timed-out send)."""

MIN_SECURITY_INTERVAL = timedelta(minutes=1)
"""drupal.org's feeds are polled at most once a minute (they change a few times a week)."""

MAX_SECURITY_INTERVAL = timedelta(days=1)
"""…and at least daily: a Highly critical advisory must not wait days to be seen."""

MAX_ALERT_THRESHOLD = 100
"""Results in a row before a check turns DOWN or UP: 100 is over an hour and a half at 60 s;
more would keep an outage from everyone."""


MAX_QUORUM = 100
"""The largest ``alert.quorum``: more nodes than any monitoring cluster has; a bigger number
is a typo (and could never be reached, keeping every outage from everyone)."""


def _duration(v: Any) -> timedelta:
    """A duration as written; one beyond any limit (``1000000w``, ``.inf``) is read as
    ``timedelta.max``, so that the field's own validator refuses it naming the field's limit.
    Every Duration field therefore has a validator with ``_within``."""
    try:
        return parse_duration(v)
    except DurationTooLong:
        return timedelta.max


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _within(
    what: str,
    v: timedelta,
    low: timedelta,
    high: timedelta,
    example: str,
    *,
    low_open: bool = False,
) -> timedelta:
    """``v`` when ``low <= v <= high`` (``low < v`` with ``low_open``), else a ValueError that
    names both limits and gives ``example`` (the loader locates it)."""
    too_low = v <= low if low_open else v < low
    if too_low or v > high:
        floor = f"more than {_fmt(low)}" if low_open else f"at least {_fmt(low)}"
        raise ValueError(
            f"{what} must be {floor} and at most {_fmt(high)}; use a duration such as {example}"
        )
    return v


def _fmt(td: timedelta) -> str:
    """``format_duration`` with milliseconds kept (``0s`` would hide 250ms)."""
    if timedelta(0) < td < timedelta(seconds=1):
        return f"{int(td.total_seconds() * 1000)}ms"
    return format_duration(td)


_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _check_id(v: str) -> str:
    if not _ID.match(v):
        raise ValueError(
            f"{v!r} is not a valid id; use lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return v


Ident = Annotated[str, AfterValidator(_check_id)]

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _check_email(v: str) -> str:
    if not _EMAIL.match(v):
        raise ValueError(f"{v!r} is not an e-mail address; write it as name@example.org")
    return v


Email = Annotated[str, AfterValidator(_check_email)]


def _check_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{v!r} is not an http(s) URL; write it as https://www.example.org/")
    return v


HttpUrl = Annotated[str, AfterValidator(_check_url)]


def _check_source_address(v: str) -> str:
    """An IP address probes can bind to, in its one spelling (``0:0::1`` is ``::1``)."""
    try:
        ip = ipaddress.ip_address(v.strip())
    except ValueError:
        raise ValueError(
            f"{v!r} is not an IP address; write an address of this host as `ip addr` lists "
            "it, such as 192.0.2.10 or 2001:db8::10"
        ) from None
    if ip.is_unspecified or ip.is_multicast:
        kind = "the unspecified address" if ip.is_unspecified else "a multicast address"
        raise ValueError(
            f"{v!r} is {kind}, which a connection cannot come from; write an address of this "
            "host as `ip addr` lists it, or leave source_address out to let the system choose"
        )
    return str(ip)


SourceAddress = Annotated[str, AfterValidator(_check_source_address)]
"""The local address a probe's connections come from (``node.source_address``, a check's
``source_address``); checked to be an IP address, not to be one of this host's (that is only
known where the probe runs: a probe that cannot bind is an inconclusive *monitor error*)."""


def _shown_url(url: str, memo: tuple[str, str] | None) -> str:
    """The display form of ``url``: the one the loader computed from the text as written, or
    (a model built in code, or copied with another url) the URL with its password masked."""
    if memo is not None and memo[0] == url:
        return memo[1]
    return display_url(url)


def _check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{v!r} is not a time zone; use an IANA name such as Europe/London"
        ) from exc
    return v


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What a contact can ask to be told about.
NotifyKind = Literal[
    "site-down",  # a check went DOWN, reminders while down, flapping notices
    "site-recovered",  # it came back UP, with how long it was down
    "certificate",  # a TLS certificate close to expiry
    "security",  # a Drupal security advisory that affects the client's site, acted on now
    "maintenance",  # the patch-day maintenance notice
    "hours",  # the support hours: use passing a threshold, an estimate over the balance
    "report",  # the monthly client report
]
NOTIFY_KINDS: tuple[str, ...] = get_args(NotifyKind)


# ---------------------------------------------------------------- monitord.yml


class OfficeHours(Model):
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9, 0)
    end: time = time(17, 0)

    @model_validator(mode="after")
    def _order(self) -> OfficeHours:
        if self.end <= self.start:
            raise ValueError(
                "office_hours.end must be after office_hours.start, e.g. 09:00 to 17:00"
            )
        return self


class HolidaysConfig(Model):
    country: str = "GB"
    subdivision: str | None = "ENG"
    extra: tuple[date, ...] = ()


class Agency(Model):
    name: str
    timezone: TimeZoneName = "Europe/London"
    office_hours: OfficeHours = OfficeHours()
    holidays: HolidaysConfig = HolidaysConfig()
    support_email: Email | None = None
    """Where agency-only mail goes (unknown inventories, node connectivity, reminders)."""


RETENTION_FLOOR = timedelta(days=1)
"""The shortest retention: an outbox row is the idempotency record of its notification (its
key is unique), so it is kept at least as long as the event that made it can be raised again."""

RETENTION_CEILING = timedelta(days=3650)
"""The longest retention (ten years): longer is "forever", written as an absurd number."""


class RetentionConfig(Model):
    """How long the store keeps finished things (pruned by the daemon once an hour)."""

    sent: Duration = timedelta(days=30)
    """Outbox rows delivered: the record of what was told to whom."""
    failed: Duration = timedelta(days=90)
    """Outbox rows given up on: kept longer, to be looked into."""
    incidents: Duration = timedelta(days=400)
    """Ended incidents (and ticketed patch-day items): a year of history and a month over."""
    results: Duration = timedelta(days=3)
    """Raw probe results behind the hourly uptime roll-ups (those are kept 13 months)."""

    @field_validator("sent", "failed", "incidents", "results")
    @classmethod
    def _bounded(cls, v: timedelta) -> timedelta:
        if v < RETENTION_FLOOR or v > RETENTION_CEILING:
            raise ValueError(
                "a retention must be from 1d to 3650d (ten years); write one such as 30d"
            )
        return v


POSTGRES_SCHEMES = ("postgresql", "postgres")


class StateConfig(Model):
    path: Path = Path("var/monitord.sqlite3")
    url: str | None = None
    """A PostgreSQL database (``postgresql://user:${PGPASSWORD}@host/db``) instead of the SQLite
    file at ``path``; the two are exclusive."""
    retention: RetentionConfig = RetentionConfig()

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                f"{display_url(v)!r} is not a PostgreSQL URL; write it as "
                '"postgresql://monitord:${PGPASSWORD}@db.example/monitord" (scheme '
                "postgresql or postgres), or remove state.url to keep the SQLite file at "
                "state.path"
            )
        if not parts.path.strip("/"):
            raise ValueError(
                f"{display_url(v)!r} names no database; end it with /<database>, as in "
                '"postgresql://monitord:${PGPASSWORD}@db.example/monitord"'
            )
        return v

    @model_validator(mode="after")
    def _one_store(self) -> StateConfig:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError(
                "state.path and state.url are exclusive: path is the SQLite file, url a "
                "PostgreSQL database; remove one of them"
            )
        return self


class SmtpConfig(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    from_: str = Field(alias="from")
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    timeout: Duration = SMTP_TIMEOUT
    verify: bool = True
    """Verify the server's certificate with starttls/tls (turn off only for a test server)."""
    ca_file: Path | None = None

    @field_validator("from_")
    @classmethod
    def _from_address(cls, v: str) -> str:
        _name, addr = parseaddr(v)
        if not addr or not _EMAIL.match(addr):
            raise ValueError(
                f"{v!r} has no e-mail address; write it as "
                '"Collective monitoring <monitor@collective.example>" or a bare address'
            )
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta) -> timedelta:
        return _within("smtp.timeout", v, timedelta(0), MAX_SMTP_TIMEOUT, "30s", low_open=True)


DRUPAL_FEEDS: tuple[str, ...] = (
    "https://www.drupal.org/security/rss.xml",
    "https://www.drupal.org/security/contrib/rss.xml",
    "https://www.drupal.org/security/psa/rss.xml",
)


class SecurityConfig(Model):
    """Where and how often drupal.org's security advisories are polled."""

    enabled: bool = True
    feeds: tuple[HttpUrl, ...] = DRUPAL_FEEDS
    psa_json: HttpUrl | None = "https://updates.drupal.org/psa.json"
    interval: Duration = timedelta(minutes=15)
    fast_interval: Duration = timedelta(minutes=2)
    """Used in the Wednesday release window (16:00–22:00 UTC) and in windows a PSA announced."""
    oncall_notifier: str = "email"
    """Who is paged for Highly critical advisories out of hours (e-mail until paging exists)."""

    @field_validator("interval", "fast_interval")
    @classmethod
    def _poll(cls, v: timedelta, info: ValidationInfo) -> timedelta:
        return _within(
            f"security.{info.field_name}", v, MIN_SECURITY_INTERVAL, MAX_SECURITY_INTERVAL, "15m"
        )


HTTP_LISTEN_DEFAULT = "127.0.0.1:8470"
"""Where the HTTP API and status page listen unless ``http.listen`` says otherwise: loopback,
so nothing is reachable from the network until someone decides it should be."""

HTTP_TOKEN_MIN_CHARS = 16
"""A bearer token shorter than this is guessable; ``secrets.token_urlsafe(32)`` gives 43."""


def split_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:8470`` -> (``127.0.0.1``, 8470); ``[::1]:8470`` -> (``::1``, 8470)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(
            f"{value!r} is not HOST:PORT; write it as 127.0.0.1:8470 or [::1]:8470, or off"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: put an IPv6 address in brackets, e.g. [::1]:8470")
    n = int(port)
    if n > 65535:
        raise ValueError(f"{value!r}: the port must be 0 to 65535")
    return host, n


def is_loopback_host(host: str) -> bool:
    """Whether only this machine can reach ``host``: a loopback address or ``localhost``.

    Any other name counts as reachable from the network (it may resolve to anything).
    """
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(v: Any) -> Any:
    if v is None or v is False or (isinstance(v, str) and v.strip().lower() in ("off", "")):
        return None
    if isinstance(v, str):
        split_listen(v.strip())
        return v.strip()
    return v


HTTP_MAX_CONNECTIONS_CEILING = 10_000
"""Highest http.max_connections: each is an open file taken from the probes' budget."""

HTTP_TIMEOUT_CEILING = timedelta(minutes=10)
"""Longest API timeout: a longer one lets idle or slow clients hold open files for nothing."""


class HttpConfig(Model):
    """The HTTP API, metrics, status page and heartbeat endpoint (monitord.api)."""

    listen: Annotated[str | None, BeforeValidator(_listen)] = HTTP_LISTEN_DEFAULT
    """HOST:PORT, or off (null) for no HTTP server at all."""
    token: SecretStr | None = None
    """Bearer token asked of every request but /healthz and /heartbeat/… when the listen
    address is not loopback (or when ``require_token``); give it as a credential: ${API_TOKEN}."""
    require_token: bool = False
    """Ask for the token on a loopback address too (a machine shared with other users)."""
    public_url: HttpUrl | None = None
    """How cron jobs reach this server, for the heartbeat URLs ``monitord status`` shows
    (e.g. https://monitor.collective.example/); default http://LISTEN/."""
    max_connections: Annotated[int, Field(ge=1, le=HTTP_MAX_CONNECTIONS_CEILING)] = (
        API_MAX_CONNECTIONS
    )
    """Concurrent connections accepted; more get 503 and are closed at once. Lowered at start
    to what the open-file limit leaves the API (docs/service.md)."""
    idle_timeout: Duration = API_IDLE_TIMEOUT
    """A connection without a request under way is closed this long after it opened or after
    its last response."""
    header_timeout: Duration = API_HEADER_TIMEOUT
    """A request's line and headers must be complete this long after its first byte."""
    request_timeout: Duration = API_REQUEST_TIMEOUT
    """A request's body and answer must be done within this (408 and closed otherwise)."""

    @field_validator("idle_timeout", "header_timeout", "request_timeout")
    @classmethod
    def _api_timeout(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0) or v > HTTP_TIMEOUT_CEILING:
            raise ValueError(
                f"must be more than 0s and at most {int(HTTP_TIMEOUT_CEILING.total_seconds())}s"
            )
        return v

    @model_validator(mode="after")
    def _token_when_exposed(self) -> HttpConfig:
        if self.token is not None and len(self.token.get_secret_value()) < HTTP_TOKEN_MIN_CHARS:
            raise ValueError(
                f"http.token must be at least {HTTP_TOKEN_MIN_CHARS} characters; generate one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.auth_required and self.token is None:
            raise ValueError(
                f"http.listen {self.listen} is reachable from the network, so the API needs a "
                "token: add `token: ${API_TOKEN}` (a credential) under http:, or listen on "
                "127.0.0.1"
            )
        return self

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to bind, or None when the server is off."""
        return None if self.listen is None else split_listen(self.listen)

    @property
    def auth_required(self) -> bool:
        """Whether requests (but /healthz and /heartbeat/…) need the bearer token."""
        addr = self.address
        return addr is not None and (self.require_token or not is_loopback_host(addr[0]))


class NotifierConfig(Model):
    """One entry of ``notifiers:``: ``type`` names the plugin (entry point group
    ``monitord.notifiers``); every other key is one of that plugin's options, kept in
    ``options`` and validated by the plugin's own ``Options`` model (in the loader, and again
    when the notifier is built). ``options`` may hold secrets: it is left out of ``repr``."""

    type: str
    options: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _gather_options(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) - {"type", "options"}:
            out: dict[str, Any] = {"options": {k: v for k, v in data.items() if k != "type"}}
            if "type" in data:
                out["type"] = data["type"]
            return out
        return data


# ---------------------------------------------------------------- routing (docs/routing.md)

RouteSeverity = Severity
Cover = Literal["office_hours", "out_of_hours"]
"""A client's support cover: ``office_hours`` (the default) or ``out_of_hours`` (bought)."""

ROUTE_WHEN_BUILTIN: tuple[str, ...] = ("always", "office_hours", "out_of_hours")
ROUTE_PSEUDO_TARGETS: tuple[str, ...] = ("client-contacts", "agency", "oncall-pager", "tickets")

EMAIL_NOTIFIER = "email"
"""The notifier every configuration with ``smtp:`` has: e-mail to each notification's recipient.
Its name and its ``type:``; no other notifier may take the name."""


def _one_or_many(v: Any) -> Any:
    """``kind: site-down`` and ``kind: [site-down, site-recovered]`` both mean a tuple."""
    return (v,) if isinstance(v, str | int) and not isinstance(v, bool) else v


OneOrMany = BeforeValidator(_one_or_many)


class RouteMatch(Model):
    """What a route applies to; every key given must match (an empty one matches anything)."""

    kind: Annotated[tuple[RouteKind, ...], OneOrMany] = ()
    client: Annotated[tuple[Ident, ...], OneOrMany] = ()
    client_cover: Cover | None = None
    site: Annotated[tuple[Ident, ...], OneOrMany] = ()
    severity: Annotated[tuple[RouteSeverity, ...], OneOrMany] = ()


class Route(Model):
    """One entry of ``routes:`` (monitord.routing)."""

    match: RouteMatch = RouteMatch()
    when: Ident = "always"
    """always, office_hours, out_of_hours, or the name of a window in ``windows:``."""
    notify: tuple[Ident, ...]
    """Notifier names and the pseudo-targets client-contacts, agency, oncall-pager, tickets;
    an empty list drops what the route matches."""


DateOrRange = date | tuple[date, date]


class WindowConfig(Model):
    """A named recurring window for ``when:`` (monitord.calendar.TimeWindow)."""

    days: tuple[Weekday, ...] = WEEKDAYS
    start: time = time(0)
    end: time = time(0)
    """``start > end`` crosses midnight; ``start == end`` is a whole day."""
    zone: TimeZoneName | None = None
    """Defaults to the agency's zone."""
    dates: tuple[DateOrRange, ...] | None = None
    """Only on these dates (or inclusive ``[first, last]`` ranges) when given."""

    @model_validator(mode="after")
    def _opens(self) -> WindowConfig:
        _check_dates(self.days, self.dates)
        return self


class MaintenanceWindow(Model):
    """A maintenance window of a client or a site: one-off ``{from, to}`` (naive values read in
    ``zone``) or recurring ``{days, start, end, zone}``. Notifications are suppressed inside."""

    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    days: tuple[Weekday, ...] | None = None
    start: time | None = None
    end: time | None = None
    zone: TimeZoneName | None = None
    """Defaults to the agency's zone."""
    dates: tuple[DateOrRange, ...] | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        one_off = self.from_ is not None or self.to is not None
        recurring = any(v is not None for v in (self.days, self.start, self.end, self.dates))
        if one_off and recurring:
            raise ValueError(
                "a maintenance window is either one-off (from, to) or recurring (days, start, "
                "end); split it into two windows"
            )
        if one_off:
            if self.from_ is None or self.to is None:
                raise ValueError("a one-off maintenance window needs both `from` and `to`")
            _check_order(self.from_, self.to, "maintenance window")
        elif self.start is None or self.end is None:
            raise ValueError(
                "a maintenance window needs `from` and `to` (one-off) or `start` and `end` "
                "(recurring, with optional `days`)"
            )
        _check_dates(self.days, self.dates)
        return self


def _check_order(start: datetime, end: datetime, what: str) -> None:
    """``end`` after ``start``; both written with a UTC offset or both without one."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise ValueError(
            f"{what}: only one of `from` and `to` has a UTC offset; write both with one "
            "(2026-12-24T17:00+00:00) or both without (then they are read in the zone)"
        )
    if end <= start:
        raise ValueError(f"{what}: `to` is not after `from`; swap them or fix the date")


def _check_dates(days: tuple[Weekday, ...] | None, dates: tuple[DateOrRange, ...] | None) -> None:
    """A recurring window that can never open is a mistake, not a window."""
    if days is not None and not days:
        raise ValueError("`days` is empty, so the window never opens; list days or leave it out")
    if dates is not None:
        if not dates:
            raise ValueError(
                "`dates` is empty, so the window never opens; list dates or leave it out"
            )
        for d in dates:
            if isinstance(d, tuple) and d[1] < d[0]:
                raise ValueError(
                    f"the date range [{d[0]}, {d[1]}] ends before it starts; write the earlier date first"
                )


_HANDOVER = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")


def _check_handover(v: str) -> str:
    if not _HANDOVER.match(v.strip().lower()):
        raise ValueError(
            f"{v!r} is not a weekly handover; write it as a weekday and a time, e.g. mon 09:00"
        )
    return v.strip().lower()


class OncallPerson(Model):
    name: str
    email: Email | None = None
    pagerduty_user: str | None = None
    opsgenie_user: str | None = None


class OncallOverride(Model):
    from_: datetime = Field(alias="from")
    """Naive values are read in the agency's zone."""
    to: datetime
    name: str

    @model_validator(mode="after")
    def _order(self) -> OncallOverride:
        _check_order(self.from_, self.to, "on-call override")
        return self


class OncallConfig(Model):
    """The on-call rota (monitord.oncall): weekly turns in list order, handed over at
    ``handover`` in the agency's zone; overrides win (the last listed first)."""

    rota: tuple[OncallPerson, ...] = Field(min_length=1)
    handover: Annotated[str, AfterValidator(_check_handover)] = "mon 09:00"
    start: date = date(2024, 1, 1)
    """The first person of the rota takes over at the first handover on or after this date."""
    overrides: tuple[OncallOverride, ...] = ()
    notifier: Ident = "email"
    """The notifier ``oncall-pager`` pages through (pagerduty, opsgenie… or email)."""


class GroupingConfig(Model):
    window: Duration = timedelta(seconds=30)
    """Notifications for one client to one destination within this go out as one; 0s: off."""

    @field_validator("window")
    @classmethod
    def _window(cls, v: timedelta) -> timedelta:
        if v < timedelta(0) or v > timedelta(hours=1):
            raise ValueError("grouping.window must be 0s (off) to 1h")
        return v


class ConnectivityConfig(Model):
    """When monitord suspects its own network (monitord.storm.connectivity_step)."""

    canaries: tuple[HttpUrl, ...] = ()
    threshold: float = Field(default=0.5, gt=0, lt=1)
    """Share of checks failing at once, above which the network is suspected."""
    min_checks: int = Field(default=10, ge=1)
    """Failing checks needed at least (a small installation never suspects itself on a few)."""


class ReportConfig(Model):
    """The monthly client report (monitord.report; docs/contracts.md)."""

    send_at: time = time(9, 0)
    """Local time (agency zone) on the first working day of a month when last month's report
    goes to the contacts that ``notify: [report]``."""


class NodeConfig(Model):
    """This node, when several monitord daemons share one PostgreSQL store
    (docs/high-availability.md). With the SQLite store there is one node and this is unused."""

    id: Ident | None = None
    """The node's id (after ``--node`` and ``$MONITORD_NODE``); default: the host name."""
    source_address: SourceAddress | None = None
    """Probes bind to this address of the host (``nodes.<id>.source_address`` wins)."""


def _check_label(v: str) -> str:
    v = v.strip()
    if not v or "\n" in v:
        raise ValueError(
            "location is empty or spans lines; write a short one-line name people read in "
            "messages, such as London"
        )
    return v


class NodePeerConfig(Model):
    """One node's own settings, kept under ``nodes.<id>`` when every node reads the same
    configuration directory."""

    source_address: SourceAddress | None = None
    """Probes on this node bind to this address (instead of ``node.source_address``)."""
    location: Annotated[str, AfterValidator(_check_label)] | None = None
    """How messages name this node (``HTTP 503 (down from London; up from Amsterdam)``)."""


class MainConfig(Model):
    agency: Agency
    state: StateConfig = StateConfig()
    smtp: SmtpConfig | None = None
    security: SecurityConfig = SecurityConfig()
    http: HttpConfig = HttpConfig()
    notifiers: dict[Ident, NotifierConfig] = {}
    """Named notifiers besides the built-in ``email`` (see docs/notifiers.md)."""
    routes: tuple[Route, ...] = ()
    """Who is told what and when (docs/routing.md); none: the built-in routes
    (routing.DEFAULT_ROUTES)."""
    windows: dict[Ident, WindowConfig] = {}
    oncall: OncallConfig | None = None
    grouping: GroupingConfig | None = None
    """Absent: 30s when ``routes:`` are configured, off otherwise (each notification
    sent alone, at once)."""
    connectivity: ConnectivityConfig = ConnectivityConfig()
    billing: BillingConfig | None = None
    """The agency's rates for support contracts (monitord.contracts; docs/contracts.md)."""
    report: ReportConfig = ReportConfig()
    node: NodeConfig = NodeConfig()
    """This node's id and source address (several nodes on PostgreSQL)."""
    nodes: dict[Ident, NodePeerConfig] = {}
    """Settings of each node by id, for a directory every node reads."""


# ---------------------------------------------------------------- clients/*.yml


class Contact(Model):
    name: str
    email: Email
    notify: tuple[NotifyKind, ...] = ("site-down", "site-recovered")


class CheckBase(Model):
    id: Ident | None = None
    """Unique within the site; defaults to the check's type (``http``, ``http-2`` for a second)."""
    interval: Duration = timedelta(seconds=60)
    timeout: Duration = DEFAULT_PROBE_TIMEOUT
    source_address: SourceAddress | None = None
    """The local address this check's connections come from, instead of the node's
    ``node.source_address`` (None: the node's, else the system chooses)."""

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: timedelta) -> timedelta:
        return _within("interval", v, MIN_CHECK_INTERVAL, MAX_CHECK_INTERVAL, "60s, 5m or 6h")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0) or v > PROBE_TIMEOUT_CEILING:
            raise ValueError(
                f"timeout must be more than 0s and at most {int(PROBE_TIMEOUT_CEILING.total_seconds())}s"
            )
        return v


class HttpExpect(Model):
    status: int | tuple[int, ...] = 200
    contains: str | None = None
    not_contains: str | None = None
    regex: str | None = None
    max_response_time: Duration | None = None

    @field_validator("max_response_time")
    @classmethod
    def _max_response_time(cls, v: timedelta | None) -> timedelta | None:
        if v is None:
            return v
        return _within(
            "max_response_time", v, timedelta(0), PROBE_TIMEOUT_CEILING, "2s", low_open=True
        )

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return v

    @property
    def statuses(self) -> tuple[int, ...]:
        return (self.status,) if isinstance(self.status, int) else self.status


class HttpCheck(CheckBase):
    type: Literal["http"]
    url: HttpUrl | None = None
    """Defaults to the site's url."""
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = {}
    body: str | None = None
    follow_redirects: bool | Literal["any-host"] = True
    """true: follow, except a redirect from another host to a loopback, link-local or
    unspecified address (monitord.probes.http.redirect_refusal); any-host: follow wherever it
    goes; false: judge the redirect itself."""
    verify_tls: bool = True
    ca_file: Path | None = None
    """A PEM file of the CA certificates that sign this site (an internal CA): trusted instead
    of the system's; relative to the configuration directory."""
    expect: HttpExpect = HttpExpect()
    _shown: tuple[str, str] | None = PrivateAttr(default=None)

    def remember_written_url(self, written: str) -> None:
        """Keep the display form of ``url`` from its text as written (``${NAME}`` and all)."""
        if self.url is not None:
            self._shown = (self.url, display_url(self.url, written))

    @property
    def display_url(self) -> str | None:
        """``url`` as it may be shown (monitord.redact); the probe alone uses ``url``."""
        return None if self.url is None else _shown_url(self.url, self._shown)


class TlsCheck(CheckBase):
    type: Literal["tls"]
    interval: Duration = timedelta(hours=6)
    host: str | None = None
    """Defaults to the site url's host."""
    port: int = Field(default=443, ge=1, le=65535)
    min_days_left: int = Field(default=14, ge=0)
    server_name: str | None = None
    """SNI and the name verified; defaults to host."""
    ca_file: Path | None = None
    """A PEM file of the CA certificates that sign this certificate (an internal CA): trusted
    instead of the system's; relative to the configuration directory."""


class TcpCheck(CheckBase):
    type: Literal["tcp"]
    host: str | None = None
    port: int = Field(ge=1, le=65535)


class DnsCheck(CheckBase):
    type: Literal["dns"]
    interval: Duration = timedelta(minutes=5)
    name: str | None = None
    """Defaults to the site url's host."""
    addresses: tuple[str, ...] = ()
    """When given, every one of these must be among the answers."""

    @field_validator("source_address")
    @classmethod
    def _no_source_address(cls, v: str | None) -> str | None:
        if v is not None:
            raise ValueError(
                "a dns check cannot bind to a source address: it asks the system's resolver, "
                "which chooses its own; remove source_address from this check"
            )
        return v


HEARTBEAT_CHECK_INTERVAL = timedelta(seconds=60)
"""How often a heartbeat check is evaluated by default: a missed beat is seen within a minute
(a quarter of ``every`` when that is shorter)."""


class HeartbeatCheck(CheckBase):
    """A push check: a cron job or a client's service calls ``/heartbeat/{token}``.

    It fails when no beat came for ``every`` + ``grace``. The token is generated once per check
    and kept in the store; ``monitord status`` shows it.
    """

    type: Literal["heartbeat"]
    every: Duration = timedelta(hours=1)
    """How often the job is expected to report in."""
    grace: Duration = timedelta(minutes=10)
    """Extra time a late beat is allowed before the check fails."""

    @field_validator("every")
    @classmethod
    def _every(cls, v: timedelta) -> timedelta:
        return _within("every", v, timedelta(seconds=1), MAX_HEARTBEAT_EVERY, "1h or 1d")

    @field_validator("grace")
    @classmethod
    def _grace(cls, v: timedelta) -> timedelta:
        return _within("grace", v, timedelta(0), MAX_HEARTBEAT_GRACE, "10m (0s for none)")

    @field_validator("source_address")
    @classmethod
    def _no_source_address(cls, v: str | None) -> str | None:
        if v is not None:
            raise ValueError(
                "a heartbeat check makes no connection (the job calls monitord), so it has no "
                "source address; remove source_address from this check"
            )
        return v

    @model_validator(mode="after")
    def _default_interval(self) -> HeartbeatCheck:
        if "interval" not in self.model_fields_set:
            quarter = max(self.every / 4, timedelta(seconds=1))
            object.__setattr__(self, "interval", min(HEARTBEAT_CHECK_INTERVAL, quarter))
        return self


CheckSpec = HttpCheck | TlsCheck | TcpCheck | DnsCheck | HeartbeatCheck
Check = Annotated[CheckSpec, Field(discriminator="type")]


class AlertPolicy(Model):
    failure_threshold: int = Field(default=3, ge=1, le=MAX_ALERT_THRESHOLD)
    success_threshold: int = Field(default=2, ge=1, le=MAX_ALERT_THRESHOLD)
    repeat_every: Duration | None = timedelta(hours=4)
    """Reminder while down; null turns reminders off."""
    incident: Literal["per-site", "per-check"] = "per-site"
    """per-site: the site's failing checks share one incident (one ticket, one DOWN, one
    recovery when all are back); per-check: each check has its own."""
    quorum: int | None = Field(default=None, ge=1, le=MAX_QUORUM)
    """Nodes that must see a check DOWN (or UP) for the verdict, with several nodes on
    PostgreSQL; None: a majority of the nodes that reported within two intervals."""

    @field_validator("repeat_every")
    @classmethod
    def _repeat_every(cls, v: timedelta | None) -> timedelta | None:
        if v is None:
            return v
        return _within(
            "repeat_every", v, MIN_CHECK_INTERVAL, MAX_REPEAT_EVERY, "4h (null for no reminders)"
        )


class DrupalSite(Model):
    """What a Drupal site runs. Present (even empty) means the site is Drupal.

    Any of: a composer.lock path, modules declared by hand, a command printing the JSON of
    ``drush pm:list --format=json`` or ``composer show --format=json``. With none, the site
    still gets core advisories, marked "inventory unknown — check by hand", to the agency only.
    """

    composer_lock: Path | None = None
    modules: dict[str, str] = {}
    """``{drupal/core: 10.3.1, drupal/webform: 6.2.3}``."""
    command: str | None = None
    command_timeout: Duration = timedelta(seconds=60)

    @field_validator("command_timeout")
    @classmethod
    def _command_timeout(cls, v: timedelta) -> timedelta:
        return _within(
            "command_timeout", v, timedelta(0), MAX_COMMAND_TIMEOUT, "60s", low_open=True
        )


class Site(Model):
    id: Ident
    url: HttpUrl
    name: str | None = None
    checks: tuple[Check, ...] = ()
    alert: AlertPolicy = AlertPolicy()
    drupal: DrupalSite | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    locations: tuple[Ident, ...] | None = None
    """The nodes (by id) that probe this site, with several nodes on PostgreSQL; None: all."""
    _shown: tuple[str, str] | None = PrivateAttr(default=None)

    @field_validator("locations")
    @classmethod
    def _locations(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v:
            raise ValueError(
                "locations is empty, so no node would probe this site; list node ids "
                "(locations: [lon-1, ams-1]) or remove the key to have every node probe it"
            )
        twice = sorted({n for n in v if v.count(n) > 1})
        if twice:
            raise ValueError(
                f"locations names {', '.join(twice)} more than once; list each node once"
            )
        return v

    @model_validator(mode="after")
    def _check_ids(self) -> Site:
        """Give every check an id (its type, then ``type-2``…) and refuse duplicates."""
        seen: set[str] = set()
        counts: dict[str, int] = {}
        fixed = []
        for check in self.checks:
            cid = check.id
            if cid is None:
                counts[check.type] = counts.get(check.type, 0) + 1
                n = counts[check.type]
                cid = check.type if n == 1 else f"{check.type}-{n}"
                check = check.model_copy(update={"id": cid})
            if cid in seen:
                raise ValueError(
                    f"two checks of site {self.id!r} have the id {cid!r}; give each an own `id:`"
                )
            seen.add(cid)
            fixed.append(check)
        object.__setattr__(self, "checks", tuple(fixed))
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def remember_written_url(self, written: str) -> None:
        """Keep the display form of ``url`` from its text as written (``${NAME}`` and all)."""
        self._shown = (self.url, display_url(self.url, written))

    @property
    def display_url(self) -> str:
        """``url`` as it may be shown: password and ``${NAME}`` parts masked (monitord.redact).
        Every status, page, message and ticket shows this; the probe alone uses ``url``."""
        return _shown_url(self.url, self._shown)

    @property
    def display_name(self) -> str:
        """``name``, else the host when it is shown, else the id."""
        return self.name or display_host(self.display_url) or self.id

    def display_url_of(self, spec: CheckSpec) -> str:
        """The display URL of one of this site's checks: its own url, else the site's."""
        own = spec.display_url if isinstance(spec, HttpCheck) else None
        return own or self.display_url


class ClientConfig(Model):
    client: Ident
    name: str
    contacts: tuple[Contact, ...] = ()
    sites: tuple[Site, ...] = ()
    cover: Cover = "office_hours"
    """``out_of_hours``: the client bought out-of-hours cover (routes match ``client_cover``)."""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    contract: ContractConfig | None = None
    """The client's support hours contract (docs/contracts.md)."""
    _file: str | None = PrivateAttr(default=None)

    def remember_file(self, name: str) -> None:
        """Keep the name of the file this client was read from (the loader calls this)."""
        self._file = name

    @property
    def file(self) -> str:
        """The file this client was read from, relative to the configuration directory
        (``clients/acme.yml``); for a client built in code, where it would be."""
        return self._file or f"clients/{self.client}.yml"


class Config(Model):
    """The whole validated configuration: ``monitord.yml`` plus every client file."""

    main: MainConfig
    clients: tuple[ClientConfig, ...] = ()
    directory: Path = Path(".")
    """The directory it was loaded from; relative paths in it resolve against this."""
    _secret_values: tuple[str, ...] = PrivateAttr(default=())

    def remember_secret_values(self, values: Iterable[str]) -> None:
        """Keep the values substituted for ``${NAME}`` references (the loader calls this)."""
        self._secret_values = tuple(
            sorted({v for v in values if len(v) >= SCRUB_MIN_CHARS}, key=len, reverse=True)
        )

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every value a ``${NAME}`` reference gave (of at least ``SCRUB_MIN_CHARS``): what a
        last-line scrub (``monitord.redact.scrub``) removes from a text shown to a person."""
        return self._secret_values

    def state_path(self) -> Path:
        """Absolute path of the store: a relative one is under ``$STATE_DIRECTORY`` when
        systemd sets it, else under the working directory."""
        p = self.main.state.path
        if p.is_absolute():
            return p
        base = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return (Path(base) if base else Path.cwd()) / p

    def iter_checks(self) -> Iterator[tuple[ClientConfig, Site, CheckSpec]]:
        for client in self.clients:
            for site in client.sites:
                for check in site.checks:
                    yield client, site, check

    def find_site(self, site_id: str) -> tuple[ClientConfig, Site] | None:
        for client in self.clients:
            for site in client.sites:
                if site.id == site_id:
                    return client, site
        return None
