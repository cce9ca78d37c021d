"""The incident engine: from probe results to DOWN / UP / FLAPPING transitions and events.

Pure: ``evaluate(state, result, policy, ref, now)`` returns the next state and the events to
route. No clock, no I/O. The daemon persists the state (as JSON) in the store in the same
transaction as the notifications made from the events, so a restart neither forgets an incident
nor re-sends its DOWN notice.

Rules (per check):

* an *inconclusive* result (the monitor could not probe: out of open files) leaves the state
  as it was;
* a check goes DOWN after ``failure_threshold`` consecutive failures and UP after
  ``success_threshold`` consecutive successes; the first verdict after start (from *unknown*) is
  silent when it is UP, and a DOWN is notified;
* one notice per transition, a reminder every ``repeat_every`` while down, and a recovery notice
  that says how long it was down (from the first failing probe);
* FLAP_TRANSITIONS state changes within FLAP_WINDOW make the check *flapping*: one notice, then
  silence until it has been stable for a whole FLAP_WINDOW, when its settled state is notified.
  The flapping notice goes on the thread of the incident it began with (the one just opened or
  just closed by the fourth change), so it is a comment on that incident's ticket and threads
  with its mail; the settled state goes on that thread too, and so does everything about an
  incident open when it settles (reminders, its recovery): one ticket, resolved once;
* per site (``alert.incident: per-site``, the default), :func:`site_step` then folds each
  check's transitions into the site's one incident: the first check DOWN opens it, others join
  it (``site-update``), the last one back closes it; every message names the failing checks
  with their targets (``tcp solr.acme.example:8983: connection refused``);
* a passing TLS check with a warning (certificate close to expiry) makes a ``certificate`` event
  when the warning first appears, and again when the days left cross 7, 3 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from monitord.config.models import AlertPolicy
from monitord.events import Event, EventKind, Severity
from monitord.limits import FLAP_TRANSITIONS, FLAP_WINDOW
from monitord.results import ProbeResult

Status = Literal["unknown", "up", "down"]

CERT_STAGES = (7, 3, 1)
"""Days left at which a certificate warning is repeated, after the first one at min_days_left."""


@dataclass(frozen=True, slots=True)
class CheckRef:
    """Who a check belongs to, for the events it makes."""

    key: str
    client: str
    site: str
    check: str
    check_type: str
    url: str
    """The display form (``Site.display_url``): never the probe's URL with its secrets."""
    client_name: str
    site_name: str
    target: str = ""
    """What the check probes, in display form: ``solr.acme.example:8983``, a URL (no secrets)."""

    @property
    def label(self) -> str:
        """``tcp solr.acme.example:8983``: how messages name the check."""
        return check_label(self.check_type, self.target, self.check)


_TIME_FIELDS = ("since", "first_failure", "incident_started", "last_notice", "flap_started")


@dataclass(frozen=True, slots=True)
class CheckState:
    status: Status = "unknown"
    since: datetime | None = None
    """When ``status`` became current."""
    failures: int = 0
    """Consecutive failing results."""
    successes: int = 0
    """Consecutive passing results."""
    first_failure: datetime | None = None
    """First failing result of the current run of failures."""
    incident_id: str | None = None
    incident_started: datetime | None = None
    down_notified: bool = False
    last_notice: datetime | None = None
    """Last DOWN notice or reminder, for ``repeat_every``."""
    last_message: str = ""
    last_error: str = ""
    """Message of the latest failing result (what a recovery notice calls the problem)."""
    flips: tuple[datetime, ...] = ()
    """Instants of recent UP<->DOWN changes (inside FLAP_WINDOW)."""
    flapping: bool = False
    flap_thread: str | None = None
    flap_started: datetime | None = None
    thread: str | None = None
    """Where the open incident's notices go when not on its own id: the flapping thread it
    settled on (None: ``incident_id``)."""
    cert_stage: int | None = None
    """Smallest days-left stage already warned about; None when no warning is active."""

    def to_json(self) -> dict[str, Any]:
        # Every field is a scalar or a tuple of datetimes: a shallow copy is enough
        # (dataclasses.asdict's deep copy cost 2 % of the daemon's CPU, docs/benchmarks.md).
        d = {name: getattr(self, name) for name in _FIELD_NAMES}
        for k in _TIME_FIELDS:
            v = d[k]
            d[k] = v.isoformat() if v is not None else None
        d["flips"] = [f.isoformat() for f in self.flips]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CheckState:
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        for k in _TIME_FIELDS:
            if d.get(k):
                d[k] = datetime.fromisoformat(d[k])
        d["flips"] = tuple(datetime.fromisoformat(f) for f in d.get("flips", ()))
        return cls(**d)


