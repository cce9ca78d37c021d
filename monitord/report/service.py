"""Sends the monthly client reports: a daemon Service, and the sending the CLI shares.

On the first working day of each month (the agency calendar: weekends and bank holidays off),
from ``report.send_at`` (09:00) in the agency's zone, the month just ended is closed for every
support contract (its statement issued, :func:`~monitord.contracts.closing.close_all`: once,
a closed month is never closed again), then (or within :data:`REPORT_CATCH_UP` after, when the
daemon was stopped then) last month's report goes to every
contact of every client that has ``notify: [report]``. Each delivery is recorded in the store
(``report_sent``, per client, month and recipient) once the SMTP server has accepted it, so a
restart never sends it again; a recipient not yet recorded (the server refused, the daemon
stopped) is tried on the next round. ``monitord report … --send --resend`` repeats it.

The report goes through the e-mail notifier's SMTP path (:meth:`EmailNotifier.deliver`), not
the outbox: it is one large message a month with images, built from the store when it is due,
and the record above gives it the outbox's once-only delivery without keeping megabytes of
PNG in outbox rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitord.calendar import BusinessCalendar
from monitord.contracts.closing import close_all
from monitord.contracts.models import Month
from monitord.errors import MonitordError, NotifierError
from monitord.logsetup import get_logger
from monitord.report.data import check_key, gather
from monitord.report.host import DaemonHost, Host
from monitord.report.model import Report, build_report, month_span
from monitord.report.render import CHARTS, Rendered, chart_pngs, render
from monitord.store.side import AnyReportStore, open_report_store

if TYPE_CHECKING:
    from monitord.config.models import ClientConfig, Config
    from monitord.notify.email import EmailNotifier
    from monitord.runtime import ServiceRuntime

REPORT_CHECK_INTERVAL = timedelta(minutes=5)
"""How often the service looks whether reports are due: at most this late after 09:00."""

REPORT_CATCH_UP = timedelta(days=7)
"""A report not sent on its day (the daemon was stopped) is sent when it starts within this
long after; later, a month-old report would surprise more than help: send it by hand with
``monitord report CLIENT --send``. A report of a month in which monitord measured none of the
client's checks (a daemon installed after the month) is not sent on its own either."""


def recipients(client: ClientConfig) -> list[tuple[str, str]]:
    """(name, address) of the contacts that ``notify: [report]``."""
    return [(c.name, str(c.email)) for c in client.contacts if "report" in c.notify]


