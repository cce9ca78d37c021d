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
from monitord.probes.base import ProbeResult

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


# ---------------------------------------------------------------- one incident per site

SITE_KEY_PREFIX = "site:"
"""Site incident states are stored beside the check states under ``site:{client}/{site}``."""


@dataclass(frozen=True, slots=True)
class SiteRef:
    """Who a site incident belongs to, for the events it makes."""

    key: str
    """``{client}/{site}``: what the site's work is serialised on and its state stored under
    (with SITE_KEY_PREFIX)."""
    client: str
    site: str
    url: str
    """The site's display URL (``Site.display_url``), never one with secrets."""
    client_name: str
    site_name: str


@dataclass(frozen=True, slots=True)
class Failing:
    """One check that fails inside a site incident."""

    check: str
    label: str
    """``{type} {target}``: ``tcp solr.acme.example:8983``, ``http https://www.acme.example/``."""
    message: str
    """What its result said when it joined (``connection refused``)."""
    since: datetime

    @property
    def line(self) -> str:
        return f"{self.label}: {self.message}" if self.message else self.label


_SITE_TIME_FIELDS = ("started", "last_notice")


@dataclass(frozen=True, slots=True)
class SiteState:
    """The site's incident: opened by its first failing check, closed by its last recovery."""

    incident_id: str | None = None
    started: datetime | None = None
    """The first failing probe of the first failing check."""
    thread: str | None = None
    """Where the incident's notices go: its id, or the flapping thread it opened on."""
    failing: tuple[Failing, ...] = ()
    """Checks failing now, in the order they failed."""
    failed: tuple[str, ...] = ()
    """Every check that failed during this incident (``Failing.line``), for the recovery."""
    notified: bool = False
    """A site-down of this incident was told (else its recovery is silent too)."""
    last_notice: datetime | None = None
    """Last site-down or reminder, for ``repeat_every``."""
    flap_thread: str | None = None
    """The thread of a flapping notice while a check of the site flaps."""
    last_thread: str | None = None
    """The thread of the incident closed last: a check that starts flapping by coming back
    comments there."""

    @property
    def open(self) -> bool:
        return self.incident_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "started": _opt_iso(self.started),
            "thread": self.thread,
            "failing": [
                {"check": f.check, "label": f.label, "message": f.message, "since": _iso(f.since)}
                for f in self.failing
            ],
            "failed": list(self.failed),
            "notified": self.notified,
            "last_notice": _opt_iso(self.last_notice),
            "flap_thread": self.flap_thread,
            "last_thread": self.last_thread,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SiteState:
        def t(v: Any) -> datetime | None:
            return datetime.fromisoformat(v) if isinstance(v, str) and v else None

        failing = tuple(
            Failing(
                str(f["check"]),
                str(f["label"]),
                str(f.get("message", "")),
                t(f.get("since")) or datetime.fromisoformat(d["started"]),
            )
            for f in d.get("failing", ())
        )
        return cls(
            incident_id=d.get("incident_id"),
            started=t(d.get("started")),
            thread=d.get("thread"),
            failing=failing,
            failed=tuple(str(x) for x in d.get("failed", ())),
            notified=bool(d.get("notified", False)),
            last_notice=t(d.get("last_notice")),
            flap_thread=d.get("flap_thread"),
            last_thread=d.get("last_thread"),
        )


def _opt_iso(t: datetime | None) -> str | None:
    return _iso(t) if t is not None else None


@dataclass(frozen=True, slots=True)
class SiteEvaluation:
    state: SiteState
    events: list[Event] = field(default_factory=list)
    incident: IncidentChange | None = None
    """The site incident as it is now, when this step opened, changed or closed it."""


def check_label(check_type: str, target: str, check: str) -> str:
    """How a check is named in messages: its type and target (``tcp host:port``), or its id
    when it has no target of its own (a heartbeat)."""
    return f"{check_type} {target or check}"


