"""Probes bind to a source address: the context's (``node.source_address``) or the check's own.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a probe can come from 127.0.0.2
or 127.0.0.3 without any setup; the servers listen on 127.0.0.1 and see which one it came
from. An address that is not on this machine (192.0.2.1, TEST-NET-1) fails at bind, before
any packet is sent: an inconclusive *monitor error*, not a failure of the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from aiohttp import web

from monitord.probes import runner
from monitord.probes.base import ProbeContext, bind_fault
from monitord.probes.runner import open_probe_context, run_check
from monitord.results import ProbeResult
from tests.helpers.sites import serve_app
from tests.helpers.tls import TestCA

from .conftest import make_site

NOT_HERE = "192.0.2.1"
"""TEST-NET-1: on no interface of a test machine, so binding to it fails."""

WAIT = 5.0
"""Seconds a test waits for the server to see a connection (a deadline, not a sleep)."""


def _app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        if request.remote == "127.0.0.3":
            return web.Response(status=503, text="not from there")
        return web.Response(text=f"hello {request.remote}")

    app = web.Application()
    app.router.add_get("/", page)
    return app


@contextlib.asynccontextmanager
async def peer_recorder(
    host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, asyncio.Queue[str]]]:
    """A server that puts each connection's peer address in a queue when it accepts it (before
    any TLS handshake, which it then does when given ``ssl_context``); yields (port, queue)."""
    peers: asyncio.Queue[str] = asyncio.Queue()
    handlers: set[asyncio.Task[Any]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.put_nowait(writer.get_extra_info("peername")[0])
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            if ssl_context is not None:
                await writer.start_tls(ssl_context)
            await reader.read()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()
            handlers.discard(task)

    server = await asyncio.start_server(on_connect, host, 0)
    try:
        yield server.sockets[0].getsockname()[1], peers
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def _next_peer(peers: asyncio.Queue[str]) -> str:
    async with asyncio.timeout(WAIT):
        return await peers.get()


async def _run(ctx: ProbeContext, url: str, check: dict[str, Any]) -> ProbeResult:
    site = make_site(url, [{**check, "timeout": "5s"}])
    return await run_check(site, site.checks[0], ctx)


# ---------------------------------------------------------------- http


async def test_http_probes_come_from_the_context_source_address(
    client_ssl_context: ssl.SSLContext,
) -> None:
    async with serve_app(_app()) as srv:
        async with open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx:
            allowed = await _run(ctx, srv.url, {"type": "http"})
        async with open_probe_context(client_ssl_context, source_address="127.0.0.3") as ctx:
            refused = await _run(ctx, srv.url, {"type": "http"})
    assert allowed.ok, allowed.message
    assert (refused.ok, refused.message) == (False, "HTTP 503 Service Unavailable (expected 200)")


async def test_a_check_source_address_beats_the_context_one(
    client_ssl_context: ssl.SSLContext,
) -> None:
    async with serve_app(_app()) as srv:
        async with open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx:
            own = await _run(ctx, srv.url, {"type": "http", "source_address": "127.0.0.3"})
            again = await _run(ctx, srv.url, {"type": "http", "source_address": "127.0.0.3"})
            node = await _run(ctx, srv.url, {"type": "http"})
            bound = dict(ctx._sessions)
        async with open_probe_context(client_ssl_context, source_address="127.0.0.3") as ctx:
            other = await _run(ctx, srv.url, {"type": "http", "source_address": "127.0.0.2"})
    assert (own.ok, own.message) == (False, "HTTP 503 Service Unavailable (expected 200)")
    assert (again.ok, node.ok, other.ok) == (False, True, True)
    # One session per distinct address, not one per probe; closed with the context.
    assert list(bound) == ["127.0.0.3"]
    assert bound["127.0.0.3"].closed


async def test_a_check_source_address_binds_without_a_context_one(
    ctx: ProbeContext,
) -> None:
    async with serve_app(_app()) as srv:
        bound = await _run(ctx, srv.url, {"type": "http", "source_address": "127.0.0.3"})
        plain = await _run(ctx, srv.url, {"type": "http"})
    assert (bound.ok, plain.ok) == (False, True)


# ---------------------------------------------------------------- tcp and tls


async def test_tcp_probes_come_from_the_source_address(client_ssl_context: ssl.SSLContext) -> None:
    async with (
        peer_recorder() as (port, peers),
        open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx,
    ):
        check = {"type": "tcp", "port": port}
        first = await _run(ctx, "https://127.0.0.1/", check)
        assert first.ok, first.message
        assert await _next_peer(peers) == "127.0.0.2"
        own = await _run(ctx, "https://127.0.0.1/", {**check, "source_address": "127.0.0.3"})
        assert own.ok, own.message
        assert await _next_peer(peers) == "127.0.0.3"


async def test_tls_probes_come_from_the_source_address(
    client_ssl_context: ssl.SSLContext, test_ca: TestCA
) -> None:
    async with (
        peer_recorder(ssl_context=test_ca.server_context()) as (port, peers),
        open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx,
    ):
        check = {"type": "tls", "port": port}
        first = await _run(ctx, "https://127.0.0.1/", check)
        assert first.ok, first.message
        assert await _next_peer(peers) == "127.0.0.2"
        own = await _run(ctx, "https://127.0.0.1/", {**check, "source_address": "127.0.0.3"})
        assert own.ok, own.message
        assert await _next_peer(peers) == "127.0.0.3"


async def test_tls_second_look_at_a_bad_certificate_comes_from_the_source_address(
    client_ssl_context: ssl.SSLContext, test_ca: TestCA
) -> None:
    async with (
        peer_recorder(ssl_context=test_ca.server_context("other.example")) as (port, peers),
        open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx,
    ):
        result = await _run(ctx, "https://127.0.0.1/", {"type": "tls", "port": port})
        # The verified handshake fails; the unverified one reads the certificate.
        assert result.message == "hostname mismatch: certificate is for other.example"
        assert [await _next_peer(peers), await _next_peer(peers)] == ["127.0.0.2"] * 2


# ---------------------------------------------------------------- a source address not here


BIND_MESSAGE = (
    f"monitor error: cannot bind to source address {NOT_HERE}: cannot assign requested address"
    " — it must be an address of this host (ip addr); the site was not checked"
)


@pytest.mark.parametrize("kind", ["http", "tcp", "tls"])
@pytest.mark.parametrize("where", ["context", "check"])
async def test_an_address_not_on_this_host_is_a_monitor_error(
    client_ssl_context: ssl.SSLContext,
    test_ca: TestCA,
    kind: str,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "monitor_errors", runner.MonitorErrors())
    check: dict[str, Any] = {"type": kind}
    if where == "check":
        check["source_address"] = NOT_HERE
    context_source = NOT_HERE if where == "context" else None
    server_tls = test_ca.server_context() if kind == "tls" else None
    async with (
        peer_recorder(ssl_context=server_tls) as (port, peers),
        open_probe_context(client_ssl_context, source_address=context_source) as ctx,
    ):
        if kind == "http":
            url = f"http://127.0.0.1:{port}/"
        else:
            url, check["port"] = "https://127.0.0.1/", port
        with structlog.testing.capture_logs() as logs:
            result = await _run(ctx, url, check)
        assert peers.empty()  # bind failed before any connection was made
    assert (result.ok, result.inconclusive) == (False, True), result
    assert result.message == BIND_MESSAGE
    assert result.details["error"] == "BIND"
    assert runner.monitor_errors.total == 1
    [event] = [e for e in logs if e["event"] == "probe.monitor_error"]
    assert event["error"].startswith(f"cannot bind to source address {NOT_HERE}: ")
    assert "ip addr" in event["hint"]


async def test_a_source_of_the_other_family_than_the_site_is_a_monitor_error(
    client_ssl_context: ssl.SSLContext,
) -> None:
    async with (
        peer_recorder(host="::1") as (port, peers),
        open_probe_context(client_ssl_context, source_address="127.0.0.2") as ctx,
    ):
        result = await _run(ctx, "https://[::1]/", {"type": "tcp", "port": port})
        assert peers.empty()
    assert result.inconclusive, result
    assert result.message == (
        "monitor error: cannot bind to source address 127.0.0.2: the site has no IPv4 address,"
        " only IPv6 — give this check an IPv6 source address, or none; the site was not checked"
    )


# ---------------------------------------------------------------- which errors are the monitor's


LADDR = "('192.0.2.1', 0)"


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (
            OSError(
                errno.EADDRNOTAVAIL,
                f"error while attempting to bind on address {LADDR}: cannot assign requested "
                "address",
            ),
            True,
        ),
        (
            OSError(
                "Multiple exceptions: error while attempting to bind on address "
                f"{LADDR}: cannot assign requested address, no matching local address with "
                "family=<AddressFamily.AF_INET6: 10> found"
            ),
            True,
        ),
        (
            OSError(
                errno.EADDRNOTAVAIL,
                f"Multiple exceptions: error while attempting to bind on address {LADDR}: "
                f"cannot assign requested address, error while attempting to bind on address "
                f"{LADDR}: cannot assign requested address",
            ),
            True,
        ),
        (OSError("no matching local address with family=<AddressFamily.AF_INET6: 10> found"), True),
        # Reached the site on one family and was refused: the site's failure, not a bind.
        (
            OSError(
                "Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 80), no "
                "matching local address with family=<AddressFamily.AF_INET6: 10> found"
            ),
            False,
        ),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), False),
    ],
)
def test_bind_fault_only_when_every_attempt_failed_to_bind(exc: OSError, fault: bool) -> None:
    assert (bind_fault(exc, "192.0.2.1") is not None) == fault
