"""Feeds the hourly uptime roll-ups from the daemon's probe results: a daemon Service.

Each result (a result listener, called before the result is evaluated) becomes hour slices
(:func:`monitord.report.rollup.attribute`, the site's maintenance windows excluded), summed in
memory and written in one transaction every :data:`FLUSH_INTERVAL` (and when stopping). Once
an hour the raw results older than ``state.retention.results`` and the roll-ups older than
13 months are pruned.

In a cluster (a PostgreSQL store) every node probes every check, so counting each node's
results would count the time once per node. There the service runs on the leader only
(cluster.member.LEADER_SERVICES) and counts the leader's decisions (the combined quorum
results, a decision listener) instead. The leader may decide a check more than once an
interval (once per node whose result came in a different round), so a decision stands for
the time until the next decision of its check, at most one interval: a check decided once an
interval counts exactly as a result does on one node, and one decided three times an interval
is not counted three times. A decision's span is written when the next one closes it (or when
the service stops).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitord.calendar import Window
from monitord.errors import StoreError
from monitord.logsetup import get_logger
from monitord.maintenance import windows_for
from monitord.report.host import CheckLike, DaemonHost, Host
from monitord.report.rollup import Slice, Span, attribute, merge
from monitord.report.store import ROLLUP_RETENTION, RawResult
from monitord.store.side import AnyReportStore, open_report_store

if TYPE_CHECKING:
    from monitord.probes.base import ProbeResult
    from monitord.runtime import ServiceRuntime

FLUSH_INTERVAL = timedelta(seconds=30)
"""How often the batched roll-ups are written: one transaction for every result since; a
crash loses at most this much history, which the report shows as unmeasured time."""

PRUNE_EVERY = timedelta(hours=1)

MAX_PENDING_RESULTS = 200_000
"""Results held while the store refuses writes: about 20 minutes of 10,000 checks a minute.
Beyond it the oldest batch is dropped (the report then shows that time as unmeasured)."""

MESSAGE_CHARS = 200
"""A raw result's message is kept this long: enough to say what failed."""


class HistoryService:
    name = "uptime-history"

    def __init__(self, host: Host) -> None:
        self.host = host
        self.log = get_logger(component="uptime-history")
        self.store: AnyReportStore | None = None
        self._slices: list[tuple[str, Slice]] = []
        self._raw: list[RawResult] = []
        self._windows: dict[str, Window | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_prune: datetime | None = None
        self._open: dict[str, tuple[CheckLike, datetime, ProbeResult]] = {}
        """In a cluster: per check, the last decision, standing until the next one."""
        self._cluster = False
        self.flushes = 0

    async def start(self, daemon: Any = None) -> None:
        config = self.host.config
        assert config is not None
        self.store = await asyncio.to_thread(open_report_store, config)
        self._windows = {}
        self._cluster = self.host.cluster
        if self._cluster:
            self.host.listen_decisions(self.on_decision)
        else:
            self.host.listen(self.on_result)
        if self.host.schedule:
            self._task = asyncio.create_task(self._loop(), name="uptime-history")

    async def reload(self, daemon: Any = None) -> None:
        self._windows = {}

    async def stop(self) -> None:
        self.host.unlisten(self.on_result)
        self.host.unlisten_decisions(self.on_decision)
        self.close_open(self.host.now())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreError):
            await self.flush()
        if self.store is not None:
            self.store.close()
            self.store = None

    def _window(self, sc: CheckLike) -> Window | None:
        if sc.key not in self._windows:
            config = self.host.config
            zone = config.main.agency.timezone if config is not None else "UTC"
            self._windows[sc.key] = windows_for(sc.client, sc.site, zone)
        return self._windows[sc.key]

    def on_result(self, sc: CheckLike, result: ProbeResult, now: datetime) -> None:
        if result.inconclusive:
            return  # the monitor could not probe: no evidence either way
        self._record(sc, result, now, sc.spec.interval)

    def on_decision(self, sc: CheckLike, result: ProbeResult, now: datetime) -> None:
        """A cluster leader's decision: it stands until the check's next one (see the module)."""
        if result.inconclusive:
            return
        self._close(sc.key, now)
        self._open[sc.key] = (sc, now, result)

    def _close(self, key: str, until: datetime) -> None:
        prev = self._open.pop(key, None)
        if prev is None:
            return
        sc, at, result = prev
        span = min(until - at, sc.spec.interval)
        if span > timedelta(0):
            self._record(sc, result, at, span)

    def close_open(self, now: datetime) -> None:
        """Count every decision still standing up to ``now`` (at most its interval)."""
        for key in list(self._open):
            self._close(key, now)

    def _record(self, sc: CheckLike, result: ProbeResult, now: datetime, span: timedelta) -> None:
        w = self._window(sc)
        spans: list[Span] = []
        if w is not None:
            for at in (now, now + span - timedelta(seconds=1)):
                occ = w.occurrence(at)
                if occ is not None and occ not in spans:
                    spans.append(occ)
        self._slices.extend((sc.key, s) for s in attribute(now, span, result.ok, spans))
        self._raw.append(RawResult(sc.key, now, result.ok, result.message[:MESSAGE_CHARS]))
        if len(self._raw) > MAX_PENDING_RESULTS:
            drop = len(self._raw) // 2
            self.log.warning("uptime_history.dropped", results=drop)
            self._raw = self._raw[drop:]
            self._slices = self._slices[len(self._slices) // 2 :]

    async def flush(self) -> int:
        """Write what was batched; how many results. Kept for the next flush on failure."""
        if self.store is None or (not self._raw and not self._slices):
            return 0
        slices, raw = self._slices, self._raw
        self._slices, self._raw = [], []
        store = self.store
        try:
            await asyncio.to_thread(store.write_batch, merge(slices), raw)
        except Exception as exc:
            self._slices, self._raw = slices + self._slices, raw + self._raw
            raise StoreError(f"cannot write the uptime history: {exc}") from exc
        self.flushes += 1
        return len(raw)

    async def prune(self, now: datetime) -> tuple[int, int]:
        config = self.host.config
        if self.store is None or config is None:
            return (0, 0)
        keep = config.main.state.retention.results
        store = self.store
        return await asyncio.to_thread(
            lambda: store.prune(results_before=now - keep, rollups_before=now - ROLLUP_RETENTION)
        )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL.total_seconds())
            try:
                await self.flush()
                now = self.host.now()
                if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
                    self._last_prune = now
                    results, hours = await self.prune(now)
                    if results or hours:
                        self.log.info("uptime_history.pruned", results=results, hours=hours)
            except Exception as exc:  # keep the history alive; the next round tries again
                self.log.error(
                    "uptime_history.write_failed",
                    error=str(exc),
                    hint="the batch is kept and written with the next one",
                )


def history_service(runtime: ServiceRuntime) -> HistoryService:
    return HistoryService(DaemonHost(runtime))
