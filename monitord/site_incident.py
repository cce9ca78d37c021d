"""One incident per site (pure): a site's availability checks share one incident.

Per-check thresholds, reminders and flapping stay in :mod:`monitord.incidents`;
:func:`site_step` folds each check's evaluation into its site's incident and returns the
site-level events that replace the check's. Certificate warnings pass through on their own
thread. No clock, no I/O: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitord.config.models import AlertPolicy
from monitord.events import Event, EventKind
from monitord.incidents import (
    CheckRef,
    CheckState,
    Evaluation,
    IncidentChange,
    _iso,
    _short,
)

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


def _fold_check_event(
    s: SiteState,
    sref: SiteRef,
    ref: CheckRef,
    after: CheckState,
    e: Event,
    recovered_from: Failing | None,
    now: datetime,
    out: list[Event],
) -> SiteState:
    """One check-level event folded into the site incident: appends the site-level events
    to ``out`` and returns the site state after it. Check-level reminders give way to the
    site's; a check-level recovery of a check not in the incident (never counted) has
    nothing to close."""
    label = ref.label
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
        thread = s.thread or s.incident_id or s.last_thread or f"{sref.key}@flapping@{_iso(now)}"
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
    return s


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
        s = _fold_check_event(s, sref, ref, after, e, recovered_from, now, out)

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
