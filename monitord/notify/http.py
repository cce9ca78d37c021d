"""POST JSON to a paging, chat or ticket API and classify what came back.

Every HTTP notifier sends through :class:`JsonPoster` and gets either an :class:`HttpReply`
(2xx) or one of the two delivery errors, worded for the person reading the outbox:

- :class:`~monitord.errors.RetryableError` — timeouts, connection failures, ``408``, ``425``,
  ``429`` and every ``5xx``. ``retry_after`` carries the server's ``Retry-After`` (seconds or
  an HTTP date, read against ``now``), which the outbox honours.
- :class:`~monitord.errors.PermanentError` — every other status (``4xx``, and ``3xx``, which
  is never followed for a POST), certificate failures and unusable URLs. The message says what
  the server said (a short excerpt of its body) and what to fix (the notifier's hint for that
  status, e.g. "check routing_key").

Secrets never reach a message: a URL is only ever shown as ``scheme://host:port`` (webhook URLs
carry their token in the path or query), no request header is ever shown, and whatever the
server answered is scrubbed (:func:`monitord.redact.scrub`, every form a server could echo) of
every secret the notifier names *and* of every credential the request itself carries: the values
of ``Authorization`` and the other credential headers (with the token inside ``Bearer …`` and
the password inside ``Basic …``) and the URL's user-info — so a notifier cannot forget one.
Exceptions are raised ``from None`` so no chained traceback repeats the URL.

Classification (:func:`classify_reply`, :func:`parse_retry_after`) is pure; only
:meth:`JsonPoster.post` does I/O.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import AfterValidator, BeforeValidator

from monitord.durations import format_duration, parse_duration
from monitord.errors import PermanentError, RetryableError
from monitord.notify.render import one_line
from monitord.redact import (
    credential_parts,
    header_credentials,
    scrub,
    url_credentials,
)

__all__ = [
    "ERROR_EXCERPT_CHARS",
    "HTTP_TIMEOUT",
    "HTTP_TIMEOUT_CEILING",
    "RESPONSE_BODY_CAP",
    "RETRYABLE_STATUSES",
    "HttpReply",
    "JsonPoster",
    "Timeout",
    "body_reason",
    "classify_exception",
    "classify_reply",
    "excerpt",
    "find_cause",
    "json_safe",
    "parse_retry_after",
    "request_secrets",
    "safe_url",
]

HTTP_TIMEOUT = timedelta(seconds=10)
"""Default for a whole request (connect, send, read the answer). Paging and chat APIs answer in
well under a second; a hung API must not hold one of the outbox's send slots for long, and the
outbox retries a timeout anyway."""

HTTP_TIMEOUT_CEILING = timedelta(minutes=2)
"""The longest ``timeout`` a notifier may be given: beyond it a page would be late anyway."""

RESPONSE_BODY_CAP = 64 * 1024
"""Bytes of an answer read: every API here answers with a few hundred bytes of JSON; a huge or
endless body must not eat memory."""

ERROR_EXCERPT_CHARS = 300
"""Characters of a server's error body quoted in a message: enough for its reason, short
enough for a log line and the outbox's ``last_error``."""


def _check_timeout(v: timedelta) -> timedelta:
    if v <= timedelta(0) or v > HTTP_TIMEOUT_CEILING:
        raise ValueError(
            f"timeout must be above 0s and at most {format_duration(HTTP_TIMEOUT_CEILING)}; "
            f"use a duration such as {format_duration(HTTP_TIMEOUT)}"
        )
    return v


Timeout = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_check_timeout)]
"""A notifier's request timeout option: a duration (``10s``), above 0 and at most the ceiling."""

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""4xx statuses that mean "not now" rather than "never": timeout, too early, rate limited."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A 2xx answer: status, headers (lower-case names) and the (capped) body as text."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


# ---------------------------------------------------------------- pure helpers


def safe_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what may be shown of an address that may carry a
    token in its path, query or user-info."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an unusable URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}" + (f":{port}" if port else "")


def request_secrets(url: str, headers: Mapping[str, str]) -> list[str]:
    """The credentials a request carries whoever configured them: the credential headers'
    values (and the secrets inside them) and the URL's user-info (sent as HTTP Basic)."""
    return [*header_credentials(headers), *url_credentials(url)]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110),
    read against ``now``. None when absent or unreadable; never negative."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # not NaN
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def json_safe(value: Any) -> Any:
    """``value`` as JSON can carry it (pure): dict keys as strings, tuples as lists, anything
    else not a JSON scalar as its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


def excerpt(text: str, secrets: Iterable[str] = ()) -> str:
    """A server's body as one short line, secrets masked."""
    line = one_line(scrub(text, secrets))
    if len(line) > ERROR_EXCERPT_CHARS:
        line = line[: ERROR_EXCERPT_CHARS - 1].rstrip() + "…"
    return line


