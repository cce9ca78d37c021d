"""Polling drupal.org's feeds: conditional GET with a timeout and a byte cap, and when to poll.

:class:`FeedFetcher` never raises for a bad server: down, slow, huge, wrong status or wrong
content all come back as ``FetchResult(status="error", error=...)`` with a message that says
what happened, so the poller logs it and tries again at the next interval, keeping everything
already known. ETag / Last-Modified are persisted per URL through the store's
``get_meta``/``set_meta`` and are only updated after a good body, so a broken response can never
turn into a "not modified" that hides the next real one.

:func:`poll_interval` is pure: fast during Wednesday 16:00–22:00 UTC and inside any window a PSA
announced, normal otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp

FEED_TIMEOUT = timedelta(seconds=30)
"""Whole request, connect to last byte. drupal.org answers in well under a second; a feed
that takes longer is treated as down and polled again at the next interval."""

FEED_MAX_BYTES = 5 * 1024 * 1024
"""Bytes of a (decompressed) feed read at most. drupal.org's largest feed is ~0.3 MB for 50
items; 5 MiB leaves room for growth while a runaway or hostile server (or a gzip bomb) cannot
exhaust memory."""

FEED_READ_CHUNK = 64 * 1024
"""Read size while streaming a body, so the cap is enforced without buffering past it."""

WEDNESDAY = 2
RELEASE_WINDOW_START = time(16, 0)
RELEASE_WINDOW_END = time(22, 0)
"""drupal.org's security release window: Wednesdays 16:00–22:00 UTC (core from ~16:00)."""

META_PREFIX = "feed-cache:"
"""Store meta key prefix; the value is JSON ``{"etag": ..., "last_modified": ...}``."""

FetchStatus = Literal["new", "not-modified", "error"]
GetMeta = Callable[[str], Awaitable[str | None]]
SetMeta = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: FetchStatus
    body: bytes | None = None
    """The (decompressed) body when status is "new"."""
    error: str | None = None
    """What went wrong, for a log line, when status is "error"."""


def display_url(url: str) -> str:
    """The URL without user-info or query, fit for logs and error messages (no secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def content_problem(body: bytes) -> str | None:
    """None when the body looks like a feed (XML that is not HTML, or JSON); else why not."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "the body is empty"
    first = head[:1]
    if first == b"<":
        start = head[:512].lower()
        if start.startswith(b"<!doctype html") or start.startswith(b"<html"):
            return "it is an HTML page, not a feed (a login, error or maintenance page?)"
        return None
    if first in (b"[", b"{"):
        try:
            json.loads(body)
        except RecursionError:
            return "it starts like JSON but nests deeper than any feed (a hostile document?)"
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return f"it starts like JSON but is not valid JSON ({exc})"
        return None
    return "it is neither XML nor JSON"


