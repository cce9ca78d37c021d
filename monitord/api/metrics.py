"""Prometheus metrics for one daemon, on a registry of its own (no global state).

Most values are read from the daemon's runtime (monitord.runtime) at scrape time by a custom
collector (check states, the outbox, incidents, reloads, store aggregates), so they are never
stale and a removed check disappears with the reload. Two histograms are fed as things happen:
probe durations through ``result_listeners`` and scheduler lateness through
``lateness_listeners``.

The probe-duration histogram is labelled by check type only (bounded cardinality: 10k checks ×
14 buckets would be 150k series); each check's last duration is the per-check gauge
``monitord_check_duration_seconds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitord.api.storeview import SharedReader, StoreExtras
from monitord.certexpiry import days_left, not_after_of
from monitord.limits import HEALTH_STORE_TIMEOUT
from monitord.probes.base import ProbeResult
from monitord.store.base import OutboxStats

if TYPE_CHECKING:
    from monitord.checks import CheckView
    from monitord.probes.heartbeat import HeartbeatIntake
    from monitord.runtime import CheckBoard, DaemonHealth, ProbeFeed, Runtime

    class MetricsSource(Runtime, CheckBoard, DaemonHealth, ProbeFeed, HeartbeatIntake, Protocol):
        """What the metrics read and listen to."""


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus' text exposition format."""

PROBE_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Seconds: from a loopback answer to the longest allowed timeout (limits.PROBE_TIMEOUT_CEILING)."""

LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30)
"""Seconds a scheduled probe started after its due time: healthy is a few ms (DESIGN.md)."""

CHECK_LABELS = ("client", "site", "check", "type")


@dataclass(slots=True)
class _Last:
    duration: float
    cert_not_after: datetime | None


@dataclass(slots=True)
class _Scrape:
    """What the async part of a scrape read, for the collector's synchronous ``collect``."""

    outbox: OutboxStats | None = None
    store_answering: bool = True
    incidents_open: int | None = None
    extras: StoreExtras = field(default_factory=StoreExtras)
    now: datetime | None = None


