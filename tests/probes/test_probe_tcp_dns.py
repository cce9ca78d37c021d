"""tcp and dns probes against real sockets and the system resolver (no traffic off the box)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from monitord.probes import dns
from monitord.probes.base import ProbeContext, describe_gaierror
from monitord.probes.runner import run_check
from tests.helpers.sites import closed_port, hanging_server

from .conftest import make_site

# ---------------------------------------------------------------- tcp


async def test_tcp_open_port(ctx: ProbeContext) -> None:
    async with hanging_server() as server:
        site = make_site("https://127.0.0.1/", [{"type": "tcp", "port": server.port}])
        result = await run_check(site, site.checks[0], ctx)
        await server.disconnected.wait()  # the probe closed its connection
    assert result.ok
    assert result.message.startswith(f"port {server.port} open, connected in ")
    assert result.details["address"] == "127.0.0.1"
    assert server.connections == server.closed == 1


async def test_tcp_host_overrides_site(ctx: ProbeContext) -> None:
    async with hanging_server() as server:
        site = make_site(
            "https://site.invalid/", [{"type": "tcp", "host": "127.0.0.1", "port": server.port}]
        )
        result = await run_check(site, site.checks[0], ctx)
    assert result.ok, result.message
    assert result.details["host"] == "127.0.0.1"


async def test_tcp_refused(ctx: ProbeContext) -> None:
    with closed_port() as port:
        site = make_site("https://127.0.0.1/", [{"type": "tcp", "port": port}])
        result = await run_check(site, site.checks[0], ctx)
    assert (result.ok, result.message) == (False, "connection refused")


# ---------------------------------------------------------------- dns


def _localhost_addresses() -> set[str]:
    return {
        str(info[4][0]) for info in socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)
    }


async def test_dns_localhost(ctx: ProbeContext) -> None:
    site = make_site("https://localhost/", [{"type": "dns"}])
    result = await run_check(site, site.checks[0], ctx)
    assert result.ok, result.message
    assert set(result.details["addresses"]) == _localhost_addresses()
    assert "127.0.0.1" in result.details["addresses"]
    assert result.message.startswith("resolves to 127.0.0.1")


@pytest.mark.parametrize(
    ("addresses", "ok", "message"),
    [
        (["127.0.0.1"], True, "re:resolves to 127.0.0.1"),
        (["10.0.0.1"], False, "re:resolves to 127\\.0\\.0\\.1.*, expected 10\\.0\\.0\\.1$"),
        (
            ["127.0.0.1", "10.0.0.1", "10.0.0.2"],
            False,
            "re:.*, expected 10\\.0\\.0\\.1, 10\\.0\\.0\\.2$",
        ),
    ],
)
async def test_dns_expected_addresses(
    ctx: ProbeContext, addresses: list[str], ok: bool, message: str
) -> None:
    import re

    site = make_site(
        "https://www.acme.example/", [{"type": "dns", "name": "localhost", "addresses": addresses}]
    )
    result = await run_check(site, site.checks[0], ctx)
    assert result.ok is ok
    assert re.match(message[3:], result.message), result.message


def _invalid_tld_stays_local() -> bool:
    """True when the system resolver answers ``.invalid`` without sending a query: the hosts
    lookup has no DNS source, or DNS goes only to systemd-resolved's stub (which refuses the
    reserved ``invalid`` domain itself, RFC 6761)."""
    try:
        nss = Path("/etc/nsswitch.conf").read_text()
    except OSError:
        return False
    sources: list[str] = []
    for line in nss.splitlines():
        if line.strip().startswith("hosts:"):
            sources = [w for w in line.split(":", 1)[1].split() if not w.startswith("[")]
    if "dns" not in sources:
        return bool(sources)
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        return False
    servers = [
        ln.split()[1]
        for ln in resolv.splitlines()
        if ln.startswith("nameserver") and len(ln.split()) > 1
    ]
    return bool(servers) and all(s in ("127.0.0.53", "127.0.0.54") for s in servers)


async def test_dns_name_does_not_resolve(ctx: ProbeContext) -> None:
    if not _invalid_tld_stays_local():
        pytest.skip("this resolver would send a .invalid query off the machine; not sending it")
    site = make_site("https://nothing-here.invalid/", [{"type": "dns"}])
    result = await run_check(site, site.checks[0], ctx)
    assert (result.ok, result.message) == (False, "name does not resolve")


async def test_dns_ip_literal_resolves_to_itself(ctx: ProbeContext) -> None:
    site = make_site("https://127.0.0.1/", [{"type": "dns", "addresses": ["127.0.0.1"]}])
    result = await run_check(site, site.checks[0], ctx)
    assert (result.ok, result.details["addresses"]) == (True, ["127.0.0.1"])


async def test_dns_name_that_is_not_a_hostname(ctx: ProbeContext) -> None:
    # An over-long label fails IDNA encoding before any query is made.
    site = make_site("https://127.0.0.1/", [{"type": "dns", "name": "a" * 64 + ".example"}])
    result = await run_check(site, site.checks[0], ctx)
    assert not result.ok
    assert "is not a valid host name" in result.message


@pytest.mark.parametrize(
    ("answers", "expected", "ok", "message"),
    [
        (["127.0.0.1", "::1", "127.0.0.1"], (), True, "resolves to 127.0.0.1, ::1"),
        (["::1", "10.0.0.2", "10.0.0.10"], (), True, "resolves to 10.0.0.2, 10.0.0.10, ::1"),
        (["0:0::1"], ("::1",), True, "resolves to ::1"),
        (["2001:db8::1"], ("2001:DB8:0::1",), True, "resolves to 2001:db8::1"),
        (["10.0.0.1"], ("10.0.0.2",), False, "resolves to 10.0.0.1, expected 10.0.0.2"),
        (
            ["10.0.0.1", "10.0.0.2"],
            ("10.0.0.2", "10.0.0.3"),
            False,
            "resolves to 10.0.0.1, 10.0.0.2, expected 10.0.0.3",
        ),
        (
            [f"10.0.0.{i}" for i in range(1, 7)],
            ("10.0.0.9",),
            False,
            "resolves to 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4 and 2 more, expected 10.0.0.9",
        ),
        (["fe80::1%eth0"], ("fe80::1",), True, "resolves to fe80::1"),
    ],
)
def test_evaluate_answers_table(
    answers: list[str], expected: tuple[str, ...], ok: bool, message: str
) -> None:
    result = dns.evaluate_answers("n.example", answers, expected)
    assert (result.ok, result.message) == (ok, message)
    for a in result.details["addresses"]:
        ipaddress.ip_address(a)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (socket.EAI_NONAME, "name does not resolve"),
        (socket.EAI_AGAIN, "DNS lookup failed temporarily (resolver did not answer)"),
        (socket.EAI_FAIL, "DNS lookup failed: boom"),
    ],
)
def test_describe_gaierror(code: int, message: str) -> None:
    assert describe_gaierror(socket.gaierror(code, "boom")) == message