class FeedFetcher:
    """Fetches feeds with conditional GET. One instance per daemon; safe to share."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        get_meta: GetMeta,
        set_meta: SetMeta,
        *,
        timeout: timedelta = FEED_TIMEOUT,
        max_bytes: int = FEED_MAX_BYTES,
    ) -> None:
        self._session = session
        self._get_meta = get_meta
        self._set_meta = set_meta
        self._timeout = timeout
        self._max_bytes = max_bytes

    async def _validators(self, url: str) -> dict[str, str]:
        raw = await self._get_meta(META_PREFIX + url)
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v}

    async def fetch(self, url: str) -> FetchResult:
        """GET ``url`` conditionally. "new" with the body, "not-modified", or "error"."""
        shown = display_url(url)
        cached = await self._validators(url)
        headers = {"Accept": "application/rss+xml, application/xml, application/json;q=0.9"}
        if "etag" in cached:
            headers["If-None-Match"] = cached["etag"]
        if "last_modified" in cached:
            headers["If-Modified-Since"] = cached["last_modified"]
        seconds = self._timeout.total_seconds()
        try:
            async with asyncio.timeout(seconds):
                async with self._session.get(
                    url, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds)
                ) as resp:
                    if resp.status == 304:
                        return FetchResult("not-modified")
                    if not 200 <= resp.status < 300:
                        reason = f" {resp.reason}" if resp.reason else ""
                        return FetchResult(
                            "error",
                            error=f"{shown} answered HTTP {resp.status}{reason}; "
                            "it will be polled again at the next interval",
                        )
                    length = resp.content_length
                    if length is not None and length > self._max_bytes:
                        return self._too_big(shown)
                    chunks: list[bytes] = []
                    size = 0
                    while chunk := await resp.content.read(FEED_READ_CHUNK):
                        size += len(chunk)
                        if size > self._max_bytes:
                            return self._too_big(shown)
                        chunks.append(chunk)
                    new_validators = {
                        "etag": resp.headers.get("ETag", ""),
                        "last_modified": resp.headers.get("Last-Modified", ""),
                    }
        except TimeoutError:
            return FetchResult(
                "error",
                error=f"{shown} did not answer within {seconds:g}s; "
                "it will be polled again at the next interval",
            )
        except aiohttp.ClientError as exc:
            return FetchResult(
                "error",
                error=f"{shown} could not be fetched ({type(exc).__name__}: {_reason(exc)}); "
                "check the URL and the network; it will be polled again",
            )
        except OSError as exc:
            return FetchResult(
                "error", error=f"{shown} could not be fetched ({exc.strerror or exc})"
            )
        body = b"".join(chunks)
        problem = content_problem(body)
        if problem is not None:
            return FetchResult(
                "error", error=f"{shown} did not serve a feed: {problem}; check the URL"
            )
        kept = {k: v for k, v in new_validators.items() if v}
        if kept != cached:
            await self._set_meta(META_PREFIX + url, json.dumps(kept, sort_keys=True))
        return FetchResult("new", body=body)

    def _too_big(self, shown: str) -> FetchResult:
        return FetchResult(
            "error",
            error=f"{shown} sent more than {self._max_bytes} bytes (FEED_MAX_BYTES); "
            "reading stopped — check the URL really is a security feed",
        )


def _reason(exc: aiohttp.ClientError) -> str:
    """A short reason without the URL's query or credentials."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    return str(exc).split("\n", 1)[0][:200] or type(exc).__name__


def in_release_window(now: datetime) -> bool:
    """Wednesday 16:00–22:00 UTC (start inclusive, end exclusive)."""
    utc = now.astimezone(UTC)
    return utc.weekday() == WEDNESDAY and RELEASE_WINDOW_START <= utc.time() < RELEASE_WINDOW_END


def _next_release_window_start(now: datetime) -> datetime:
    """The start of the next Wednesday release window strictly after ``now`` (UTC)."""
    utc = now.astimezone(UTC)
    day = utc.date() + timedelta(days=(WEDNESDAY - utc.weekday()) % 7)
    start = datetime.combine(day, RELEASE_WINDOW_START, tzinfo=UTC)
    if start <= utc:
        start += timedelta(days=7)
    return start


def poll_interval(
    now: datetime,
    psa_windows: Sequence[tuple[datetime, datetime]],
    normal: timedelta,
    fast: timedelta,
) -> timedelta:
    """How long to wait before the next poll. Pure; ``now`` and windows must be aware.

    ``fast`` during the Wednesday release window (16:00–22:00 UTC) and inside any
    ``[start, end)`` a PSA announced. Otherwise ``normal`` — shortened so the first poll of
    a window that opens sooner falls no later than ``fast`` after it opens (a 15-minute wait
    begun at 15:55 would otherwise miss the first 10 minutes of the Wednesday window).
    """
    if now.tzinfo is None:
        raise ValueError("poll_interval needs an aware datetime (UTC)")
    quick = min(fast, normal)
    if in_release_window(now) or any(start <= now < end for start, end in psa_windows):
        return quick
    starts = [_next_release_window_start(now)]
    starts.extend(start for start, _end in psa_windows if start > now)
    until_window = min(starts) - now
    return max(quick, min(normal, until_window))