def body_reason(text: str) -> str:
    """The readable part of an error body: JSON ``message``/``error``/``errors`` when there,
    else the text itself."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    parts: list[str] = []
    for key in ("message", "error", "error_description", "status"):
        value = data.get(key)
        if isinstance(value, str) and value and value not in parts and key != "status":
            parts.append(value)
    errors = data.get("errors")
    if isinstance(errors, list):
        parts += [one_line(e) for e in errors if isinstance(e, str | int | float)]
    elif isinstance(errors, dict):
        parts += [f"{k}: {one_line(v)}" for k, v in sorted(errors.items())]
    return "; ".join(parts) if parts else text


def classify_reply(
    status: int,
    text: str,
    headers: Mapping[str, str],
    *,
    service: str,
    now: datetime,
    hints: Mapping[int, str] | None = None,
    default_hint: str = "check the notifier's options",
    secrets: Sequence[str] = (),
) -> RetryableError | PermanentError | None:
    """None for 2xx; else the error for this answer (pure).

    ``service`` names the destination in messages ("PagerDuty at https://events.pagerduty.com");
    ``hints`` gives, per status, what the user should fix; ``default_hint`` covers the rest.
    """
    if 200 <= status < 300:
        return None
    reason = excerpt(body_reason(text), secrets) if text.strip() else ""
    said = f"{service} answered {status}" + (f" ({reason})" if reason else "")
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        wait = f" in {retry_after:g}s as it asked" if retry_after is not None else ""
        return RetryableError(f"{said} — will retry{wait}", retry_after=retry_after)
    if 300 <= status < 400:
        return PermanentError(
            f"{said}, a redirect, which is not followed for a POST — use the final address "
            "(https, the right region) in the notifier's options"
        )
    hint = (hints or {}).get(status, default_hint)
    return PermanentError(f"{said} — {hint}")


# ---------------------------------------------------------------- I/O


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s chain (itself, then its causes and
    contexts), or None."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def classify_exception(
    exc: BaseException, *, service: str, timeout: float, secrets: Sequence[str] = ()
) -> RetryableError | PermanentError:
    """The error for a request that got no answer (pure)."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return RetryableError(f"{service} did not answer within {timeout:g}s — will retry")
    if isinstance(exc, aiohttp.InvalidURL):
        return PermanentError(
            f"the address of {service} is not a usable URL — correct the notifier's url/base_url"
        )
    cert = find_cause(exc, ssl.SSLCertVerificationError)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or cert is not None:
        why = getattr(cert, "verify_message", None) if cert is not None else None
        return PermanentError(
            f"could not verify the TLS certificate of {service}"
            + (f" ({excerpt(str(why), secrets)})" if why else "")
            + " — check the address is the service's own; behind a TLS-inspecting proxy, add "
            "its CA to the system's trust store"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = excerpt(str(exc.os_error.strerror or exc.os_error), secrets)
        return RetryableError(
            f"could not connect to {service} ({why}) — will retry; check the address and that "
            "this machine may reach it"
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return RetryableError(
            f"the request to {service} failed ({type(exc).__name__}) — will retry"
        )
    return RetryableError(f"the request to {service} failed ({type(exc).__name__}) — will retry")


class JsonPoster:
    """POSTs JSON for one notifier over its own keep-alive session (created on first use).

    ``secrets`` (and each credential inside them, :func:`monitord.redact.credential_parts`), and
    every credential a request carries, are masked in every message; ``ssl_context`` (tests'
    CA) replaces the system's trust store when given.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: timedelta = HTTP_TIMEOUT,
        secrets: Sequence[str] = (),
        user_agent: str = "monitord",
    ) -> None:
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timeout = timeout.total_seconds()
        self._secrets = tuple(part for s in secrets if s for part in credential_parts(s))
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    async def post(
        self,
        url: str,
        body: Any = None,
        *,
        service: str,
        now: datetime,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        hints: Mapping[int, str] | None = None,
        default_hint: str = "check the notifier's options",
        method: str = "POST",
    ) -> HttpReply:
        """POST ``body`` as JSON (or the raw ``data`` bytes, sent as application/json) to
        ``url``; return the 2xx answer or raise the classified error. ``method`` may be PUT
        (same body) or GET (no body) for APIs that update or look up (the ticket notifiers)."""
        payload: bytes | None
        if method == "GET":
            payload = None
        else:
            payload = data if data is not None else json.dumps(body, ensure_ascii=False).encode()
        sent_headers = (
            {} if payload is None else {"Content-Type": "application/json; charset=utf-8"}
        )
        sent_headers.update(headers or {})
        secrets = (*self._secrets, *request_secrets(url, sent_headers))
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._get_session().request(
                    method, url, data=payload, headers=sent_headers, allow_redirects=False
                ) as resp,
            ):
                raw = await resp.content.read(RESPONSE_BODY_CAP)
                status = resp.status
                got = {k.lower(): v for k, v in resp.headers.items()}
        except Exception as exc:  # every failure without an answer is classified here
            raise classify_exception(
                exc, service=service, timeout=self._timeout, secrets=secrets
            ) from None
        text = raw.decode(resp.charset or "utf-8", errors="replace")
        error = classify_reply(
            status,
            text,
            got,
            service=service,
            now=now,
            hints=hints,
            default_hint=default_hint,
            secrets=secrets,
        )
        if error is not None:
            raise error
        return HttpReply(status, got, text)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