_FIELD_NAMES = tuple(f.name for f in fields(CheckState))


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """An incident opened, updated or closed by this evaluation."""

    id: str
    started: datetime
    ended: datetime | None
    summary: str
    last_message: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    state: CheckState
    events: list[Event] = field(default_factory=list)
    incident: IncidentChange | None = None


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _event(
    ref: CheckRef,
    kind: EventKind,
    now: datetime,
    thread: str,
    key_suffix: str,
    summary: str,
    severity: Severity,
    **details: Any,
) -> Event:
    base = {
        "check_type": ref.check_type,
        "url": ref.url,
        "client_name": ref.client_name,
        "site_name": ref.site_name,
    }
    if ref.target:
        base["target"] = ref.target
    base.update(details)
    return Event(
        kind=kind,
        client=ref.client,
        site=ref.site,
        check=ref.check,
        at=now,
        key=f"{thread}/{key_suffix}",
        thread=thread,
        summary=summary,
        severity=severity,
        details=base,
    )


def evaluate(
    state: CheckState,
    result: ProbeResult,
    policy: AlertPolicy,
    ref: CheckRef,
    now: datetime,
    min_days_left: int | None = None,
) -> Evaluation:
    """Fold one probe result into the check's state. ``now`` is the result's time (UTC).

    An inconclusive result (the monitor could not run the probe) changes nothing: it is no
    evidence about the site, so it neither counts toward a threshold nor breaks a run."""
    if result.inconclusive:
        return Evaluation(state)
    events: list[Event] = []
    incident: IncidentChange | None = None
    s = state
    flips = tuple(f for f in s.flips if now - f < FLAP_WINDOW)
    s = replace(s, flips=flips, last_message=result.message)

    # Certificate warnings are independent of up/down.
    s, cert_event = _certificate(s, result, ref, now, min_days_left)
    if cert_event is not None:
        events.append(cert_event)

    if result.ok:
        s = replace(s, successes=s.successes + 1, failures=0)
        if s.status == "unknown" and s.successes >= policy.success_threshold:
            s = replace(s, status="up", since=now, first_failure=None)
        elif s.status == "down" and s.successes >= policy.success_threshold:
            assert s.incident_id is not None and s.incident_started is not None
            inc_id, started = s.incident_id, s.incident_started
            down_for = now - started
            s = replace(
                s,
                status="up",
                since=now,
                flips=(*s.flips, now),
                first_failure=None,
            )
            incident = IncidentChange(
                inc_id, started, now, f"{ref.site} {ref.check} down", result.message
            )
            if not s.flapping and s.down_notified and len(s.flips) < FLAP_TRANSITIONS:
                events.append(
                    _event(
                        ref,
                        "site-recovered",
                        now,
                        s.thread or inc_id,
                        f"recovered/{inc_id}" if s.thread else "recovered",
                        f"{ref.site} is back up after {_short(down_for)}",
                        "info",
                        message=_named(ref, s.last_error),
                        started=_iso(started),
                        ended=_iso(now),
                        down_for_seconds=int(down_for.total_seconds()),
                    )
                )
            s = replace(
                s, incident_id=None, incident_started=None, down_notified=False, thread=None
            )
        elif s.status == "unknown":
            s = replace(s, first_failure=None)
    else:
        first = s.first_failure if s.failures > 0 and s.first_failure else now
        s = replace(
            s, failures=s.failures + 1, successes=0, first_failure=first, last_error=result.message
        )
        if s.status != "down" and s.failures >= policy.failure_threshold:
            incident_id = f"{ref.key}@{_iso(first)}"
            was_up = s.status == "up"
            s = replace(
                s,
                status="down",
                since=now,
                incident_id=incident_id,
                incident_started=first,
                flips=(*s.flips, now) if was_up else s.flips,
            )
            incident = IncidentChange(
                incident_id, first, None, f"{ref.site} {ref.check} down", result.message
            )
            if not s.flapping and len(s.flips) < FLAP_TRANSITIONS:
                events.append(_down_event(ref, s, result, now, "down"))
                s = replace(s, down_notified=True, last_notice=now)
        elif s.status == "down":
            assert s.incident_id is not None and s.incident_started is not None
            incident = IncidentChange(
                s.incident_id,
                s.incident_started,
                None,
                f"{ref.site} {ref.check} down",
                result.message,
            )
            if (
                s.down_notified
                and not s.flapping
                and policy.repeat_every is not None
                and s.last_notice is not None
                and now - s.last_notice >= policy.repeat_every
            ):
                down_for = now - s.incident_started
                events.append(
                    _down_event(
                        ref,
                        s,
                        result,
                        now,
                        f"reminder/{_iso(now)}",
                        kind="site-reminder",
                        down_for_seconds=int(down_for.total_seconds()),
                    )
                )
                s = replace(s, last_notice=now)

    closed = None
    if incident is not None and incident.ended is not None:
        closed = state.thread or incident.id  # where that incident's notices went
    s, flap_events = _flapping(s, result, ref, now, closed)
    events.extend(flap_events)
    return Evaluation(s, events, incident)