def due_at(month: Month, config: Config) -> datetime:
    """When the report of ``month`` is due: the first working day of the next month, at
    ``report.send_at`` in the agency's zone."""
    cal = BusinessCalendar.from_agency(config.main.agency)
    day: date = cal.next_working_day(month.next().first_day())
    zone = ZoneInfo(config.main.agency.timezone)
    return datetime.combine(day, config.main.report.send_at, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Built:
    report: Report
    rendered: Rendered
    """With ``cid:`` image sources."""
    images: dict[str, bytes]


def build(config: Config, client: str, month: Month, now: datetime, email: EmailNotifier) -> Built:
    report = build_report(gather(config, client, month, now), now)
    return Built(
        report,
        render(report, {n: f"cid:{email.image_cid(n)}" for n in CHARTS}),
        chart_pngs(report),
    )


async def send_report(
    config: Config,
    email: EmailNotifier,
    store: AnyReportStore,
    client: ClientConfig,
    month: Month,
    now: datetime,
    *,
    resend: bool = False,
) -> list[str]:
    """Send ``month``'s report of ``client`` to its report contacts not yet sent to (all of
    them with ``resend``); the addresses it went to. Raises NotifierError on the first refusal
    (those already sent are recorded)."""
    to = recipients(client)
    done = {} if resend else await asyncio.to_thread(store.sent, client.client, str(month))
    todo = [(n, a) for n, a in to if a not in done]
    if not todo:
        return []
    built = await asyncio.to_thread(build, config, client.client, month, now, email)
    sent: list[str] = []
    for name, addr in todo:
        key = f"report|{client.client}|{month}|{addr}|{now.isoformat()}"
        msg = email.build_report_message(
            addr,
            name,
            built.rendered.subject,
            built.rendered.text,
            built.rendered.html,
            built.images,
            key=key,
            client=client.client,
            now=now,
        )
        message_id = await email.deliver(msg, addr, kind="report", client=client.client)
        await asyncio.to_thread(store.mark_sent, client.client, str(month), addr, now, message_id)
        sent.append(addr)
    return sent


class ReportService:
    name = "client-report"

    def __init__(self, host: Host) -> None:
        self.host = host
        self.log = get_logger(component="client-report")
        self.store: AnyReportStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed_through: Month | None = None
        """The last month this process closed (closing again would change nothing)."""
        self._unmeasured: set[tuple[str, Month]] = set()
        """(client, month) reports not sent for want of any measurement (logged once)."""

    async def start(self, daemon: Any = None) -> None:
        config = self.host.config
        assert config is not None
        self.store = await asyncio.to_thread(open_report_store, config)
        if self.host.schedule:
            self._task = asyncio.create_task(self._loop(), name="client-report")

    async def reload(self, daemon: Any = None) -> None:
        """Each round reads the configuration afresh; a contract added by the reload has its
        months closed on the next round."""
        self._closed_through = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.store is not None:
            self.store.close()
            self.store = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once(self.host.now())
            except Exception:  # keep the service alive; the next round tries again
                self.log.exception("report.round_failed")
            await asyncio.sleep(REPORT_CHECK_INTERVAL.total_seconds())

    def _measured(self, config: Config, client: ClientConfig, month: Month) -> bool:
        """Whether monitord watched any of the client's checks during ``month``: a report of a
        month it knew nothing of (a daemon installed after the month ended) would say only
        "not measured", so it is not sent on its own; ``monitord report --send`` still can."""
        assert self.store is not None
        keys = [
            check_key(client.client, s.id, spec.id or spec.type)
            for s in client.sites
            for spec in s.checks
        ]
        if not keys:
            return True  # nothing to measure: the report is about hours and tickets
        start, end = month_span(month, ZoneInfo(config.main.agency.timezone))
        return any(self.store.hours(keys, start, end).values())

    async def run_once(self, now: datetime) -> dict[str, list[str]]:
        """Send the reports due at ``now``; client -> addresses sent to."""
        config = self.host.config
        email = self.host.email()
        if config is None or self.store is None:
            return {}
        zone = ZoneInfo(config.main.agency.timezone)
        month = Month.of(now, zone).prev()
        due = due_at(month, config)
        if now < due:
            return {}
        if self._closed_through != month:
            # Before the report is built, so it shows the issued statement; a month is closed
            # however late the daemon starts (the report itself has a catch-up limit).
            closed = await asyncio.to_thread(close_all, config, month, now)
            for cid, statements in closed.items():
                self.log.info(
                    "hours.month_closed", client=cid, months=[str(s.month) for s in statements]
                )
            self._closed_through = month
        if now >= due + REPORT_CATCH_UP:
            return {}
        out: dict[str, list[str]] = {}
        for client in config.clients:
            if not recipients(client):
                continue
            if not await asyncio.to_thread(self._measured, config, client, month):
                if (client.client, month) not in self._unmeasured:
                    self._unmeasured.add((client.client, month))
                    self.log.info(
                        "report.not_sent",
                        client=client.client,
                        month=str(month),
                        reason="monitord measured none of the client's checks that month",
                        hint=f"send it by hand if wanted: monitord report {client.client} "
                        f"--month {month} --send",
                    )
                continue
            if email is None:
                self.log.warning(
                    "report.no_smtp",
                    client=client.client,
                    hint="add an smtp section to monitord.yml to send the monthly reports",
                )
                return out
            try:
                sent = await send_report(config, email, self.store, client, month, now)
            except (NotifierError, MonitordError) as exc:
                self.log.error(
                    "report.failed",
                    client=client.client,
                    month=str(month),
                    error=str(exc),
                    hint=f"tried again in {REPORT_CHECK_INTERVAL}",
                )
                continue
            if sent:
                out[client.client] = sent
                self.log.info(
                    "report.sent", client=client.client, month=str(month), recipients=len(sent)
                )
        return out


def report_service(runtime: ServiceRuntime) -> ReportService:
    return ReportService(DaemonHost(runtime))
