"""The check path of the daemon: a probe result → the check's and its site's incident → routed
notifications → one durable transaction (monitord.pipeline) → memory, listeners, sender.

A mixin of :class:`monitord.daemon.Daemon`: the daemon owns the life cycle (start, reload,
scheduling, signals); this owns what happens to one result, and to the incidents of checks a
reload removes. Memory follows the store: a check's state changes in memory only once the
transaction that records it (with its notifications) is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitord.config.models import Config, TlsCheck
from monitord.events import Event
from monitord.incidents import (
    CheckRef,
    CheckState,
    Evaluation,
    IncidentChange,
    close_removed,
    evaluate,
)
from monitord.notify.base import Notification
from monitord.pipeline import Pipeline
from monitord.probes.base import ProbeResult
from monitord.routing.desk import RoutingDesk
from monitord.site_incident import (
    SITE_KEY_PREFIX,
    SiteEvaluation,
    SiteRef,
    SiteState,
    site_check_removed,
    site_step,
)
from monitord.store.base import IncidentRow, ResultRow

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from monitord.runtime import ResultListener, RuntimeStore
    from monitord.schedule import ScheduledCheck


class CheckPath:
    """What happens to a probe result (see the module docstring)."""

    store: RuntimeStore | None
    config: Config | None
    states: dict[str, CheckState]
    site_states: dict[str, SiteState]
    desk: RoutingDesk
    pipeline: Pipeline
    result_listeners: list[ResultListener]
    decision_listeners: list[ResultListener]
    log: FilteringBoundLogger
    clock: Callable[[], datetime]

    async def load_states(self) -> None:
        """The check and site states as the store has them, into memory (at start; on a
        node of several, the leader's decisions)."""
        assert self.store is not None
        stored = await self.store.load_states()
        self.states = {
            k: CheckState.from_json(v)
            for k, v in stored.items()
            if not k.startswith(SITE_KEY_PREFIX)
        }
        self.site_states = {
            k.removeprefix(SITE_KEY_PREFIX): SiteState.from_json(v)
            for k, v in stored.items()
            if k.startswith(SITE_KEY_PREFIX)
        }

    async def _close_removed(
        self, old: dict[str, ScheduledCheck], new: dict[str, ScheduledCheck], config: Config
    ) -> None:
        """Checks the new configuration removes: an open incident ends now and is told like a
        recovery (its ticket commented on and resolved, its page resolved), routed with the
        running configuration (the one whose contacts were told it was down); the check's
        state is dropped so it leaves status and metrics."""
        assert self.store is not None
        now = self.clock()
        for key in [k for k in old if k not in new]:
            sc = old[key]
            state = self.states.pop(key, None)
            if state is None:
                continue
            site_kept = config.find_site(sc.ref.site) is not None
            reason = (
                "check removed from the configuration"
                if site_kept
                else "site removed from the configuration"
            )
            ev = close_removed(state, sc.ref, now, reason)
            events, scope, incident = ev.events, key, _incident_row(key, sc.ref, ev.incident)
            also = None
            step = None
            if sc.sref is not None:
                site = self.site_states.get(sc.sref.key, SiteState())
                step = site_check_removed(site, sc.sref, sc.ref, reason, now)
                events, scope = step.events, sc.sref.key
                incident = _site_incident_row(sc.sref, step)
                if step.state != site:
                    also = {SITE_KEY_PREFIX + sc.sref.key: step.state.to_json()}
            if incident is None and not events and also is None:
                continue
            notes: list[Notification] = []
            told: list[tuple[Event, list[Notification]]] = []
            for event in events:
                routed = await self.desk.dispatch(self.store, scope, event, now)
                notes += routed
                told.append((event, routed))
            await self.pipeline.emit(
                f"closing the incident of removed check {key}",
                told,
                self._closing(key, ev.state.to_json(), notes, incident, also, sc, step, now),
            )

    def _closing(
        self,
        key: str,
        state: dict[str, Any],
        notes: list[Notification],
        incident: IncidentRow | None,
        also: dict[str, dict[str, Any]] | None,
        sc: ScheduledCheck,
        step: SiteEvaluation | None,
        now: datetime,
    ) -> Callable[[], Awaitable[None]]:
        """The transaction that closes a removed check's incident; the site's state follows
        in memory once it is stored."""
        store = self.store
        assert store is not None

        async def commit() -> None:
            await store.write(
                key, state, None, notifications=notes, incident=incident, now=now, also=also
            )
            if also is not None and sc.sref is not None and step is not None:
                self.site_states[sc.sref.key] = step.state

        return commit

    async def apply(self, sc: ScheduledCheck, result: ProbeResult, now: datetime) -> list[Event]:
        """Evaluate ``result`` against the check's stored state and persist the outcome (new
        state, result, incident and notifications in one transaction, retried until stored:
        monitord.pipeline). The in-memory state follows only once the store has it; a result
        that arrives meanwhile waits, and is then judged on that stored state."""
        for result_listener in self.result_listeners:
            result_listener(sc, result, now)
        return await self.decide(sc, result, now)

    async def decide(self, sc: ScheduledCheck, result: ProbeResult, now: datetime) -> list[Event]:
        """:meth:`apply` without telling the result listeners: a cluster leader's combined
        result, whose node results the listeners heard on each node already. The decision
        listeners are told every result judged here (each node's own on SQLite, the leader's
        combined ones in a cluster: what the uptime history counts, once)."""
        assert self.store is not None and self.config is not None
        for decision_listener in self.decision_listeners:
            decision_listener(sc, result, now)
        # The connectivity rule first, so this result's own events are judged on it. An
        # inconclusive result (the monitor could not probe) is no evidence either way.
        # (Its notice, if any, goes through the pipeline, which wakes the sender.)
        if not result.inconclusive:
            await self.desk.observe(self.store, sc.key, result.ok, now)
        # Per site: a site's checks share its incident, so they are judged one at a time.
        async with self.pipeline.hold(sc.sref.key if sc.sref is not None else sc.key):
            return await self._apply_held(sc, result, now)

    async def _apply_held(
        self, sc: ScheduledCheck, result: ProbeResult, now: datetime
    ) -> list[Event]:
        assert self.store is not None
        store = self.store
        state = self.states.get(sc.key, CheckState())
        min_days = sc.spec.min_days_left if isinstance(sc.spec, TlsCheck) else None
        ev = evaluate(state, result, sc.site.alert, sc.ref, now, min_days_left=min_days)
        events, incident, site_ev, down = self._incident_of(sc, state, ev, now)
        # Suppression (maintenance, connectivity) is remembered per incident: per site or check.
        scope = sc.sref.key if sc.sref is not None else sc.key
        notes: list[Notification] = []
        told: list[tuple[Event, list[Notification]]] = []
        for event in events:
            routed = await self.desk.dispatch(store, scope, event, now)
            notes.extend(routed)
            told.append((event, routed))
        # A DOWN suppressed earlier (maintenance, connectivity) whose suppression has ended.
        follow_up = self.desk.follow_up(scope, down, now)
        notes += follow_up or []
        row = ResultRow(
            key=sc.key,
            client=sc.ref.client,
            site=sc.ref.site,
            check=sc.ref.check,
            ok=result.ok,
            message=result.message,
            warning=result.warning,
            duration=result.duration,
            at=now,
            details=dict(result.details),
        )
        durable = (
            bool(notes)
            or (incident is not None and incident.ended is not None)
            or (ev.state.status != state.status)
            or site_ev is not None
        )
        state_json = ev.state.to_json()
        also = None
        if site_ev is not None:
            assert sc.sref is not None
            also = {SITE_KEY_PREFIX + sc.sref.key: site_ev.state.to_json()}

        async def commit() -> None:
            await store.write(
                sc.key,
                state_json,
                row,
                notifications=notes,
                incident=incident if durable else None,
                now=now,
                also=also,
            )
            # Stored: now the memory may follow (before anyone is told).
            self.states[sc.key] = ev.state
            if site_ev is not None:
                assert sc.sref is not None
                self.site_states[sc.sref.key] = site_ev.state

        # Retried until stored; then the listeners, the log and the sender: the one pipeline.
        await self.pipeline.emit(f"state of {sc.key}", told, commit)
        if follow_up is not None:
            await self.desk.drop_suppressed(store, scope)
            if follow_up:
                self.pipeline.wake()
        return events

    def _incident_of(
        self, sc: ScheduledCheck, before: CheckState, ev: Evaluation, now: datetime
    ) -> tuple[list[Event], IncidentRow | None, SiteEvaluation | None, bool]:
        """The events to route, the incident row to store, the site step (None when the site
        state did not change, or the site is per-check) and whether the incident is open."""
        if sc.sref is None:
            row = _incident_row(sc.key, sc.ref, ev.incident)
            return ev.events, row, None, ev.state.status == "down"
        site = self.site_states.get(sc.sref.key, SiteState())
        step = site_step(site, sc.sref, sc.ref, before, ev, sc.site.alert, now)
        row = _site_incident_row(sc.sref, step)
        changed = step if step.state != site else None
        return step.events, row, changed, step.state.open


def _incident_row(key: str, ref: CheckRef, i: IncidentChange | None) -> IncidentRow | None:
    if i is None:
        return None
    return IncidentRow(
        id=i.id,
        key=key,
        client=ref.client,
        site=ref.site,
        check=ref.check,
        started=i.started,
        ended=i.ended,
        summary=i.summary,
        last_message=i.last_message,
    )


def _site_incident_row(sref: SiteRef, step: SiteEvaluation) -> IncidentRow | None:
    """The site incident's one row (keyed by the site): ``check`` lists the failing checks."""
    i = step.incident
    if i is None:
        return None
    failing = ", ".join(f.check for f in step.state.failing) if i.ended is None else ""
    return IncidentRow(
        id=i.id,
        key=sref.key,
        client=sref.client,
        site=sref.site,
        check=failing,
        started=i.started,
        ended=i.ended,
        summary=i.summary,
        last_message=i.last_message,
    )