def close_removed(state: CheckState, ref: CheckRef, now: datetime, reason: str) -> Evaluation:
    """A check removed from the configuration: its open incident ends now, and an event that
    resolves like a recovery (same thread, so its ticket is commented on and resolved and a
    page is resolved) says why, when anyone was told about the incident. The state returned is
    a fresh one (the check is gone; a check added later under the same key starts anew).

    ``reason`` is what the incident's last message and the notice say, e.g. "site removed
    from the configuration"."""
    thread = state.thread or state.incident_id or (state.flap_thread if state.flapping else None)
    if thread is None:
        return Evaluation(CheckState())
    incident = None
    started = state.incident_started or state.flap_started or now
    if state.incident_id is not None and state.incident_started is not None:
        incident = IncidentChange(
            state.incident_id, state.incident_started, now, f"{ref.site} {ref.check} down", reason
        )
    events = []
    if state.down_notified or state.flapping:
        down_for = now - started if state.status == "down" else timedelta(0)
        events.append(
            _event(
                ref,
                "site-recovered",
                now,
                thread,
                "removed",
                f"{ref.site} {ref.check}: {reason}; the incident is closed without a recovery",
                "info",
                message=state.last_error,
                started=_iso(started),
                ended=_iso(now),
                down_for_seconds=int(down_for.total_seconds()),
                removed=reason,
            )
        )
    return Evaluation(CheckState(), events, incident)


def _down_event(
    ref: CheckRef,
    s: CheckState,
    result: ProbeResult,
    now: datetime,
    suffix: str,
    kind: EventKind = "site-down",
    **extra: Any,
) -> Event:
    assert s.incident_id is not None and s.incident_started is not None
    what = "still down" if kind == "site-reminder" else "down"
    message = _named(ref, result.message)
    return _event(
        ref,
        kind,
        now,
        s.thread or s.incident_id,
        suffix,
        f"{ref.site} is {what}: {message}",
        "critical",
        message=message,
        started=_iso(s.incident_started),
        failures=s.failures,
        **extra,
    )


