"""A probe the monitor cannot run for want of an open file is the monitor's problem, not the
site's: every probe type, run while this process's open-file table is full (EMFILE), gives an
inconclusive result (no false DOWN), logged as ``probe.monitor_error``; the same probes pass
once files are free again. The sites are real, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web

from monitord.probes import runner
from monitord.probes.base import MonitorFault, ProbeContext, describe_oserror, fd_exhausted
from monitord.probes.runner import run_check
from tests.helpers.sites import serve_app
from tests.helpers.tls import TestCA

from .conftest import make_site

HEADROOM = 16
"""Files left free under the lowered limit while filling it (then filled too)."""


@contextlib.contextmanager
def no_file_left() -> Iterator[None]:
    """Lower the soft RLIMIT_NOFILE to a little above what is open, and open files until the
    table is full; everything is closed and the limit restored on exit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_now = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + HEADROOM, hard))
    fillers: list[int] = []
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                assert exc.errno == errno.EMFILE
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _app() -> web.Application:
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", page)
    return app


@pytest.mark.parametrize(
    "check",
    [
        {"type": "http"},
        {"type": "tcp"},
        {"type": "tls"},
        {"type": "dns", "name": "localhost"},
    ],
)
async def test_out_of_files_is_inconclusive_not_a_failure_of_the_site(
    ctx: ProbeContext, test_ca: TestCA, check: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "monitor_errors", runner.MonitorErrors())
    tls = check["type"] == "tls"
    async with serve_app(_app(), ssl_context=test_ca.server_context() if tls else None) as srv:
        spec = {**check, "timeout": "5s"}
        if check["type"] in ("tcp", "tls"):
            spec["port"] = srv.port
        site = make_site(srv.url, [spec])
        assert (await run_check(site, site.checks[0], ctx)).ok  # the site is healthy

        with structlog.testing.capture_logs() as logs, no_file_left():
            result = await run_check(site, site.checks[0], ctx)
            again = await run_check(site, site.checks[0], ctx)
        assert result.inconclusive and not result.ok, result
        assert result.message == "monitor error: out of open files; the site was not checked"
        assert result.details["error"] == "EMFILE"
        assert again.inconclusive
        assert runner.monitor_errors.total == 2

        assert (await run_check(site, site.checks[0], ctx)).ok  # and passes again after
    # Logged loudly, but at most once every MONITOR_ERROR_LOG_EVERY seconds.
    assert [(e["event"], e["log_level"], e["probes_not_run"]) for e in logs] == [
        ("probe.monitor_error", "error", 1)
    ]


def test_describe_oserror_refuses_to_call_out_of_files_a_connection_failure() -> None:
    for code in (errno.EMFILE, errno.ENFILE):
        with pytest.raises(MonitorFault):
            describe_oserror(OSError(code, os.strerror(code)))
    assert describe_oserror(ConnectionRefusedError(errno.ECONNREFUSED, "x")) == (
        "connection refused"
    )


@pytest.mark.parametrize(
    ("exc", "exhausted"),
    [
        (OSError(errno.EMFILE, "Too many open files"), True),
        (OSError(errno.ENFILE, "Too many open files in system"), True),
        (OSError(errno.ECONNREFUSED, "Connection refused"), False),
        (ValueError("x"), False),
    ],
)
def test_fd_exhausted_looks_through_wrapping(exc: BaseException, exhausted: bool) -> None:
    assert fd_exhausted(exc) == exhausted
    try:
        try:
            raise exc
        except BaseException as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert fd_exhausted(outer) == exhausted

    class Wrapper(Exception):
        os_error = exc  # as aiohttp's ClientConnectorError carries it

    assert fd_exhausted(Wrapper()) == exhausted
