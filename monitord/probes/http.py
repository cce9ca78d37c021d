"""http(s) probe: status, body checks, response time, redirects, over a fresh connection.

All probes share one aiohttp session (ProbeContext.session, made by runner.open_probe_context)
whose connector closes every connection after use, so each probe pays and measures DNS (when
not cached), TCP connect and the TLS handshake, as a visitor's first request would. A check
with its own ``source_address`` uses the context's session bound to that address
(ProbeContext.session_for), redirects included.
The runner owns the timeout; this module sets none of its own.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import ipaddress
import re
import socket
import ssl
import time
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from monitord.config.models import HttpCheck, Site
from monitord.limits import HTTP_BODY_CAP_BYTES, MAX_REDIRECTS
from monitord.probes.base import ProbeContext, ProbeResult, describe_oserror, format_ms
from monitord.probes.tls import describe_verify_error

READ_CHUNK_BYTES = 64 * 1024
"""Body bytes asked for per read: aiohttp's own buffer size, so a read never waits for more."""

MAX_SHOWN_TEXT = 60
"""Characters of a ``contains``/``regex`` string quoted in a message; longer ones are cut."""

REGEX_CACHE_SIZE = 4096
"""Compiled body regexes kept: one per check, and re's own cache (512) is too small at scale."""


@functools.lru_cache(maxsize=REGEX_CACHE_SIZE)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _quote(text: str) -> str:
    if len(text) > MAX_SHOWN_TEXT:
        text = text[: MAX_SHOWN_TEXT - 1] + "…"
    return repr(text)


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def public_url(url: URL) -> str:
    """The URL without credentials, query or fragment: safe for messages and logs."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


async def _on_request_start(
    _session: aiohttp.ClientSession, tctx: SimpleNamespace, _params: Any
) -> None:
    timings = tctx.trace_request_ctx
    if isinstance(timings, dict) and "start" not in timings:
        timings["start"] = time.perf_counter()


async def _on_dns_start(_session: aiohttp.ClientSession, tctx: SimpleNamespace, _p: Any) -> None:
    if isinstance(tctx.trace_request_ctx, dict):
        tctx.trace_request_ctx["_dns"] = time.perf_counter()


async def _on_dns_end(_session: aiohttp.ClientSession, tctx: SimpleNamespace, _p: Any) -> None:
    timings = tctx.trace_request_ctx
    if isinstance(timings, dict) and "_dns" in timings:
        timings["dns"] = timings.get("dns", 0.0) + time.perf_counter() - timings.pop("_dns")


async def _on_connect_start(
    _session: aiohttp.ClientSession, tctx: SimpleNamespace, _p: Any
) -> None:
    if isinstance(tctx.trace_request_ctx, dict):
        tctx.trace_request_ctx["_connect"] = time.perf_counter()


async def _on_connect_end(_session: aiohttp.ClientSession, tctx: SimpleNamespace, _p: Any) -> None:
    timings = tctx.trace_request_ctx
    if isinstance(timings, dict) and "_connect" in timings:
        elapsed = time.perf_counter() - timings.pop("_connect")
        timings["connect"] = timings.get("connect", 0.0) + elapsed
        timings["connections"] = timings.get("connections", 0) + 1


# ---------------------------------------------------------------- redirects to internal addresses

CLOUD_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)
"""Cloud metadata services outside the link-local ranges (AWS's IPv6 one, Alibaba's): they
hand out the machine's credentials, like 169.254.169.254."""

_GUARD = "_redirect_guard"
"""Key of the check's own host in a request's trace context: redirects are guarded."""


class RedirectRefused(Exception):
    """A redirect the check's ``follow_redirects`` does not allow; the message says why."""


def forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a redirect must not be followed to ``ip`` (when it comes from another host): what
    kind of address it is; None for any other address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in CLOUD_METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        extra = " (cloud metadata services listen at 169.254.169.254)" if ip.version == 4 else ""
        return f"a link-local address{extra}"
    if ip.is_unspecified:
        return "the unspecified address (this machine)"
    return None


def same_host(a: str, b: str) -> bool:
    """Whether two URL hosts name the same host as written: names compared case-insensitively
    and without a final dot, addresses by value (``::1`` is ``0:0::1``). Ports do not count."""
    a, b = a.strip("[]").rstrip(".").lower(), b.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


async def redirect_refusal(origin: str, target: URL) -> str | None:
    """Why the redirect to ``target`` must not be followed by a check of host ``origin``
    (``follow_redirects: true``), or None: a redirect that moves to another host may not go to
    a loopback, link-local, unspecified or cloud metadata address, written as such or a name
    resolving to one. A name that does not resolve is left to the request (it fails there)."""
    host = target.host
    if not host or same_host(origin, host):
        return None
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, target.port or 80, type=socket.SOCK_STREAM
            )
        except OSError:
            return None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        why = forbidden_address(ip)
        if why is not None:
            named = "" if str(ip) == host.strip("[]") else f" ({host} resolves to {ip})"
            return (
                f"redirect to {public_url(target)} not followed: it leaves {origin} for "
                f"{why}{named}; if this check should follow it, set follow_redirects: any-host"
            )
    return None


async def _on_request_redirect(
    _session: aiohttp.ClientSession, tctx: SimpleNamespace, params: Any
) -> None:
    ctx = tctx.trace_request_ctx
    origin = ctx.get(_GUARD) if isinstance(ctx, dict) else None
    if origin is None:
        return
    resp = params.response
    location = resp.headers.get("Location") or resp.headers.get("URI")
    if not location:
        return
    try:
        target = params.url.join(URL(location))
    except ValueError:
        return  # aiohttp reports the bad Location itself
    why = await redirect_refusal(origin, target)
    if why is not None:
        raise RedirectRefused(why)


