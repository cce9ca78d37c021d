"""A real daemon running the support-hours services on a driven clock, with a Jira worklog
stand-in on 127.0.0.1 and the loopback SMTP server: what the daemon-level contract tests
share (tests/contracts/)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from monitord.cli import main
from monitord.contracts.service import HoursService, hours_service
from monitord.daemon import Daemon
from monitord.runtime import ServiceFactory
from tests.helpers.clock import Clock
from tests.helpers.daemon import agency_yaml, smtp_yaml
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.timeentries import JiraWorklogStandIn

_S = TypeVar("_S")

SETTLE_ROUNDS = 500
"""Rounds of waiting for the outbox to empty (5 s at most): loopback sends take milliseconds."""

JIRA_BILLING = """\
billing: {currency: GBP, hourly_rate: "120.00", vat: 20%}
notifiers:
  jira:
    type: jira
    base_url: JIRA
    email: ops@collective.example
    api_token: jira-token
    project: OPS
"""
"""monitord.yml's billing and the agency's Jira (``JIRA``: the stand-in's URL)."""


def write_hours_config(cfg: Path, smtp_port: int, jira_url: str, client_yaml: str) -> Path:
    """``cfg``/monitord.yml (agency, loopback SMTP, no security round, no HTTP API, billing,
    the Jira notifier) and one client file."""
    (cfg / "clients").mkdir(parents=True)
    (cfg / "monitord.yml").write_text(
        agency_yaml(cfg)
        + smtp_yaml(smtp_port)
        + "security: {enabled: false}\nhttp: {listen: off}\n"
        + JIRA_BILLING.replace("JIRA", jira_url)
    )
    (cfg / "clients" / "acme.yml").write_text(client_yaml)
    return cfg


@dataclass
class HoursRig:
    cfg: Path
    jira: JiraWorklogStandIn
    clock: Clock
    smtp: SmtpServer
    services: list[ServiceFactory] = field(default_factory=lambda: [hours_service])
    daemon: Daemon | None = None

    async def start(self) -> Daemon:
        """A fresh daemon (as after a restart) with the rig's services, not scheduling: the
        test drives each round."""
        self.daemon = Daemon(self.cfg, clock=self.clock, schedule=False, services=self.services)
        await self.daemon.start()
        return self.daemon

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    def service_of(self, kind: type[_S]) -> _S:
        assert self.daemon is not None
        return next(s for s in self.daemon.services if isinstance(s, kind))

    @property
    def service(self) -> HoursService:
        return self.service_of(HoursService)

    async def at(self, when: datetime) -> list[tuple[str, str]]:
        """One hours round at ``when``, then let the outbox send what it queued."""
        self.clock.now = when
        self.jira.now_ms = int(when.timestamp() * 1000)
        notes = await self.service.tick(when)
        await self.settle()
        return [(n.notifier, n.recipient) for n in notes]

    async def settle(self) -> None:
        """Until the outbox is empty: the daemon's own sender, woken by the service, may hold
        the items this round queued, so wait for its sends to be recorded."""
        assert self.daemon is not None and self.daemon.sender is not None
        store = self.daemon.store
        assert store is not None
        for _ in range(SETTLE_ROUNDS):
            await self.daemon.sender.run_once()
            if (await store.outbox_stats(self.clock())).depth == 0:
                return
            await asyncio.sleep(0.01)  # a send in flight on the daemon's sender task
        raise AssertionError("the outbox did not empty")


async def cli(*argv: str) -> tuple[int, str]:
    """``monitord ARGV`` in a thread (the daemon's loop keeps running); exit code, stdout."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(list(argv))

    return await asyncio.to_thread(run), out.getvalue()