def site_step(
    site: SiteState,
    sref: SiteRef,
    ref: CheckRef,
    before: CheckState,
    ev: Evaluation,
    policy: AlertPolicy,
    now: datetime,
) -> SiteEvaluation:
    """Fold one check's evaluation (``before`` → ``ev.state``, with its check-level events) into
    its site's incident; returns the site-level events that replace the check's.

    * the first check DOWN opens the site incident: ``site-down`` naming the failing checks;
    * a check DOWN while it is open joins it: ``site-update`` (a comment on its ticket);
    * a check back UP while others still fail: ``site-update``; the last one back closes it:
      ``site-recovered`` with the whole duration and every check that failed;
    * reminders every ``repeat_every`` per site incident (``site-reminder``, naming what fails);
    * flapping is judged per check; its notice goes on the site incident's thread (or the one
      just closed), and so does everything after it;
    * certificate warnings pass through unchanged (their own kind and thread).

    Pure: no clock, no I/O; ``now`` is the result's time."""
    label = ref.label
    after = ev.state
    out: list[Event] = [e for e in ev.events if e.kind == "certificate"]
    check_events = [e for e in ev.events if e.kind != "certificate"]
    s = site
    was_in = any(f.check == ref.check for f in s.failing)
    is_down = after.status == "down"
    changed = False
    closed_thread: str | None = None
    recovered_from: Failing | None = None

    if not was_in and not s.open and before.status == "down" and before.incident_id is not None:
        # A check already down before this step (its state predates site incidents, or the
        # site was per-check) brings its incident along, whatever this result says: its id
        # (so its stored row becomes the site's, not a ghost left open), thread and notice.
        assert before.incident_started is not None
        adopted = Failing(ref.check, label, before.last_error, before.incident_started)
        s = replace(
            s,
            incident_id=before.incident_id,
            started=before.incident_started,
            thread=before.thread or before.incident_id,
            failing=(adopted,),
            failed=(adopted.line,),
            notified=before.down_notified,
            last_notice=before.last_notice,
        )
        was_in = changed = True
    if is_down and not was_in:
        start = after.incident_started or now
        if not s.open:
            iid = f"{sref.key}@{_iso(start)}"
            s = replace(
                s,
                incident_id=iid,
                started=start,
                thread=s.flap_thread,
                failing=(),
                failed=(),
                notified=False,
                last_notice=None,
            )
        joined = Failing(ref.check, label, after.last_error, start)
        s = replace(s, failing=(*s.failing, joined), failed=_add_failed(s.failed, joined))
        changed = True
    elif not is_down and was_in:
        recovered_from = next(f for f in s.failing if f.check == ref.check)
        s = replace(s, failing=tuple(f for f in s.failing if f.check != ref.check))
        changed = True

    for e in check_events:
        if e.kind == "site-down":  # opened, or settled down after flapping
            if not s.notified:
                out.append(_site_event(sref, s, "site-down", now, "down", ref, e))
                s = replace(s, notified=True, last_notice=now)
            else:
                out.append(
                    _site_event(sref, s, "site-update", now, f"joined/{ref.check}/{_iso(now)}",
                                ref, e, note=f"{label} fails too: {after.last_error}")
                )  # fmt: skip
        elif e.kind == "site-flapping":
            thread = (
                s.thread or s.incident_id or s.last_thread or f"{sref.key}@flapping@{_iso(now)}"
            )
            s = replace(s, flap_thread=thread)
            if s.open and s.thread is None and s.incident_id != thread:
                s = replace(s, thread=thread)
            out.append(_rethread(e, sref, thread, f"flapping/{ref.check}/{_iso(now)}",
                                 f"{sref.site} is flapping: {label} changed state "
                                 f"{e.details.get('transitions', '')} times; notices about it "
                                 "are paused until it is stable"))  # fmt: skip
        elif e.kind == "site-recovered" and e.key.endswith("/stable"):
            thread = s.flap_thread or s.last_thread or s.thread or s.incident_id or e.thread
            s = replace(s, flap_thread=None)
            if s.open:
                if s.notified:
                    out.append(_site_event(sref, s, "site-update", now,
                                           f"stable/{ref.check}/{_iso(now)}", ref, e,
                                           note=f"{label} has stopped flapping and is up"))  # fmt: skip
            else:
                out.append(_rethread(e, sref, thread, f"stable/{ref.check}",
                                     f"{sref.site} has stopped flapping and is up"))  # fmt: skip
        elif e.kind == "site-recovered" and recovered_from is not None and s.failing:
            if s.notified:
                out.append(_site_event(sref, s, "site-update", now,
                                       f"back/{ref.check}/{_iso(now)}", ref, e,
                                       note=f"{label} is back up (it failed with: "
                                       f"{recovered_from.message})"))  # fmt: skip
        elif e.kind == "site-recovered" and recovered_from is not None and s.notified:
            assert s.started is not None
            out.append(_site_event(sref, s, "site-recovered", now, "recovered", ref, e))
        # Check-level reminders give way to the site's (below); a check-level recovery of a
        # check not in the incident (never counted) has nothing to close.

    if recovered_from is not None and not s.failing:
        closed_thread = s.thread or s.incident_id
    if (
        s.open
        and is_down
        and s.notified
        and not after.flapping
        and policy.repeat_every is not None
        and s.last_notice is not None
        and now - s.last_notice >= policy.repeat_every
        and not any(e.kind in ("site-down", "site-update") for e in out)
    ):
        out.append(_site_event(sref, s, "site-reminder", now, f"reminder/{_iso(now)}", ref, None))
        s = replace(s, last_notice=now)
        changed = True
    incident = None
    if s.open and (changed or out):
        assert s.incident_id is not None and s.started is not None
        ended = now if closed_thread is not None else None
        incident = IncidentChange(
            s.incident_id,
            s.started,
            ended,
            site_summary(sref, s, closed=ended is not None),
            "; ".join(f.line for f in s.failing) if s.failing else "; ".join(s.failed),
        )
    if closed_thread is not None:
        s = replace(
            s,
            incident_id=None,
            started=None,
            thread=None,
            failing=(),
            failed=(),
            notified=False,
            last_notice=None,
            last_thread=closed_thread,
        )
    return SiteEvaluation(s, out, incident)


