"""Redirects to this machine or its cloud metadata service are not followed unless the check
says so (``follow_redirects: any-host``): real aiohttp servers on loopback, where the "site" is
reached as 127.0.0.2 so that a redirect to 127.0.0.1 or localhost moves to another host."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from monitord.config.models import HttpCheck
from monitord.probes import http
from monitord.probes.base import ProbeContext
from monitord.probes.runner import run_check
from tests.helpers.sites import LoopbackSite, serve_app

from .conftest import make_site

SITE_HOST = "127.0.0.2"
"""Loopback too (all of 127.0.0.0/8 is), but another host than 127.0.0.1 as far as URLs go."""


@contextlib.asynccontextmanager
async def serve_on(app: web.Application, host: str) -> AsyncIterator[str]:
    """``app`` on ``host`` (a free port); yields its base URL."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0)
    await runner.setup()
    tcp = web.TCPSite(runner, host, 0)
    await tcp.start()
    try:
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def redirector() -> web.Application:
    """``/to?url=…`` redirects (302) to ``url``; ``/ok`` answers."""

    async def to(r: web.Request) -> web.Response:
        raise web.HTTPFound(r.query["url"])

    async def ok(_r: web.Request) -> web.Response:
        return web.Response(text="internal page")

    app = web.Application()
    app.router.add_get("/to", to)
    app.router.add_get("/ok", ok)
    return app


@pytest.fixture
async def inner() -> AsyncIterator[LoopbackSite]:
    """An internal service on 127.0.0.1 a hostile redirect would point at."""
    async with serve_app(redirector()) as site:
        yield site


@pytest.fixture
async def outer() -> AsyncIterator[str]:
    """The monitored site, on 127.0.0.2."""
    async with serve_on(redirector(), SITE_HOST) as base:
        yield base


async def probe(url: str, ctx: ProbeContext, **fields: Any) -> Any:
    site = make_site(url, [{"type": "http", **fields}])
    return await run_check(site, site.checks[0], ctx)


def to(base: str, target: str) -> str:
    return str(URL(base.rstrip("/") + "/to").with_query(url=target))


async def test_redirect_to_the_metadata_address_is_refused_without_connecting(
    outer: str, ctx: ProbeContext
) -> None:
    result = await probe(to(outer, "http://169.254.169.254/latest/meta-data/"), ctx)
    assert not result.ok
    assert result.message == (
        "redirect to http://169.254.169.254/latest/meta-data/ not followed: it leaves "
        "127.0.0.2 for a link-local address (cloud metadata services listen at "
        "169.254.169.254); if this check should follow it, set follow_redirects: any-host"
    )
    assert result.details["redirect_refused"] is True
    assert result.details["connections"] == 1  # the site only


async def test_redirect_from_another_host_to_loopback_is_refused(
    outer: str, inner: LoopbackSite, ctx: ProbeContext
) -> None:
    result = await probe(to(outer, inner.url_for("/ok")), ctx)
    assert not result.ok
    assert "not followed: it leaves 127.0.0.2 for a loopback address (this machine)" in (
        result.message
    )
    assert result.message.endswith("set follow_redirects: any-host")


async def test_a_name_resolving_to_loopback_is_refused(
    outer: str, inner: LoopbackSite, ctx: ProbeContext
) -> None:
    result = await probe(to(outer, f"http://localhost:{inner.port}/ok"), ctx)
    assert not result.ok
    assert "(localhost resolves to " in result.message
    assert "a loopback address" in result.message


async def test_any_host_follows_it(outer: str, inner: LoopbackSite, ctx: ProbeContext) -> None:
    result = await probe(
        to(outer, inner.url_for("/ok")),
        ctx,
        follow_redirects="any-host",
        expect={"contains": "internal"},
    )
    assert result.ok, result
    assert result.details["redirects"] == 1


async def test_a_loopback_site_may_redirect_to_itself(
    inner: LoopbackSite, outer: str, ctx: ProbeContext
) -> None:
    """The demo and the tests: a site on 127.0.0.1 redirecting on 127.0.0.1, to another port
    too (the port is not part of the host); but not on to 127.0.0.2, another host."""
    async with serve_app(redirector()) as other_port:
        result = await probe(to(inner.url, other_port.url_for("/ok")), ctx)
    assert result.ok, result
    assert result.details["redirects"] == 1
    result = await probe(to(inner.url, outer + "/ok"), ctx)
    assert not result.ok and "it leaves 127.0.0.1 for a loopback address" in result.message


async def test_follow_redirects_false_still_judges_the_redirect(
    outer: str, ctx: ProbeContext
) -> None:
    result = await probe(
        to(outer, "http://169.254.169.254/"), ctx, follow_redirects=False, expect={"status": 302}
    )
    assert result.ok, result


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address (this machine)"),
        ("127.255.0.9", "a loopback address (this machine)"),
        ("::1", "a loopback address (this machine)"),
        ("::ffff:127.0.0.1", "a loopback address (this machine)"),
        (
            "169.254.169.254",
            "a link-local address (cloud metadata services listen at 169.254.169.254)",
        ),
        ("169.254.1.1", "a link-local address (cloud metadata services listen at 169.254.169.254)"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "the unspecified address (this machine)"),
        ("::", "the unspecified address (this machine)"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("10.0.0.5", None),  # private networks are where agencies' own sites live
        ("192.168.1.10", None),
        ("93.184.215.14", None),
        ("2001:db8::1", None),
    ],
)
def test_forbidden_addresses(address: str, why: str | None) -> None:
    assert http.forbidden_address(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize(
    ("origin", "target", "refused"),
    [
        ("www.example.org", "http://127.0.0.1/", True),
        ("www.example.org", "http://[::1]:8080/", True),
        ("www.example.org", "http://0.0.0.0/", True),
        ("www.example.org", "http://[fe80::1]/", True),
        ("127.0.0.1", "http://127.0.0.1:9999/x", False),  # same host, another port
        ("LOCALHOST.", "http://localhost/", False),
        ("::1", "http://[0:0::1]/", False),
        ("127.0.0.2", "http://127.0.0.1/", True),
        ("www.example.org", "http://10.1.2.3/", False),
    ],
)
async def test_redirect_refusal(origin: str, target: str, refused: bool) -> None:
    assert (await http.redirect_refusal(origin, URL(target)) is not None) is refused


def test_follow_redirects_values() -> None:
    for value in (True, False, "any-host"):
        check = HttpCheck.model_validate({"type": "http", "follow_redirects": value})
        assert check.follow_redirects == value
