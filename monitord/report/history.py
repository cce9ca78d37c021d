"""Feeds the hourly uptime roll-ups from the daemon's probe results: a daemon Service.

Each result (a result listener, called before the result is evaluated) becomes hour slices
(:func:`monitord.report.rollup.attribute`, the site's maintenance windows excluded), summed in
memory and written in one transaction every :data:`FLUSH_INTERVAL` (and when stopping). Once
an hour the raw results older than ``state.retention.results`` and the roll-ups older than
13 months are pruned.
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
from monitord.report.store import ROLLUP_RETENTION, RawResult, ReportStore

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
        self.store: ReportStore | None = None
        self._slices: list[tuple[str, Slice]] = []
        self._raw: list[RawResult] = []
        self._windows: dict[str, Window | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_prune: datetime | None = None
        self.flushes = 0

    async def start(self, daemon: Any = None) -> None:
        config = self.host.config
        assert config is not None
        self.store = await asyncio.to_thread(ReportStore, config.state_path())
        self._windows = {}
        self.host.listen(self.on_result)
        if self.host.schedule:
            self._task = asyncio.create_task(self._loop(), name="uptime-history")

    async def reload(self, daemon: Any = None) -> None:
        self._windows = {}

    async def stop(self) -> None:
        self.host.unlisten(self.on_result)
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
        interval = sc.spec.interval
        w = self._window(sc)
        spans: list[Span] = []
        if w is not None:
            for at in (now, now + interval - timedelta(seconds=1)):
                occ = w.occurrence(at)
                if occ is not None and occ not in spans:
                    spans.append(occ)
        self._slices.extend((sc.key, s) for s in attribute(now, interval, result.ok, spans))
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
