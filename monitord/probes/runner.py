"""Runs one check: picks its probe, enforces its timeout, times it, contains its failures.

``run_check`` never raises for a site's problem nor for a probe's bug: both become a failed
:class:`ProbeResult`. A probe the monitor could not run (no open file left: EMFILE/ENFILE; a
source address it cannot bind) becomes an *inconclusive* result instead, logged loudly
(``probe.monitor_error``): it says nothing about the site and never counts toward its failure
threshold. It does let
``asyncio.CancelledError`` through, so stopping the daemon (SIGTERM cancels in-flight probes)
is immediate and clean.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ssl
import time
import traceback
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import structlog
from yarl import URL

from monitord.config.models import CheckSpec, HttpCheck, Site
from monitord.errors import ProbeSetupError
from monitord.probes import dns, heartbeat, http, tcp, tls
from monitord.probes.base import (
    MonitorFault,
    Probe,
    ProbeContext,
    ProbeResult,
    fd_exhausted,
    out_of_files,
)
from monitord.redact import scrub

log = structlog.get_logger(__name__)

PROBES: Mapping[str, Probe] = {
    "http": http.probe,
    "tls": tls.probe,
    "tcp": tcp.probe,
    "dns": dns.probe,
    "heartbeat": heartbeat.probe,  # pushed: evaluated by the daemon, see the module
}
"""Check type name -> probe function."""

DNS_CACHE_SECONDS = 10
"""How long the HTTP session reuses a DNS answer: at 10k probes a minute it spares the
resolver most lookups, yet a site that moved to a new address is followed within seconds."""

MAX_ERROR_TEXT = 200
"""Characters of an unexpected exception's text kept in a result: one line, not a dump."""

MONITOR_ERROR_LOG_EVERY = 10.0
"""Seconds between two ``probe.monitor_error`` log lines of one kind (the ones in between are
counted): when the open files run out, or the source address is gone, every probe fails at
once, and one line per probe would flood."""


def format_seconds(seconds: float) -> str:
    """``10s``, ``0.25s``, ``1m 30s`` as a timeout is written in the configuration."""
    if seconds >= 60 and seconds == int(seconds):
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{seconds:g}s"


def _secrets_of(site: Site, spec: CheckSpec) -> list[str]:
    """Strings that must never reach a message: header values, request body, URL passwords."""
    secrets: list[str] = []
    urls = [site.url]
    if isinstance(spec, HttpCheck):
        secrets.extend(v for v in spec.headers.values() if len(v) >= 4)
        if spec.body:
            secrets.append(spec.body)
        if spec.url:
            urls.append(spec.url)
    for raw in urls:
        password = URL(raw).password if "@" in raw else None
        if password:
            secrets.append(password)
    return secrets


def _crash_result(site: Site, spec: CheckSpec, exc: Exception) -> ProbeResult:
    text = " ".join(str(exc).split())[:MAX_ERROR_TEXT]
    message = f"probe error: {type(exc).__name__}" + (f": {text}" if text else "")
    message = scrub(message, _secrets_of(site, spec))
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    # Type and location only: no traceback locals (they may hold secrets).
    log.error("probe crashed", site=site.id, check=spec.id, error=type(exc).__name__, where=where)
    return ProbeResult(ok=False, message=message, details={"error": type(exc).__name__})


class MonitorErrors:
    """Counts probes the monitor could not run, and logs each kind at most every few seconds."""

    def __init__(self) -> None:
        self.total = 0
        self._unlogged: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def result(self, site: Site, spec: CheckSpec, fault: MonitorFault) -> ProbeResult:
        self.total += 1
        code = fault.code
        self._unlogged[code] = self._unlogged.get(code, 0) + 1
        now = time.monotonic()
        if now - self._last.get(code, -MONITOR_ERROR_LOG_EVERY) >= MONITOR_ERROR_LOG_EVERY:
            log.error(
                "probe.monitor_error",
                site=site.id,
                check=spec.id,
                error=f"{fault.summary} ({code})",
                probes_not_run=self._unlogged[code],
                probes_not_run_total=self.total,
                hint=fault.hint,
            )
            self._last[code] = now
            self._unlogged[code] = 0
        return ProbeResult(
            ok=False,
            inconclusive=True,
            message=f"monitor error: {fault.summary}; the site was not checked",
            details={"error": code, "monitor_error": str(fault)[:MAX_ERROR_TEXT]},
        )


monitor_errors = MonitorErrors()
"""The process's count of probes it could not run (for logs, metrics and tests)."""


async def run_check(site: Site, spec: CheckSpec, ctx: ProbeContext) -> ProbeResult:
    """Run one check of one site within its timeout; always returns a result (or is cancelled)."""
    probe = PROBES.get(spec.type)
    if probe is None:
        return ProbeResult(
            ok=False,
            message=f"no probe for check type {spec.type!r}; known types: {', '.join(PROBES)}",
        )
    timeout = spec.timeout.total_seconds()
    start = time.perf_counter()
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            result = await probe(site, spec, ctx)
    except TimeoutError as exc:
        if deadline.expired():
            result = ProbeResult(
                ok=False,
                message=f"timed out after {format_seconds(timeout)}",
                details={"timeout": timeout},
            )
        else:
            result = _crash_result(site, spec, exc)
    except ProbeSetupError as exc:
        result = ProbeResult(ok=False, message=str(exc), details={"error": "ProbeSetupError"})
    except MonitorFault as exc:
        result = monitor_errors.result(site, spec, exc)
    except Exception as exc:
        if fd_exhausted(exc):
            result = monitor_errors.result(site, spec, out_of_files(exc))
        else:
            result = _crash_result(site, spec, exc)
    return dataclasses.replace(result, duration=time.perf_counter() - start)


def make_session(user_agent: str, source_address: str | None = None) -> aiohttp.ClientSession:
    """The one HTTP session all http probes share: a fresh connection per request, no cookies
    kept between probes, no timeouts of its own (the runner's deadline is the only one).
    With ``source_address`` every connection is bound to it (port: any free one)."""
    connector = aiohttp.TCPConnector(
        force_close=True,
        limit=0,
        ttl_dns_cache=DNS_CACHE_SECONDS,
        local_addr=(source_address, 0) if source_address is not None else None,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[http.make_trace_config()],
        auto_decompress=True,
    )


@asynccontextmanager
async def open_probe_context(
    ssl_context: ssl.SSLContext | None = None,
    *,
    source_address: str | None = None,
    **options: Any,
) -> AsyncIterator[ProbeContext]:
    """A ProbeContext with the shared HTTP session, closed on exit.

    ``ssl_context`` is the verifying trust store (None: the system's); ``source_address``
    the local address every probe binds to (``node.source_address``; None: the system
    chooses); ``options`` are further ProbeContext fields (``user_agent``, ``clock``).
    The sessions made for checks with their own ``source_address`` close with it too.
    """
    base = ProbeContext(ssl_context=ssl_context, source_address=source_address, **options)
    session = make_session(base.user_agent, source_address)
    ctx = dataclasses.replace(
        base,
        session=session,
        _session_factory=functools.partial(make_session, base.user_agent),
    )
    try:
        yield ctx
    finally:
        await session.close()
        for bound in ctx._sessions.values():
            await bound.close()
