"""The runner: timeouts always enforced, timing, crash containment, cancellation, the session."""

from __future__ import annotations

import asyncio
import typing
from typing import Any

import pytest

from monitord.config.models import CheckSpec, Site
from monitord.probes import runner
from monitord.probes.base import ProbeContext, ProbeResult
from monitord.probes.runner import PROBES, format_seconds, open_probe_context, run_check
from tests.helpers.sites import hanging_server, trickling_server

from .conftest import make_site


def test_every_check_type_has_a_probe() -> None:
    types = {
        typing.get_args(m.model_fields["type"].annotation)[0] for m in typing.get_args(CheckSpec)
    }
    assert set(PROBES) == types


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10s"),
        (0.3, "0.3s"),
        (0.25, "0.25s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m 30s"),
        (120, "2m"),
        (90.5, "90.5s"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("check", "timeout"),
    [
        ({"type": "http"}, "300ms"),
        ({"type": "http", "method": "POST", "body": "x"}, "200ms"),
        ({"type": "tls"}, "300ms"),
    ],
)
async def test_server_that_never_answers_times_out(
    ctx: ProbeContext, check: dict[str, Any], timeout: str
) -> None:
    async with hanging_server() as server:
        fields = {**check, "timeout": timeout}
        if check["type"] == "tls":
            fields["port"] = server.port
        site = make_site(server.url, [fields])
        result = await run_check(site, site.checks[0], ctx)
        await server.disconnected.wait()  # and the probe's connection was closed
    limit = site.checks[0].timeout.total_seconds()
    assert (result.ok, result.message) == (False, f"timed out after {format_seconds(limit)}")
    assert limit <= result.duration < limit + 1.5
    assert result.details["timeout"] == limit


async def test_trickling_server_cannot_hold_a_probe(ctx: ProbeContext) -> None:
    async with trickling_server(interval=0.02) as server:
        site = make_site(server.url, [{"type": "http", "timeout": "400ms"}])
        result = await run_check(site, site.checks[0], ctx)
    assert (result.ok, result.message) == (False, "timed out after 0.4s")
    assert 0.4 <= result.duration < 1.9


async def test_probes_are_cancellable(ctx: ProbeContext) -> None:
    async with hanging_server() as server:
        site = make_site(server.url, [{"type": "http", "timeout": "60s"}])
        task = asyncio.create_task(run_check(site, site.checks[0], ctx))
        await server.connected.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.disconnected.wait()
    assert server.closed == 1


async def test_crash_becomes_failed_result_without_secrets(
    ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def buggy(site: Site, spec: Any, _ctx: ProbeContext) -> ProbeResult:
        raise RuntimeError(f"bad state for {spec.url} with {spec.headers}\n  and more")

    monkeypatch.setitem(typing.cast(dict[str, Any], PROBES), "http", buggy)
    site = make_site(
        "https://127.0.0.1/",
        [
            {
                "type": "http",
                "url": "https://bob:hunter2pw@127.0.0.1/x",
                "headers": {"Authorization": "Bearer tok-123456"},
            }
        ],
    )
    result = await run_check(site, site.checks[0], ctx)
    assert not result.ok
    assert result.message.startswith("probe error: RuntimeError: bad state for")
    assert "hunter2pw" not in result.message
    assert "tok-123456" not in result.message
    assert "\n" not in result.message
    assert result.details["error"] == "RuntimeError"
    assert result.duration >= 0


async def test_own_timeout_error_is_not_reported_as_the_deadline(
    ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def inner_timeout(site: Site, spec: Any, _ctx: ProbeContext) -> ProbeResult:
        raise TimeoutError

    monkeypatch.setitem(typing.cast(dict[str, Any], PROBES), "tcp", inner_timeout)
    site = make_site("https://127.0.0.1/", [{"type": "tcp", "port": 1}])
    result = await run_check(site, site.checks[0], ctx)
    assert result.message == "probe error: TimeoutError"


async def test_http_without_session_says_how_to_fix() -> None:
    site = make_site("http://127.0.0.1:9/", [{"type": "http"}])
    result = await run_check(site, site.checks[0], ProbeContext())
    assert not result.ok
    assert "open_probe_context()" in result.message


async def test_open_probe_context_owns_the_session() -> None:
    async with open_probe_context(user_agent="test-agent/1") as context:
        session = context.session
        assert session is not None and not session.closed
        assert session.headers["User-Agent"] == "test-agent/1"
        assert context.verifying_context() is context.verifying_context()
        assert context.unverified_context() is context.unverified_context()
    assert session.closed


async def test_session_connector_closes_every_connection() -> None:
    session = runner.make_session("x")
    try:
        assert session.connector is not None
        assert session.connector.force_close
        assert session.connector.limit == 0
    finally:
        await session.close()
