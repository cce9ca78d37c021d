"""tls probe: real TLS servers on 127.0.0.1 with trustme certificates, plus the pure verdict."""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from monitord.probes import tls
from monitord.probes.base import ProbeContext
from monitord.probes.runner import open_probe_context, run_check
from tests.helpers.sites import closed_port, hanging_server, serve_app
from tests.helpers.tls import TestCA

from .conftest import make_site

NOW = datetime.now(UTC).replace(microsecond=0)
"""The test's "now": certificates are issued relative to it and the probe's clock is fixed at
it, so day counts are exact (the handshake itself checks dates against the real clock)."""


@pytest.fixture
async def fixed_ctx(client_ssl_context: ssl.SSLContext) -> AsyncIterator[ProbeContext]:
    async with open_probe_context(client_ssl_context, clock=lambda: NOW) as context:
        yield context


async def _ok(_r: web.Request) -> web.Response:
    return web.Response(text="ok")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _ok)
    return app


def _server_ctx(
    ca: TestCA, names: tuple[str, ...], days: float, starts_in: float
) -> ssl.SSLContext:
    not_after = NOW + timedelta(days=days)
    not_before = NOW + timedelta(days=starts_in) if starts_in else not_after - timedelta(days=365)
    return ca.server_context(*names, not_before=not_before, not_after=not_after)


# (cert names, days left at NOW, not_before offset (days; 0: a year before expiry),
#  check fields, ok, message, warning)
CASES: list[tuple[tuple[str, ...], float, float, dict[str, Any], bool, str, str | None]] = [
    (("127.0.0.1",), 90, 0, {}, True, "certificate valid, expires in 90 days", None),
    (("127.0.0.1",), 15, 0, {}, True, "certificate valid, expires in 15 days", None),
    (("127.0.0.1",), 14, 0, {}, True, "certificate valid, expires in 14 days", None),
    (
        ("127.0.0.1",),
        9,
        0,
        {},
        True,
        "certificate expires in 9 days",
        "certificate expires in 9 days (warning at 14)",
    ),
    (
        ("127.0.0.1",),
        1,
        0,
        {"min_days_left": 30},
        True,
        "certificate expires in 1 day",
        "certificate expires in 1 day (warning at 30)",
    ),
    (
        ("127.0.0.1",),
        0.25,
        0,
        {},
        True,
        "certificate expires in 6 hours",
        "certificate expires in 6 hours (warning at 14)",
    ),
    (
        ("127.0.0.1",),
        9,
        0,
        {"min_days_left": 0},
        True,
        "certificate valid, expires in 9 days",
        None,
    ),
    (("127.0.0.1",), -3, 0, {}, False, "certificate expired 3 days ago", None),
    (("127.0.0.1",), -1, 0, {}, False, "certificate expired 1 day ago", None),
    (("127.0.0.1",), -5 / 24, 0, {}, False, "certificate expired 5 hours ago", None),
    (
        ("other.example", "www.other.example"),
        90,
        0,
        {"server_name": "www.acme.example"},
        False,
        "hostname mismatch: certificate is for other.example, www.other.example",
        None,
    ),
    (("localhost",), 90, 0, {}, False, "hostname mismatch: certificate is for localhost", None),
    (
        ("a.example", "b.example", "c.example", "d.example", "e.example"),
        90,
        0,
        {"server_name": "www.acme.example"},
        False,
        "hostname mismatch: certificate is for a.example, b.example, c.example and 2 more",
        None,
    ),
    (
        ("www.acme.example",),
        90,
        0,
        {"server_name": "www.acme.example"},
        True,
        "certificate valid, expires in 90 days",
        None,
    ),
    (
        ("127.0.0.1",),
        90,
        2,
        {},
        False,
        f"certificate not valid until {(NOW + timedelta(days=2)):%Y-%m-%d %H:%M} UTC",
        None,
    ),
]


@pytest.mark.parametrize(
    ("names", "days", "starts_in", "fields", "ok", "message", "warning"), CASES
)
async def test_tls_cases(
    test_ca: TestCA,
    fixed_ctx: ProbeContext,
    names: tuple[str, ...],
    days: float,
    starts_in: float,
    fields: dict[str, Any],
    ok: bool,
    message: str,
    warning: str | None,
) -> None:
    server_ctx = _server_ctx(test_ca, names, days, starts_in)
    async with serve_app(_app(), ssl_context=server_ctx) as server:
        site = make_site(server.url, [{"type": "tls", "port": server.port, **fields}])
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert (result.ok, result.message, result.warning) == (ok, message, warning)
    assert result.details["cert_not_after"] == (NOW + timedelta(days=days)).isoformat()
    # Whole days, rounded down (monitord.certexpiry's rule).
    assert result.details["cert_days_left"] == math.floor(days)
    assert result.details["cert_names"] == list(names)


async def test_tls_untrusted_issuer(fixed_ctx: ProbeContext) -> None:
    stranger = TestCA()
    async with serve_app(_app(), ssl_context=stranger.server_context()) as server:
        site = make_site(server.url, [{"type": "tls", "port": server.port}])
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert not result.ok
    assert result.message.startswith("certificate not trusted: unable to get local issuer")
    assert "intermediate" in result.message
    assert result.details["verify_code"] == 20
    assert result.details["cert_days_left"] > 300  # still read, over the unverified connection