class DaemonMetrics:
    """The metrics of one daemon. ``attach`` once; ``await render()`` per scrape."""

    def __init__(self, reader: SharedReader | None = None) -> None:
        self.reader = reader if reader is not None else SharedReader()
        """Reads the store's notification counts and patch-day queue (the owner closes it)."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.probe_duration = Histogram(
            "monitord_probe_duration_seconds",
            "How long probes took, by check type.",
            ["type"],
            buckets=PROBE_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.lateness = Histogram(
            "monitord_scheduler_lateness_seconds",
            "How late scheduled probes started after their due time.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.last: dict[str, _Last] = {}
        self._runtime: MetricsSource | None = None
        self._scrape = _Scrape()
        self._lock = asyncio.Lock()
        self.registry.register(_DaemonCollector(self))

    # -- feeding --------------------------------------------------------------------------

    async def attach(self, runtime: MetricsSource) -> None:
        """Listen to ``runtime`` and seed the per-check values from the store."""
        self._runtime = runtime
        if self.on_result not in runtime.result_listeners:
            runtime.result_listeners.append(self.on_result)
        if self.lateness.observe not in runtime.lateness_listeners:
            runtime.lateness_listeners.append(self.lateness.observe)
        for key, row in (await runtime.store.latest_results()).items():
            self.last.setdefault(key, _Last(row.duration, not_after_of(row.details)))

    def detach(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        if self.on_result in runtime.result_listeners:
            runtime.result_listeners.remove(self.on_result)
        if self.lateness.observe in runtime.lateness_listeners:
            runtime.lateness_listeners.remove(self.lateness.observe)

    def on_result(self, sc: CheckView, result: ProbeResult, now: datetime) -> None:
        if sc.spec.type != "heartbeat":
            self.probe_duration.labels(sc.spec.type).observe(result.duration)
        self.last[sc.key] = _Last(result.duration, not_after_of(result.details))

    # -- scraping -------------------------------------------------------------------------

    async def render(self) -> bytes:
        """The text exposition of every metric, read now."""
        runtime = self._runtime
        async with self._lock:
            scrape = _Scrape()
            if runtime is not None:
                now = runtime.clock()
                scrape.now = now
                config = runtime.config()
                try:
                    async with asyncio.timeout(HEALTH_STORE_TIMEOUT.total_seconds()):
                        scrape.outbox = await runtime.store.outbox_stats(now)
                        scrape.incidents_open = len(await runtime.store.open_incidents())
                        scrape.extras = await asyncio.to_thread(self.reader.extras, config)
                except TimeoutError:
                    # Answer now without the store's figures (monitord_store_answering 0).
                    scrape.outbox, scrape.incidents_open = None, None
                    scrape.store_answering = False
            self._scrape = scrape
            return generate_latest(self.registry)


class _DaemonCollector(Collector):
    """Reads the runtime (and the last scrape's store values) when Prometheus asks."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        runtime = self.m._runtime
        if runtime is None:
            return
        scrape = self.m._scrape
        up = GaugeMetricFamily(
            "monitord_check_up",
            "1 when the check is up, 0 when down (absent while unknown).",
            labels=CHECK_LABELS,
        )
        dur = GaugeMetricFamily(
            "monitord_check_duration_seconds",
            "Duration of the check's last probe.",
            labels=CHECK_LABELS,
        )
        cert = GaugeMetricFamily(
            "monitord_certificate_days_left",
            "Whole days until the certificate seen by the check expires, counted at scrape "
            "time (rounded down; negative once expired).",
            labels=CHECK_LABELS,
        )
        expiry = GaugeMetricFamily(
            "monitord_certificate_expiry_timestamp_seconds",
            "When the certificate seen by the check expires (Unix time, its notAfter).",
            labels=CHECK_LABELS,
        )
        now = runtime.clock()
        beat = GaugeMetricFamily(
            "monitord_heartbeat_last_timestamp_seconds",
            "When the heartbeat check last received a beat (Unix time).",
            labels=CHECK_LABELS,
        )
        for key, sc in runtime.checks.items():
            labels = [sc.ref.client, sc.ref.site, sc.ref.check, sc.spec.type]
            st = runtime.states.get(key)
            if st is not None and st.status != "unknown":
                up.add_metric(labels, 1.0 if st.status == "up" else 0.0)
            last = self.m.last.get(key)
            if last is not None:
                if sc.spec.type != "heartbeat":
                    dur.add_metric(labels, last.duration)
                if last.cert_not_after is not None:
                    cert.add_metric(labels, float(days_left(last.cert_not_after, now)))
                    expiry.add_metric(labels, last.cert_not_after.timestamp())
            rec = runtime.heartbeats.records.get(key)
            if rec is not None and rec.last_beat is not None:
                beat.add_metric(labels, rec.last_beat.timestamp())
        yield from (up, dur, cert, expiry, beat)

        probes = CounterMetricFamily("monitord_probes", "Probe results evaluated.")
        probes.add_metric([], runtime.probes_run)
        yield probes

        reloads = CounterMetricFamily(
            "monitord_config_reloads", "Configuration reloads by result.", labels=["result"]
        )
        reloads.add_metric(["ok"], runtime.reloads_ok)
        reloads.add_metric(["failed"], runtime.reloads_failed)
        yield reloads
        if runtime.last_reload is not None:
            yield GaugeMetricFamily(
                "monitord_config_last_reload_success_timestamp_seconds",
                "When the running configuration was loaded (Unix time).",
                value=runtime.last_reload.timestamp(),
            )

        store_failures = CounterMetricFamily(
            "monitord_store_write_failures",
            "Writes the state store refused (locked, disk full); durable ones are retried.",
        )
        store_failures.add_metric([], runtime.store_health.failures)
        yield store_failures
        yield GaugeMetricFamily(
            "monitord_store_failing",
            "1 while the state store refuses writes (a notice is waiting to be stored).",
            value=1.0 if runtime.store_health.failing else 0.0,
        )

        leading = getattr(runtime, "cluster_leader", None)
        if leading is not None:  # several nodes on PostgreSQL
            yield GaugeMetricFamily(
                "monitord_cluster_leader",
                "1 while this node is the cluster's leader (it decides and runs the advisory "
                "watcher, patch days, the SLA clock, hours and reports); 0 on a follower. "
                "The sum over the nodes is 1 when all is well.",
                value=1.0 if leading else 0.0,
            )
        yield GaugeMetricFamily(
            "monitord_store_answering",
            "1 when the store answered this scrape's reads in time; 0 when it did not (locked "
            "by another program, a stalled disk) and the outbox and incident figures are left "
            "out of this scrape.",
            value=1 if scrape.store_answering else 0,
        )
        if scrape.incidents_open is not None:
            yield GaugeMetricFamily(
                "monitord_incidents_open", "Incidents not yet ended.", value=scrape.incidents_open
            )
        if scrape.outbox is not None:
            yield GaugeMetricFamily(
                "monitord_outbox_depth",
                "Notifications waiting to be delivered (pending or being sent).",
                value=scrape.outbox.depth,
            )
            yield GaugeMetricFamily(
                "monitord_outbox_oldest_age_seconds",
                "Age of the oldest undelivered notification (0 when none).",
                value=scrape.outbox.oldest_age_seconds,
            )
        extras = scrape.extras
        sent = CounterMetricFamily(
            "monitord_notifications_sent",
            "Notifications delivered, by notifier (counted in the store's outbox).",
            labels=["notifier"],
        )
        failed = CounterMetricFamily(
            "monitord_notifications_failed",
            "Notifications given up on, by notifier (counted in the store's outbox).",
            labels=["notifier"],
        )
        notifiers = sorted({n for n, _ in extras.notifications} | set(runtime.notifier_names()))
        for name in notifiers:
            sent.add_metric([name], extras.notifications.get((name, "sent"), 0))
            failed.add_metric([name], extras.notifications.get((name, "failed"), 0))
        yield sent
        yield failed
        if extras.advisories_seen is not None:
            yield GaugeMetricFamily(
                "monitord_advisories_seen",
                "Distinct drupal.org security advisories seen.",
                value=extras.advisories_seen,
            )
        if extras.patch_queue_pending is not None:
            yield GaugeMetricFamily(
                "monitord_patch_day_pending",
                "Updates queued for the next patch day, not yet ticketed.",
                value=extras.patch_queue_pending,
            )