def make_trace_config() -> aiohttp.TraceConfig:
    """Timings of DNS and connect (TCP + TLS, summed over redirect hops) per request."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_on_request_start)
    trace.on_dns_resolvehost_start.append(_on_dns_start)
    trace.on_dns_resolvehost_end.append(_on_dns_end)
    trace.on_connection_create_start.append(_on_connect_start)
    trace.on_connection_create_end.append(_on_connect_end)
    trace.on_request_redirect.append(_on_request_redirect)
    return trace


async def _read_capped(content: aiohttp.StreamReader, cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes; say whether more was left unread."""
    chunks: list[bytes] = []
    remaining = cap
    while remaining > 0:
        chunk = await content.read(min(remaining, READ_CHUNK_BYTES))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks), not content.at_eof()


def _decode(body: bytes, charset: str | None) -> str:
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    return body.decode(charset or "utf-8", errors="replace")


def evaluate_response(
    spec: HttpCheck, status: int, text: str, response_time: float, capped: bool
) -> tuple[bool, str]:
    """The verdict on a response (pure): ``(ok, message)``."""
    expect = spec.expect
    if status not in expect.statuses:
        wanted = " or ".join(str(s) for s in expect.statuses)
        return False, f"{_status_text(status)} (expected {wanted})"
    problems: list[str] = []
    read_note = f" (in the first {HTTP_BODY_CAP_BYTES // 1024} KiB read)" if capped else ""
    if expect.contains is not None and expect.contains not in text:
        problems.append(f"body does not contain {_quote(expect.contains)}{read_note}")
    if expect.not_contains is not None and expect.not_contains in text:
        problems.append(f"body contains {_quote(expect.not_contains)}")
    if expect.regex is not None and _regex(expect.regex).search(text) is None:
        problems.append(f"body does not match regex {_quote(expect.regex)}{read_note}")
    if expect.max_response_time is not None:
        limit = expect.max_response_time.total_seconds()
        if response_time > limit:
            problems.append(f"response took {response_time:.2f} s, limit {limit:g} s")
    if problems:
        return False, "; ".join(problems)
    return True, f"HTTP {status} in {format_ms(response_time)}"


def _describe_client_error(exc: aiohttp.ClientError, url: URL, source: str | None) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        err = exc.certificate_error
        if isinstance(err, ssl.SSLCertVerificationError):
            return describe_verify_error(err, host=exc.host)
        return f"certificate not trusted: {err}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = getattr(exc.os_error, "reason", None) or str(exc.os_error)
        return f"TLS handshake failed: {str(reason).lower().replace('_', ' ')}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return describe_oserror(exc.os_error, source)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects (last to {public_url(exc.request_info.url)})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection without a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "response body was cut off or malformed"
    if isinstance(exc, aiohttp.InvalidUrlClientError):
        return f"invalid URL {public_url(URL(str(exc.url)))}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"invalid HTTP response: {exc.message}"
    if isinstance(exc, aiohttp.ClientOSError):
        return describe_oserror(exc, source)
    return f"request to {public_url(url)} failed: {type(exc).__name__}"


async def probe(site: Site, spec: HttpCheck, ctx: ProbeContext) -> ProbeResult:
    source = ctx.source_of(spec)
    session = ctx.session_for(source)
    url = URL(spec.url or site.url)
    ssl_arg = ctx.verifying_context(spec.ca_file) if spec.verify_tls else False
    timings: dict[str, Any] = {}
    if spec.follow_redirects is True and url.host:
        timings[_GUARD] = url.host
    start = time.perf_counter()
    try:
        async with session.request(
            spec.method,
            url,
            headers=spec.headers or None,
            data=spec.body.encode() if spec.body is not None else None,
            allow_redirects=spec.follow_redirects is not False,
            max_redirects=MAX_REDIRECTS + 1,  # aiohttp fails AT its limit; we follow MAX_REDIRECTS
            ssl=ssl_arg,
            trace_request_ctx=timings,
        ) as resp:
            headers_at = time.perf_counter()
            if spec.method == "HEAD":
                body, capped = b"", False
            else:
                body, capped = await _read_capped(resp.content, HTTP_BODY_CAP_BYTES)
            end = time.perf_counter()
            status, charset = resp.status, resp.charset
            final_url, redirects = resp.url, len(resp.history)
    except aiohttp.ClientError as exc:
        return ProbeResult(
            ok=False,
            message=_describe_client_error(exc, url, source),
            details={"url": public_url(url), "timings": _timings(timings, start)},
        )
    except RedirectRefused as exc:
        return ProbeResult(
            ok=False,
            message=str(exc),
            details={
                "url": public_url(url),
                "redirect_refused": True,
                "connections": timings.get("connections", 0),
                "timings": _timings(timings, start),
            },
        )
    response_time = end - start
    ok, message = evaluate_response(
        spec, status, _decode(body, charset), response_time, capped=capped
    )
    timings["headers"] = headers_at
    return ProbeResult(
        ok=ok,
        message=message,
        details={
            "status": status,
            "response_time": response_time,
            "url": public_url(url),
            "final_url": public_url(final_url),
            "redirects": redirects,
            "body_bytes": len(body),
            "body_capped": capped,
            "timings": _timings(timings, start, end),
        },
    )


def _timings(raw: dict[str, Any], start: float, end: float | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("dns", "connect"):
        if key in raw:
            out[key] = raw[key]
    if "headers" in raw:
        out["headers"] = raw["headers"] - start
    if end is not None:
        out["total"] = end - start
    return out
