"""Scaffolding for tests that run a real :class:`~monitord.daemon.Daemon` on a driven clock
(:class:`tests.helpers.clock.Clock`, ``schedule=False``): a loopback site whose status the test
sets, a configuration directory with one client (ACME Charity, site ``acme-www``, one http
check), and a driver that advances the clock and probes.

    sw, loop_site = site                           # the `site` fixture (import it into a conftest)
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server, alert="{…}")
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    sw.status = 503
    assert await ticks(daemon, clock, 3) == ["site-down"]

Pieces of the YAML (:func:`agency_yaml`, :func:`smtp_yaml`) serve tests that write their own
configuration around them.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitord.daemon import Daemon, check_key
from tests.helpers.clock import Clock
from tests.helpers.sites import LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer

KEY = check_key("acme", "acme-www", "http")
"""The check :func:`write_config` configures."""
T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
"""Thursday 26 November 2026, 14:00 UTC: office hours in London (GMT = UTC)."""

JO = "{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}"
"""The default (and most common) contact of acme: down and recovery notices."""


class Switchable:
    """A site whose status code the test sets (``/`` answers ``<h1>ACME Charity</h1>``)."""

    def __init__(self) -> None:
        self.status = 200

    def app(self) -> web.Application:
        async def page(_r: web.Request) -> web.Response:
            return web.Response(status=self.status, text="<h1>ACME Charity</h1>")

        app = web.Application()
        app.router.add_get("/", page)
        return app


@contextlib.asynccontextmanager
async def switchable_site() -> AsyncIterator[tuple[Switchable, LoopbackSite]]:
    """A :class:`Switchable` served on 127.0.0.1."""
    sw = Switchable()
    async with serve_app(sw.app()) as loop_site:
        yield sw, loop_site


@pytest.fixture
async def site() -> AsyncIterator[tuple[Switchable, LoopbackSite]]:
    """A :class:`Switchable` served on 127.0.0.1, and where it listens."""
    async with switchable_site() as pair:
        yield pair


def agency_yaml(d: Path) -> str:
    """The opening of monitord.yml: the agency (Europe/London, support@collective.example)
    and the state in ``d/state.sqlite3``."""
    return textwrap.dedent(
        f"""\
        agency:
          name: Collective
          timezone: Europe/London
          support_email: support@collective.example
        state: {{path: {d / "state.sqlite3"}}}
        """
    )


def smtp_yaml(port: int) -> str:
    """monitord.yml's ``smtp:`` for the loopback SMTP server on ``port`` (no TLS, no AUTH)."""
    return textwrap.dedent(
        f"""\
        smtp:
          host: 127.0.0.1
          port: {port}
          from: "Collective monitoring <monitor@collective.example>"
          security: none
        """
    )


def write_config(
    d: Path,
    site_url: str,
    smtp: SmtpServer,
    *,
    main_extra: str = "",
    contacts: tuple[str, ...] = (JO,),
    expect: str = "{status: 200}",
    alert: str = "{failure_threshold: 1, success_threshold: 1, repeat_every: 4h}",
) -> Path:
    """Write ``d/monitord.yml`` (mail through ``smtp``; advisories and the HTTP API off;
    ``main_extra`` appended) and ``d/clients/acme.yml``: ``contacts`` (YAML flow mappings) and
    the site ``acme-www`` at ``site_url`` with one http check every 60 s (``expect``) and
    ``alert``. Returns ``d``."""
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + "security: {enabled: false}\n"
        + "http: {listen: off}\n"
        + main_extra
    )
    (d / "clients" / "acme.yml").write_text(
        "client: acme\n"
        "name: ACME Charity\n"
        "contacts:\n"
        + "".join(f"  - {c}\n" for c in contacts)
        + textwrap.dedent(
            f"""\
            sites:
              - id: acme-www
                url: {site_url}
                checks:
                  - {{type: http, interval: 60s, timeout: 5s, expect: {expect}}}
                alert: {alert}
            """
        )
    )
    return d


async def ticks(
    daemon: Daemon, clock: Clock, n: int, step: float = 60, key: str = KEY
) -> list[str]:
    """``n`` times: advance the clock ``step`` seconds and probe ``key``; the kinds of the
    events raised, in order."""
    kinds: list[str] = []
    for _ in range(n):
        clock.advance(seconds=step)
        kinds += [e.kind for e in await daemon.tick(key)]
    return kinds