def site_check_removed(
    site: SiteState, sref: SiteRef, ref: CheckRef, reason: str, now: datetime
) -> SiteEvaluation:
    """A check removed from the configuration leaves its site's incident: a comment while
    others still fail; when none is left, the incident closes like a recovery (``removed``)."""
    label = ref.label
    gone = next((f for f in site.failing if f.check == ref.check), None)
    if gone is None or not site.open:
        return SiteEvaluation(site)
    iid, started = site.incident_id, site.started
    assert iid is not None and started is not None
    left = tuple(f for f in site.failing if f.check != ref.check)
    s = replace(site, failing=left)
    events: list[Event] = []
    if left:
        if s.notified:
            events.append(_site_event(sref, s, "site-update", now,
                                      f"removed/{ref.check}/{_iso(now)}", ref, None,
                                      note=f"{label}: {reason}; it no longer counts"))  # fmt: skip
        inc = IncidentChange(
            iid, started, None, site_summary(sref, s), "; ".join(f.line for f in left)
        )
        return SiteEvaluation(s, events, inc)
    if s.notified:
        thread = s.thread or iid
        down_for = now - started
        events.append(
            Event(
                kind="site-recovered",
                client=sref.client,
                site=sref.site,
                check=ref.check,
                at=now,
                key=f"{thread}/removed",
                thread=thread,
                summary=f"{sref.site}: {reason}; the incident is closed without a recovery",
                severity="info",
                details={
                    **_site_details(sref, s),
                    "message": "; ".join(s.failed),
                    "ended": _iso(now),
                    "down_for_seconds": int(down_for.total_seconds()),
                    "removed": reason,
                },
            )
        )
    inc = IncidentChange(iid, started, now, site_summary(sref, s, closed=True), reason)
    closed = replace(
        SiteState(), last_thread=s.thread or s.incident_id, flap_thread=site.flap_thread
    )
    return SiteEvaluation(closed, events, inc)


def site_summary(sref: SiteRef, s: SiteState, *, closed: bool = False) -> str:
    """The incident's one line: ``acme-www down: tcp solr.acme.example:8983: connection
    refused; http https://www.acme.example/: HTTP 503`` (what failed, when closed)."""
    lines = s.failed if closed or not s.failing else tuple(f.line for f in s.failing)
    return f"{sref.site} down: " + "; ".join(lines)


def _add_failed(failed: tuple[str, ...], f: Failing) -> tuple[str, ...]:
    return failed if f.line in failed else (*failed, f.line)


def _site_details(sref: SiteRef, s: SiteState) -> dict[str, Any]:
    return {
        "url": sref.url,
        "client_name": sref.client_name,
        "site_name": sref.site_name,
        "failing": [f.line for f in s.failing],
        "started": _iso(s.started) if s.started is not None else None,
    }


def _site_event(
    sref: SiteRef,
    s: SiteState,
    kind: EventKind,
    now: datetime,
    suffix: str,
    ref: CheckRef,
    check_event: Event | None,
    *,
    note: str = "",
) -> Event:
    assert s.incident_id is not None and s.started is not None
    thread = s.thread or s.incident_id
    failing = "; ".join(f.line for f in s.failing)
    details = _site_details(sref, s)
    details["check"] = ref.check
    if kind == "site-down":
        summary, severity = f"{sref.site} is down: {failing}", "critical"
        details["message"] = failing
        if check_event is not None and "failures" in check_event.details:
            details["failures"] = check_event.details["failures"]
    elif kind == "site-reminder":
        down_for = now - s.started
        summary, severity = f"{sref.site} is still down: {failing}", "critical"
        details["message"] = failing
        details["down_for_seconds"] = int(down_for.total_seconds())
    elif kind == "site-update":
        still = f"; failing now: {failing}" if s.failing else ""
        summary, severity = f"{sref.site}: {note}{still}", "error"
        details["message"] = note
    else:  # site-recovered: the last failing check is back
        down_for = now - s.started
        summary = f"{sref.site} is back up after {_short(down_for)}"
        severity = "info"
        details["failing"] = []
        details["failed"] = list(s.failed)
        details["message"] = "; ".join(s.failed)
        details["ended"] = _iso(now)
        details["down_for_seconds"] = int(down_for.total_seconds())
    return Event(
        kind=kind,
        client=sref.client,
        site=sref.site,
        check=None,
        at=now,
        key=f"{thread}/{suffix}",
        thread=thread,
        summary=summary,
        severity=severity,  # type: ignore[arg-type]
        details=details,
    )


def _rethread(e: Event, sref: SiteRef, thread: str, suffix: str, summary: str) -> Event:
    details = dict(e.details)
    details["url"] = sref.url
    return replace(e, thread=thread, key=f"{thread}/{suffix}", summary=summary, details=details)
