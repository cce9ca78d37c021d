"""Fixtures for the service tests: a configuration writer, a driven clock, a daemon whose
HTTP API listens on 127.0.0.1 (a free port), and an HTTP client for it."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from monitord.api.server import ApiService, api_service
from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.helpers.daemon import agency_yaml, smtp_yaml
from tests.helpers.secrets import captured_logs  # noqa: F401
from tests.helpers.smtp import smtp_server, smtp_server_factory, test_ca  # noqa: F401

API_TOKEN = "s3cret-api-token-for-tests-0123456789"


def write_config(
    d: Path,
    *,
    http: str = "{listen: '127.0.0.1:0'}",
    smtp_port: int | None = None,
    site_url: str = "http://127.0.0.1:9/",
    heartbeat: str = "{type: heartbeat, every: 1h, grace: 10m}",
    alert: str = "{failure_threshold: 2, success_threshold: 2, repeat_every: null}",
) -> Path:
    """Two clients: acme (a web site with http+tls checks, a cron job with a heartbeat) and
    riverside (one site). Probes never reach the network: tests feed results or beats."""
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + f"security: {{enabled: false}}\nhttp: {http}\n"
        + (smtp_yaml(smtp_port) if smtp_port else "")
    )
    contacts = (
        "contacts:\n  - {name: Jo Bloggs, email: jo@acme.example, "
        "notify: [site-down, site-recovered]}\n"
        if smtp_port
        else ""
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            """\
            client: acme
            name: ACME Charity
            """
        )
        + contacts
        + textwrap.dedent(
            f"""\
            sites:
              - id: acme-www
                name: ACME main site
                url: {site_url}
                checks:
                  - {{type: http, interval: 1h, timeout: 5s}}
                  - {{type: tls, interval: 6h, min_days_left: 14}}
                alert: {alert}
              - id: acme-cron
                name: ACME nightly import
                url: {site_url}
                checks:
                  - {heartbeat}
                alert: {alert}
            """
        )
    )
    (d / "clients" / "riverside.yml").write_text(
        textwrap.dedent(
            f"""\
            client: riverside
            name: Riverside Housing
            sites:
              - id: riverside-www
                name: Riverside Housing
                url: {site_url}
                checks:
                  - {{type: http, interval: 1h, timeout: 5s}}
                alert: {alert}
            """
        )
    )
    return d


def api_of(daemon: Daemon) -> ApiService:
    for s in daemon.services:
        if isinstance(s, ApiService):
            return s
    raise AssertionError("the daemon runs no ApiService")


@contextlib.asynccontextmanager
async def running(
    cfg: Path, clock: Clock, *, schedule: bool = False
) -> AsyncIterator[tuple[Daemon, ApiService]]:
    daemon = Daemon(cfg, clock=clock, schedule=schedule, services=[api_service])
    await daemon.start()
    try:
        yield daemon, api_of(daemon)
    finally:
        await daemon.stop()


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session