def _named(ref: CheckRef, message: str) -> str:
    """``tcp solr.acme.example:8983: connection refused``: a check's problem with its target
    (as it was when the ref has none, e.g. one built by hand)."""
    return f"{ref.label}: {message}" if ref.target else message


def _flapping(
    s: CheckState, result: ProbeResult, ref: CheckRef, now: datetime, closed: str | None
) -> tuple[CheckState, list[Event]]:
    events: list[Event] = []
    if not s.flapping and len(s.flips) >= FLAP_TRANSITIONS:
        # A change of state just happened (only changes fill ``flips``): the incident it opened
        # (now down), or the one it closed (now up; ``closed`` is its thread).
        thread = s.thread or s.incident_id or closed or f"{ref.key}@flapping@{_iso(now)}"
        s = replace(s, flapping=True, flap_thread=thread, flap_started=s.flips[0])
        events.append(
            _event(
                ref,
                "site-flapping",
                now,
                thread,
                "flapping",
                f"{ref.site} is flapping: {len(s.flips)} changes within "
                f"{_short(FLAP_WINDOW)}; notices paused until it is stable",
                "error",
                message=result.message,
                transitions=len(s.flips),
                window_seconds=int(FLAP_WINDOW.total_seconds()),
                started=_iso(s.flips[0]),
            )
        )
    elif s.flapping and (not s.flips or now - s.flips[-1] >= FLAP_WINDOW):
        thread = s.flap_thread or f"{ref.key}@flapping"
        flap_started = s.flap_started or now
        s = replace(s, flapping=False, flap_thread=None, flap_started=None)
        if s.status == "down" and s.incident_id is not None:
            if s.incident_id != thread:
                s = replace(s, thread=thread)  # the open incident goes on the flapping ticket
            events.append(_down_event(ref, s, result, now, f"settled/{s.incident_id}"))
            s = replace(s, down_notified=True, last_notice=now)
        elif s.status == "up":
            events.append(
                _event(
                    ref,
                    "site-recovered",
                    now,
                    thread,
                    "stable",
                    f"{ref.site} has stopped flapping and is up",
                    "info",
                    message=result.message,
                    started=_iso(flap_started),
                    ended=_iso(now),
                    down_for_seconds=0,
                )
            )
    return s, events


def _certificate(
    s: CheckState, result: ProbeResult, ref: CheckRef, now: datetime, min_days_left: int | None
) -> tuple[CheckState, Event | None]:
    days = result.details.get("cert_days_left")
    if not result.ok or result.warning is None or not isinstance(days, int | float):
        if result.ok and s.cert_stage is not None:
            return replace(s, cert_stage=None), None
        return s, None
    first_stage = min_days_left if min_days_left is not None else 14
    stages = sorted({first_stage, *CERT_STAGES}, reverse=True)
    # The smallest stage the days-left figure has reached.
    reached = min((st for st in stages if days < st), default=first_stage)
    if s.cert_stage is not None and reached >= s.cert_stage:
        return s, None
    not_after = str(result.details.get("cert_not_after", ""))
    ev = _event(
        ref,
        "certificate",
        now,
        f"{ref.key}@certificate@{not_after or 'unknown'}",
        f"stage-{reached}",
        f"{ref.site}: {result.warning}",
        "warning",
        days_left=int(days),
        not_after=not_after,
        host=str(result.details.get("host", "")),
        warning=result.warning,
    )
    return replace(s, cert_stage=reached), ev


def _short(td: timedelta) -> str:
    from monitord.durations import format_duration

    return format_duration(td)


def check_label(check_type: str, target: str, check: str) -> str:
    """How a check is named in messages: its type and target (``tcp host:port``), or its id
    when it has no target of its own (a heartbeat)."""
    return f"{check_type} {target or check}"