async def test_tls_host_and_port_default_to_the_site(
    test_ca: TestCA, fixed_ctx: ProbeContext
) -> None:
    async with serve_app(_app(), ssl_context=_server_ctx(test_ca, ("127.0.0.1",), 40, 0)) as server:
        # The site url carries host and port 443; the check overrides only the port.
        site = make_site("https://127.0.0.1/", [{"type": "tls", "port": server.port}])
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert result.message == "certificate valid, expires in 40 days"


async def test_tls_connection_refused(fixed_ctx: ProbeContext) -> None:
    with closed_port() as port:
        site = make_site("https://127.0.0.1/", [{"type": "tls", "port": port}])
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert (result.ok, result.message) == (False, "connection refused")


async def test_tls_against_plain_http(fixed_ctx: ProbeContext) -> None:
    async with serve_app(_app()) as server:
        site = make_site("https://127.0.0.1/", [{"type": "tls", "port": server.port}])
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert not result.ok
    assert result.message.startswith("TLS handshake failed: "), result.message


async def test_tls_handshake_that_never_comes_times_out(fixed_ctx: ProbeContext) -> None:
    async with hanging_server() as server:
        site = make_site(
            "https://127.0.0.1/", [{"type": "tls", "port": server.port, "timeout": "300ms"}]
        )
        result = await run_check(site, site.checks[0], fixed_ctx)
    assert (result.ok, result.message) == (False, "timed out after 0.3s")
    assert 0.3 <= result.duration < 2


async def test_tls_needs_no_http_session(
    test_ca: TestCA, client_ssl_context: ssl.SSLContext
) -> None:
    bare = ProbeContext(ssl_context=client_ssl_context, clock=lambda: NOW)
    async with serve_app(_app(), ssl_context=_server_ctx(test_ca, ("127.0.0.1",), 20, 0)) as server:
        site = make_site(server.url, [{"type": "tls", "port": server.port}])
        result = await run_check(site, site.checks[0], bare)
    assert result.message == "certificate valid, expires in 20 days"


# ---------------------------------------------------------------- pure verdict


def _info(
    not_after: datetime, not_before: datetime | None = None, names: tuple[str, ...] = ("x.example",)
) -> tls.CertInfo:
    return tls.CertInfo(
        not_before=not_before or not_after - timedelta(days=90),
        not_after=not_after,
        subject_cn=None,
        dns_names=names,
        ip_addresses=(),
        issuer="CN=Test CA",
    )


T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("not_after", "min_days", "ok", "message", "warning"),
    [
        (T0 + timedelta(days=30), 14, True, "certificate valid, expires in 30 days", None),
        (T0 + timedelta(days=14), 14, True, "certificate valid, expires in 14 days", None),
        (
            T0 + timedelta(days=14) - timedelta(seconds=1),
            14,
            True,
            "certificate expires in 13 days",
            "certificate expires in 13 days (warning at 14)",
        ),
        (
            T0 + timedelta(days=1, hours=23),
            14,
            True,
            "certificate expires in 1 day",
            "certificate expires in 1 day (warning at 14)",
        ),
        (
            T0 + timedelta(hours=1),
            14,
            True,
            "certificate expires in 1 hour",
            "certificate expires in 1 hour (warning at 14)",
        ),
        (T0 + timedelta(minutes=59), 0, True, "certificate valid, expires in 59 minutes", None),
        (T0, 14, False, "certificate expired 0 minutes ago", None),
        (T0 - timedelta(minutes=1), 14, False, "certificate expired 1 minute ago", None),
        (T0 - timedelta(hours=23, minutes=59), 14, False, "certificate expired 23 hours ago", None),
        (T0 - timedelta(days=400), 14, False, "certificate expired 400 days ago", None),
    ],
)
def test_evaluate_certificate_table(
    not_after: datetime, min_days: int, ok: bool, message: str, warning: str | None
) -> None:
    result = tls.evaluate_certificate(_info(not_after), T0, min_days, None)
    assert (result.ok, result.message, result.warning) == (ok, message, warning)
    assert result.details["cert_days_left"] == math.floor((not_after - T0) / timedelta(days=1))


def test_evaluate_not_yet_valid() -> None:
    info = _info(T0 + timedelta(days=90), not_before=T0 + timedelta(hours=2))
    result = tls.evaluate_certificate(info, T0, 14, None)
    assert (result.ok, result.message) == (
        False,
        "certificate not valid until 2026-03-29 02:30 UTC",
    )


def test_parse_certificate_reads_names_and_dates(test_ca: TestCA) -> None:
    not_after = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    leaf = test_ca.ca.issue_cert("a.example", "127.0.0.1", not_after=not_after)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    info = tls.parse_certificate(der)
    assert info.not_after == not_after
    assert info.dns_names == ("a.example",)
    assert info.ip_addresses == ("127.0.0.1",)
    assert info.names == ("a.example", "127.0.0.1")
