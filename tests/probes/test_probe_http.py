"""http probe against real aiohttp servers on 127.0.0.1 (plain and HTTPS with a trustme CA)."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitord.limits import HTTP_BODY_CAP_BYTES, MAX_REDIRECTS
from monitord.probes import http
from monitord.probes.base import ProbeContext
from monitord.probes.runner import run_check
from tests.helpers.sites import (
    LoopbackSite,
    closed_port,
    counting_http_server,
    serve_app,
)
from tests.helpers.tls import TestCA

from .conftest import make_site

SLOW_SECONDS = 0.3
BIG = HTTP_BODY_CAP_BYTES * 2
MARK_END = "END-MARKER-BEYOND-THE-CAP"


def _app() -> web.Application:
    async def ok(_r: web.Request) -> web.Response:
        return web.Response(text="Welcome to ACME Charity", content_type="text/html")

    async def status(r: web.Request) -> web.Response:
        return web.Response(status=int(r.match_info["n"]), text="Error page")

    async def slow(_r: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_SECONDS)  # the server's behaviour under test, not a wait
        return web.Response(text="slow but fine")

    async def redirect(r: web.Request) -> web.Response:
        n = int(r.match_info["n"])
        raise web.HTTPFound("/ok" if n <= 1 else f"/redirect/{n - 1}")

    async def loop(_r: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/loop")

    async def big(_r: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        await resp.prepare(_r)
        await resp.write(b"START " + b"a" * (BIG - 6 - len(MARK_END)))
        await resp.write(MARK_END.encode())
        await resp.write_eof()
        return resp

    async def echo(r: web.Request) -> web.Response:
        body = await r.text()
        token = r.headers.get("X-Token", "-")
        return web.Response(
            text=f"{r.method} body={body} token={token} ua={r.headers['User-Agent']}"
        )

    async def latin1(_r: web.Request) -> web.Response:
        return web.Response(
            body="Café ACME".encode("latin-1"), content_type="text/html", charset="iso-8859-1"
        )

    async def gzipped(_r: web.Request) -> web.Response:
        resp = web.Response(text="compressed ACME " * 100)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/status/{n}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/big", big)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/latin1", latin1)
    app.router.add_get("/gzip", gzipped)
    return app


@pytest.fixture
async def server() -> AsyncIterator[LoopbackSite]:
    async with serve_app(_app()) as site:
        yield site


# (path, check fields, ok, message: exact string or re:pattern, details subset)
CASES: list[tuple[str, dict[str, Any], bool, str, dict[str, Any]]] = [
    ("/ok", {}, True, r"re:HTTP 200 in \d+ ms", {"status": 200, "redirects": 0}),
    ("/status/503", {}, False, "HTTP 503 Service Unavailable (expected 200)", {"status": 503}),
    ("/status/404", {}, False, "HTTP 404 Not Found (expected 200)", {"status": 404}),
    ("/status/599", {}, False, "HTTP 599 (expected 200)", {"status": 599}),
    ("/status/503", {"expect": {"status": [200, 503]}}, True, r"re:HTTP 503 in", {}),
    (
        "/status/200",
        {"expect": {"status": [301, 302]}},
        False,
        "HTTP 200 OK (expected 301 or 302)",
        {},
    ),
    ("/ok", {"expect": {"contains": "ACME"}}, True, r"re:HTTP 200", {}),
    ("/ok", {"expect": {"contains": "Nope"}}, False, "body does not contain 'Nope'", {}),
    ("/ok", {"expect": {"not_contains": "Welcome"}}, False, "body contains 'Welcome'", {}),
    ("/ok", {"expect": {"not_contains": "Fatal error"}}, True, r"re:HTTP 200", {}),
    ("/ok", {"expect": {"regex": r"Welcome to \w+"}}, True, r"re:HTTP 200", {}),
    (
        "/ok",
        {"expect": {"regex": r"ACME \d+"}},
        False,
        r"body does not match regex 'ACME \\d+'",
        {},
    ),
    (
        "/ok",
        {"expect": {"contains": "Nope", "not_contains": "ACME"}},
        False,
        "body does not contain 'Nope'; body contains 'ACME'",
        {},
    ),
    (
        "/status/500",
        {"expect": {"contains": "Nope"}},
        False,
        "HTTP 500 Internal Server Error (expected 200)",
        {},
    ),
    (
        "/ok",
        {"expect": {"contains": "x" * 80}},
        False,
        "body does not contain '" + "x" * 59 + "…'",
        {},
    ),
    (
        "/slow",
        {"expect": {"max_response_time": "100ms"}},
        False,
        r"re:response took 0\.[3-9]\d s, limit 0\.1 s",
        {},
    ),
    ("/slow", {"expect": {"max_response_time": "5s"}}, True, r"re:HTTP 200 in \d+ ms", {}),
    ("/redirect/3", {}, True, r"re:HTTP 200", {"redirects": 3}),
    (f"/redirect/{MAX_REDIRECTS}", {}, True, r"re:HTTP 200", {"redirects": MAX_REDIRECTS}),
    (
        f"/redirect/{MAX_REDIRECTS + 1}",
        {},
        False,
        rf"re:more than {MAX_REDIRECTS} redirects \(last to http://127\.0\.0\.1:\d+/redirect/\d+\)",
        {},
    ),
    ("/loop", {}, False, rf"re:more than {MAX_REDIRECTS} redirects", {}),
    (
        "/redirect/3",
        {"follow_redirects": False},
        False,
        "HTTP 302 Found (expected 200)",
        {"redirects": 0},
    ),
    (
        "/redirect/3",
        {"follow_redirects": False, "expect": {"status": 302}},
        True,
        r"re:HTTP 302",
        {},
    ),
    (
        "/big",
        {"expect": {"contains": "START"}},
        True,
        r"re:HTTP 200",
        {"body_bytes": HTTP_BODY_CAP_BYTES, "body_capped": True},
    ),
    (
        "/big",
        {"expect": {"contains": MARK_END}},
        False,
        f"body does not contain {MARK_END!r} (in the first 1024 KiB read)",
        {"body_capped": True},
    ),
    ("/ok", {"method": "HEAD", "expect": {"status": 200}}, True, r"re:HTTP 200", {"body_bytes": 0}),
    (
        "/echo",
        {
            "method": "POST",
            "body": "hello",
            "headers": {"X-Token": "abc"},
            "expect": {"contains": "POST body=hello token=abc"},
        },
        True,
        r"re:HTTP 200",
        {},
    ),
    ("/echo", {"method": "PUT", "expect": {"contains": "ua=monitord/"}}, True, r"re:HTTP 200", {}),
    (
        "/echo",
        {"headers": {"User-Agent": "custom/1"}, "expect": {"contains": "ua=custom/1"}},
        True,
        r"re:HTTP 200",
        {},
    ),
    ("/latin1", {"expect": {"contains": "Café"}}, True, r"re:HTTP 200", {}),
    ("/gzip", {"expect": {"contains": "compressed ACME"}}, True, r"re:HTTP 200", {}),
]


def _assert_message(message: str, expected: str) -> None:
    if expected.startswith("re:"):
        assert re.fullmatch(expected[3:] + r".*", message), message
    else:
        assert message == expected


@pytest.mark.parametrize(("path", "fields", "ok", "message", "details"), CASES)
async def test_http_cases(
    server: LoopbackSite,
    ctx: ProbeContext,
    path: str,
    fields: dict[str, Any],
    ok: bool,
    message: str,
    details: dict[str, Any],
) -> None:
    site = make_site(server.url_for(path), [{"type": "http", **fields}])
    result = await run_check(site, site.checks[0], ctx)
    assert result.ok is ok, result
    _assert_message(result.message, message)
    for key, value in details.items():
        assert result.details[key] == value, (key, result.details)
    assert result.duration > 0


async def test_http_details_and_timings(server: LoopbackSite, ctx: ProbeContext) -> None:
    site = make_site(server.url_for("/redirect/2"), [{"type": "http"}])
    result = await run_check(site, site.checks[0], ctx)
    assert result.ok
    assert result.details["final_url"] == server.url_for("/ok")
    timings = result.details["timings"]
    # one fresh connection per hop: three connects were timed
    assert 0 < timings["connect"] <= timings["headers"] <= timings["total"]
    assert result.details["response_time"] == pytest.approx(timings["total"])
    assert result.duration >= timings["total"]


async def test_slow_response_time_is_measured(server: LoopbackSite, ctx: ProbeContext) -> None:
    site = make_site(server.url_for("/slow"), [{"type": "http"}])
    result = await run_check(site, site.checks[0], ctx)
    assert result.ok
    assert result.details["response_time"] >= SLOW_SECONDS


async def test_connection_refused(ctx: ProbeContext) -> None:
    with closed_port() as port:
        site = make_site(f"http://127.0.0.1:{port}/", [{"type": "http"}])
        result = await run_check(site, site.checks[0], ctx)
    assert not result.ok
    assert result.message == "connection refused"


async def test_fresh_connection_per_probe(ctx: ProbeContext) -> None:
    async with counting_http_server() as server:
        site = make_site(server.url, [{"type": "http", "expect": {"contains": "ok"}}])
        for _ in range(3):
            assert (await run_check(site, site.checks[0], ctx)).ok
        assert (server.requests, server.connections) == (3, 3)

        # Control: the server keeps connections alive, so a pooling client would reuse one.
        async with aiohttp.ClientSession() as pooled:
            for _ in range(3):
                async with pooled.get(server.url) as resp:
                    await resp.read()
        assert (server.requests, server.connections) == (6, 4)


async def test_cookies_are_not_carried_between_probes(ctx: ProbeContext) -> None:
    async def set_cookie(_r: web.Request) -> web.Response:
        resp = web.Response(text="set")
        resp.set_cookie("session", "s3cr3t")
        return resp

    async def show(r: web.Request) -> web.Response:
        return web.Response(text=f"cookie={r.cookies.get('session', 'none')}")

    app = web.Application()
    app.router.add_get("/set", set_cookie)
    app.router.add_get("/show", show)
    async with serve_app(app) as server:
        first = make_site(server.url_for("/set"), [{"type": "http"}])
        assert (await run_check(first, first.checks[0], ctx)).ok
        second = make_site(
            server.url_for("/show"), [{"type": "http", "expect": {"contains": "cookie=none"}}]
        )
        result = await run_check(second, second.checks[0], ctx)
    assert result.ok, result.message


# ---------------------------------------------------------------- HTTPS


@pytest.mark.parametrize(
    ("names", "days", "verify_tls", "ok", "message"),
    [
        (("127.0.0.1",), 90, True, True, r"re:HTTP 200"),
        (
            ("other.example",),
            90,
            True,
            False,
            "hostname mismatch: certificate is not valid for 127.0.0.1",
        ),
        (("other.example",), 90, False, True, r"re:HTTP 200"),
        (("127.0.0.1",), -3, True, False, "certificate expired"),
        (("127.0.0.1",), -3, False, True, r"re:HTTP 200"),
    ],
)
async def test_https(
    test_ca: TestCA,
    ctx: ProbeContext,
    names: tuple[str, ...],
    days: int,
    verify_tls: bool,
    ok: bool,
    message: str,
) -> None:
    server_ctx = test_ca.expiring_server_context(*names, days=days)
    async with serve_app(_app(), ssl_context=server_ctx) as server:
        site = make_site(server.url_for("/ok"), [{"type": "http", "verify_tls": verify_tls}])
        result = await run_check(site, site.checks[0], ctx)
    assert result.ok is ok, result
    _assert_message(result.message, message)


async def test_https_untrusted_ca(ctx: ProbeContext) -> None:
    stranger = TestCA()
    async with serve_app(_app(), ssl_context=stranger.server_context()) as server:
        site = make_site(server.url_for("/ok"), [{"type": "http"}])
        result = await run_check(site, site.checks[0], ctx)
    assert not result.ok
    assert result.message.startswith("certificate not trusted: unable to get local issuer")


async def test_https_each_probe_does_a_handshake(test_ca: TestCA, ctx: ProbeContext) -> None:
    handshakes = 0
    server_ctx = test_ca.server_context()

    def count(_sslobj: ssl.SSLObject, _name: str | None, _c: ssl.SSLContext) -> None:
        nonlocal handshakes
        handshakes += 1

    server_ctx.sni_callback = count
    async with serve_app(_app(), ssl_context=server_ctx) as server:
        site = make_site(server.url_for("/ok"), [{"type": "http"}])
        for _ in range(3):
            result = await run_check(site, site.checks[0], ctx)
            assert result.ok, result.message
            assert result.details["timings"]["connect"] > 0
    assert handshakes == 3


def test_public_url_drops_credentials_and_query() -> None:
    from yarl import URL

    assert (
        http.public_url(URL("https://user:pw@example.org/a?token=x#f")) == "https://example.org/a"
    )
