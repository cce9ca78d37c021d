"""Advisories into decisions: which site is affected, why, and what happens — pure.

Nothing here reads a clock, a file or a socket: ``now`` and the agency calendar are passed in.

* :func:`match` — is a site affected by one advisory, and why (package, installed version,
  constraint or psa.json's insecure list). ``affected`` is None when it cannot be told (no
  inventory, an unparseable version): a person must check by hand.
* :func:`decide` — the action for one (advisory, site): ``now`` (affected and Highly critical,
  score 20–25 or the label), ``patch-day`` (affected, anything less; with the date from
  :func:`monitord.calendar.next_patch_day`), ``unknown`` (core advisory, inventory unknown: to
  the agency, "check by hand") or ``none``.
* :func:`transition` — what a (re-)decision changes given what was decided before: a raise to
  Highly critical takes the ``now`` path; a pair already acted on ``now`` is never acted on
  again; a correction that makes a site no longer affected removes its queued item.
* :func:`heads_up` — a PSA announcing an upcoming highly critical release: its window (for
  faster polling) and when the on-call person is told.
* Event builders for ``security-now``, ``security-unknown``, ``psa-heads-up`` and ``patch-day``,
  with deterministic keys so the outbox never holds one twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from monitord.calendar import BusinessCalendar, next_patch_day
from monitord.drupal.advisory import Advisory
from monitord.drupal.feeds import psa_window
from monitord.drupal.inventory import Inventory
from monitord.drupal.versions import parse_constraint, parse_version
from monitord.errors import VersionError
from monitord.events import Event

Action = Literal["now", "patch-day", "unknown", "none"]

ACTION_RANK: dict[str, int] = {"none": 0, "unknown": 1, "patch-day": 2, "now": 3}
"""When one advisory id has several records (psa.json lists one per project), the strongest
action over them is the pair's decision."""

PSA_HEADS_UP_LEAD = timedelta(hours=2)
"""The on-call person is told this long before a PSA's announced window opens: late enough to
be remembered, early enough to be at a keyboard when the release lands."""

PSA_DEFAULT_WINDOW = (time(16, 0), time(22, 0))
"""When a PSA names a day but no times, drupal.org's usual release window that day (UTC)."""

WINDOW_SEARCH_CHARS = 200
"""How far after a date a time range may be written and still belong to that date."""

UNKNOWN_INVENTORY = "inventory unknown — check by hand"


@dataclass(frozen=True, slots=True)
class SiteRef:
    """The facts about a site that deciding needs (built from the config by the caller)."""

    client: str
    site: str
    client_name: str = ""
    site_name: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """Whether a site is affected by an advisory, and why."""

    affected: bool | None
    """None: cannot tell (no inventory, unparseable version or constraint) — check by hand."""
    reason: str
    package: str | None = None
    installed: str | None = None
    """The version installed, as the inventory wrote it."""
    constraint: str | None = None
    """The affected versions as drupal.org wrote them (or psa.json's insecure list, joined)."""
    fixed: str | None = None
    """A release to move to, when the advisory names one on the installed branch."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one (advisory, site) pair and everything a message about it needs."""

    advisory: str
    site: SiteRef
    action: Action
    match: Match
    fingerprint: str
    """What the decision was made on (:func:`decision_fingerprint`)."""
    patch_day: datetime | None = None
    """For ``patch-day``: 09:00 agency time on the patch day the item is ticketed."""
    highly_critical: bool = False

    @property
    def installed(self) -> str | None:
        return self.match.installed

    @property
    def reason(self) -> str:
        return self.match.reason


# ---------------------------------------------------------------- matching


def _same_version(a: str, b: str) -> bool:
    try:
        return parse_version(a) == parse_version(b)
    except VersionError:
        return a.strip() == b.strip()


_RELEASE_LINK = re.compile(r"/releases/([0-9][0-9A-Za-z.\-x]*)")
_VERSION_WORD = re.compile(
    r"(?<![\w.])(\d+\.x-\d+\.\d+(?:-[A-Za-z]+\d*)?|\d+\.\d+(?:\.\d+)?)(?!\w|\.\w)"
)


def _affects_release(advisory: Advisory, raw: str, v: Any) -> bool:
    """Whether ``advisory`` affects the release ``raw`` (parsed: ``v``); an unreadable
    constraint counts as not saying so (the advisory is then matched by hand anyway)."""
    if advisory.affected:
        try:
            if parse_constraint(advisory.affected).matches(v):
                return True
        except VersionError:
            pass
    return any(_same_version(raw, i) for i in advisory.insecure_versions)


def _named_releases(advisory: Advisory) -> dict[str, Any]:
    """The releases ``advisory``'s solution names (text and link): raw -> parsed, no branches."""
    text = " ".join(p for p in (advisory.solution, advisory.solution_link) if p)
    out: dict[str, Any] = {}
    for raw in [*_RELEASE_LINK.findall(text), *_VERSION_WORD.findall(text)]:
        try:
            v = parse_version(raw)
        except VersionError:
            continue
        if not v.is_branch:
            out.setdefault(raw, v)
    return out


@dataclass(frozen=True, slots=True)
class ReleaseTargets:
    """Per package, the releases the advisories' solutions name that NONE of the advisories
    for that package affects, lowest first. Built once per round (:meth:`of`), so matching
    many sites costs a short scan each, not a pass over every advisory."""

    safe: Mapping[str, tuple[tuple[Any, str], ...]]

    @classmethod
    def of(cls, advisories: Iterable[Advisory]) -> ReleaseTargets:
        pools: dict[str, list[Advisory]] = {}
        for a in advisories:
            if a.package is not None and a.kind != "psa":
                pools.setdefault(a.package, []).append(a)
        safe: dict[str, tuple[tuple[Any, str], ...]] = {}
        for package, pool in pools.items():
            named: dict[str, Any] = {}
            for a in pool:
                for raw, v in _named_releases(a).items():
                    named.setdefault(raw, v)
            ok = [
                (v, raw)
                for raw, v in named.items()
                if not any(_affects_release(a, raw, v) for a in pool)
            ]
            safe[package] = tuple(sorted(ok, key=lambda pair: pair[0]))
        return cls(safe)

    def lowest_above(self, advisory: Advisory, have: Any) -> str | None:
        """The lowest safe release above ``have`` for ``advisory``'s package (on the installed
        major line when it has one), never one ``advisory`` itself affects."""
        first_any: str | None = None
        for v, raw in self.safe.get(advisory.package or "", ()):
            if not v > have or _affects_release(advisory, raw, v):
                continue
            if v.release[0] == have.release[0]:
                return raw
            if first_any is None:
                first_any = raw
        return first_any


def fixed_version(
    advisory: Advisory, installed: str, targets: ReleaseTargets | None = None
) -> str | None:
    """The lowest release above ``installed`` that the advisories name and that NONE of them
    affects, preferring the installed major line; None when none is named.

    ``targets`` is built from every known advisory (:meth:`ReleaseTargets.of`): a release this
    advisory's solution names may be affected by another advisory for the package (a later
    one, or an overlapping range), and a notice must never send a site to a release known to
    be vulnerable. Their solutions name candidates too. Without it, only this advisory counts.
    """
    try:
        have = parse_version(installed)
        if advisory.affected:
            parse_constraint(advisory.affected)
    except VersionError:
        return None
    if targets is None or advisory.package not in targets.safe:
        targets = ReleaseTargets.of([advisory])
    return targets.lowest_above(advisory, have)


def match(
    advisory: Advisory, inventory: Inventory | None, targets: ReleaseTargets | None = None
) -> Match:
    """Whether the site with ``inventory`` (None: none configured) is affected, and why.

    ``targets``: from every known advisory, so the release to move to is one none affects."""
    if advisory.kind == "psa":
        return Match(False, "a PSA is an announcement, not matched against versions")
    package = advisory.package
    if package is None:
        return Match(
            None,
            "the advisory names no Composer package (no project machine name); check by hand",
        )
    installed = None if inventory is None else inventory.packages.get(package)
    if installed is None:
        if inventory is None or not inventory.known:
            if advisory.kind == "core":
                return Match(None, UNKNOWN_INVENTORY, package=package)
            return Match(
                False,
                f"{package} cannot be checked: inventory unknown (only core advisories are "
                "reported for such sites)",
                package=package,
            )
        return Match(False, f"{package} is not installed", package=package)
    if advisory.affected:
        try:
            hit = parse_constraint(advisory.affected).matches(installed)
        except VersionError as exc:
            return Match(
                None,
                f"cannot compare {package} {installed} with {advisory.affected!r}: {exc}; "
                "check by hand",
                package=package,
                installed=installed,
                constraint=advisory.affected,
            )
        verb = "is in" if hit else "is not in"
        return Match(
            hit,
            f"{package} {installed} {verb} the affected versions {advisory.affected}",
            package=package,
            installed=installed,
            constraint=advisory.affected,
            fixed=fixed_version(advisory, installed, targets) if hit else None,
        )
    if advisory.insecure_versions:
        listed = ", ".join(advisory.insecure_versions)
        hit = any(_same_version(installed, v) for v in advisory.insecure_versions)
        verb = "is" if hit else "is not"
        return Match(
            hit,
            f"{package} {installed} {verb} among the insecure releases {listed}",
            package=package,
            installed=installed,
            constraint=listed,
        )
    return Match(
        None,
        f"the advisory states no affected versions for {package} {installed}; check by hand",
        package=package,
        installed=installed,
    )


# ---------------------------------------------------------------- deciding


def decision_fingerprint(advisories: Iterable[Advisory]) -> str:
    """One fingerprint for all records of one advisory id (order does not matter)."""
    joined = "\n".join(sorted(a.fingerprint() for a in advisories))
    return hashlib.sha256(joined.encode()).hexdigest()


def decide(
    advisory: Advisory | Sequence[Advisory],
    site: SiteRef,
    inventory: Inventory | None,
    calendar: BusinessCalendar,
    now: datetime,
    targets: ReleaseTargets | None = None,
) -> Decision:
    """The action for one advisory (or all records of one advisory id) and one Drupal site.

    ``targets``: built from every known advisory record (any id), so the release a notice names
    is one that none of them affects (:func:`fixed_version`)."""
    records: Sequence[Advisory] = [advisory] if isinstance(advisory, Advisory) else advisory
    if not records:
        raise ValueError("decide() needs at least one advisory record")
    fingerprint = decision_fingerprint(records)
    best: Decision | None = None
    for adv in records:
        m = match(adv, inventory, targets)
        if m.affected is None:
            action: Action = "unknown"
        elif not m.affected:
            action = "none"
        elif adv.highly_critical:
            action = "now"
        else:
            action = "patch-day"
        d = Decision(
            advisory=adv.id,
            site=site,
            action=action,
            match=m,
            fingerprint=fingerprint,
            patch_day=next_patch_day(now, calendar) if action == "patch-day" else None,
            highly_critical=adv.highly_critical,
        )
        if best is None or ACTION_RANK[d.action] > ACTION_RANK[best.action]:
            best = d
    assert best is not None
    return best


@dataclass(frozen=True, slots=True)
class Prior:
    """What was decided before for the pair (from the store)."""

    action: Action
    fingerprint: str
    installed: str | None
    patch_day: datetime | None = None


Step = Literal["act-now", "tell-unknown", "queue", "update-queue", "unqueue"]


@dataclass(frozen=True, slots=True)
class Transition:
    """What a decision changes. ``record`` is the action to remember for the pair."""

    record: Action
    steps: tuple[Step, ...] = ()
    patch_day: datetime | None = None
    """The patch day to remember (a re-queued item keeps its original day)."""


def needs_decision(prior: Prior | None, fingerprint: str, installed: str | None) -> bool:
    """Whether a pair must be (re-)decided: never decided, or decided on other facts."""
    return prior is None or prior.fingerprint != fingerprint or prior.installed != installed


def transition(prior: Prior | None, new: Decision) -> Transition:
    """The steps from what was decided before to ``new``.

    * never acted ``now`` twice: once ``now``, the pair stays ``now`` whatever follows;
    * ``now`` after anything else acts now (and a queued item is removed: the urgent path
      replaces it);
    * ``patch-day`` queues (or refreshes the queued item, keeping its day);
    * ``none`` removes a queued item (a correction, or the site was updated);
    * ``unknown`` tells the agency once; an item already queued on known facts stays queued.
    """
    before = None if prior is None else prior.action
    if before == "now":
        return Transition("now", (), prior.patch_day if prior else None)
    if new.action == "now":
        steps: tuple[Step, ...] = ("unqueue", "act-now") if before == "patch-day" else ("act-now",)
        return Transition("now", steps)
    if new.action == "patch-day":
        if before == "patch-day" and prior is not None:
            return Transition("patch-day", ("update-queue",), prior.patch_day)
        return Transition("patch-day", ("queue",), new.patch_day)
    if new.action == "none":
        if before == "patch-day":
            return Transition("none", ("unqueue",))
        return Transition("none")
    # unknown
    if before == "patch-day" and prior is not None:
        return Transition("patch-day", (), prior.patch_day)
    if before == "unknown":
        return Transition("unknown")
    return Transition("unknown", ("tell-unknown",))


# ---------------------------------------------------------------- merging sources


def effective_records(records: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    """Group every known record by advisory id; where drupal.org's RSS has the advisory, use
    its record(s) only (they carry the constraint and score); else psa.json's, one per project."""
    by_id: dict[str, list[Advisory]] = {}
    for a in records:
        by_id.setdefault(a.id, []).append(a)
    out: dict[str, list[Advisory]] = {}
    for adv_id, group in sorted(by_id.items()):
        rss = [a for a in group if a.source == "rss"]
        chosen = rss or group
        out[adv_id] = sorted(chosen, key=lambda a: (a.package or "", a.guid))
    return out


# ---------------------------------------------------------------- PSA heads-ups

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "jan",
            "feb",
            "mar",
            "apr",
            "may",
            "jun",
            "jul",
            "aug",
            "sep",
            "oct",
            "nov",
            "dec",
        ),
        start=1,
    )
}
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ORD = r"(?:st|nd|rd|th)?"
_DATES = (
    re.compile(_MONTH + r"\.?\s+(?P<day>\d{1,2})" + _ORD + r"(?:,?\s+(?P<year>\d{4}))?\b", re.I),
    re.compile(
        r"\b(?P<day>\d{1,2})"
        + _ORD
        + r"\s+(?:of\s+)?"
        + _MONTH
        + r"\.?(?:,?\s+(?P<year>\d{4}))?\b",
        re.I,
    ),
    re.compile(r"\b(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})\b"),
)
_CLOCK = r"(?P<h{n}>\d{{1,2}})(?::?(?P<m{n}>\d{{2}}))?\s*(?P<ap{n}>[ap]\.?m\.?)?"
_RANGE = re.compile(
    r"(?:between|from)?\s*"
    + _CLOCK.format(n=1)
    + r"\s*(?:UTC\s*)?(?:and|to|until|-|–|—)\s*"
    + _CLOCK.format(n=2)
    + r"\s*(?:UTC|GMT|\+00:?00|Z)\b",
    re.I,
)
_HIGHLY_CRITICAL = re.compile(r"highly[\s-]+critical", re.I)


def _hour(h: str, m: str | None, ap: str | None) -> time | None:
    hour, minute = int(h), int(m or 0)
    if ap:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ap.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def announced_window(
    text: str, published: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The release window a PSA's text announces, in UTC; None when it names no day.

    Lenient: ``on October 21, 2026 between 17:00 and 21:00 UTC``, ``Wednesday 21st October
    2026, 5pm to 9pm UTC``, ``2026-10-21 16:00–20:00 UTC``, ``1800 to 2200 UTC`` after a date
    given in another zone. A day without times means drupal.org's usual 16:00–22:00 UTC; a day
    without a year is the first such day on or after the PSA's publication.
    """
    flat = " ".join(text.split())
    strict = psa_window(flat)
    if strict is not None:
        return strict
    for pattern in _DATES:
        for d in pattern.finditer(flat):
            groups = d.groupdict()
            month = (
                int(groups["mnum"]) if groups.get("mnum") else _MONTHS[groups["month"][:3].lower()]
            )
            try:
                if groups.get("year"):
                    day = date(int(groups["year"]), month, int(groups["day"]))
                elif published is not None:
                    day = date(published.year, month, int(groups["day"]))
                    if day < published.date() - timedelta(days=1):
                        day = date(published.year + 1, month, int(groups["day"]))
                else:
                    continue
            except ValueError:
                continue
            start_t, end_t = PSA_DEFAULT_WINDOW
            r = _RANGE.search(flat, d.end(), d.end() + WINDOW_SEARCH_CHARS)
            if r is not None:
                s = _hour(r.group("h1"), r.group("m1"), r.group("ap1") or r.group("ap2"))
                e = _hour(r.group("h2"), r.group("m2"), r.group("ap2"))
                if s is not None and e is not None:
                    start_t, end_t = s, e
            start = datetime.combine(day, start_t, tzinfo=UTC)
            end = datetime.combine(day, end_t, tzinfo=UTC)
            if end <= start:
                end += timedelta(days=1)
            return start, end
    return None


def psa_text(advisory: Advisory) -> str:
    """The words of a PSA that may announce a release (title, vulnerability, solution)."""
    return " ".join(p for p in (advisory.title, advisory.vulnerability, advisory.solution) if p)


def advisory_window(advisory: Advisory) -> tuple[datetime, datetime] | None:
    """The window a PSA announces: the parser's, else read leniently from its words."""
    if advisory.kind != "psa":
        return None
    if advisory.window_start is not None and advisory.window_end is not None:
        return advisory.window_start, advisory.window_end
    return announced_window(psa_text(advisory), advisory.published)


@dataclass(frozen=True, slots=True)
class HeadsUp:
    advisory: str
    window_start: datetime
    window_end: datetime
    due: datetime
    """When the heads-up is delivered: PSA_HEADS_UP_LEAD before the window, or at once."""


def heads_up(advisory: Advisory, now: datetime) -> HeadsUp | None:
    """A heads-up for a PSA announcing an upcoming highly critical release, while its window
    has not yet ended; None for anything else."""
    if advisory.kind != "psa":
        return None
    if advisory.risk_label != "Highly critical" and not _HIGHLY_CRITICAL.search(psa_text(advisory)):
        return None
    window = advisory_window(advisory)
    if window is None or window[1] <= now:
        return None
    start, end = window
    return HeadsUp(advisory.id, start, end, max(now, start - PSA_HEADS_UP_LEAD))


def psa_windows(advisories: Iterable[Advisory], now: datetime) -> list[tuple[datetime, datetime]]:
    """Windows of highly critical releases announced by PSAs, not yet over (for poll_interval)."""
    found = {(h.window_start, h.window_end) for a in advisories if (h := heads_up(a, now))}
    return sorted(found)


# ---------------------------------------------------------------- events


def _site_details(site: SiteRef) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if site.client_name:
        d["client_name"] = site.client_name
    if site.site_name and site.site_name != site.site:
        d["site_name"] = site.site_name
    return d


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def security_now_event(decision: Decision, advisory: Advisory, now: datetime) -> Event:
    """``security-now`` for one site: act at once (client security contacts, ticket, on-call)."""
    m = decision.match
    site = decision.site
    project = advisory.project or m.package or advisory.id
    details = {
        **_site_details(site),
        "advisory": advisory.id,
        "project": project,
        "package": m.package,
        "risk": advisory.risk_label,
        "score": advisory.score,
        "installed": m.installed,
        "constraint": m.constraint,
        "link": advisory.link,
        "fixed": m.fixed,
        "solution": advisory.solution_link or advisory.link,
        "why": m.reason,
    }
    return Event(
        kind="security-now",
        client=site.client,
        site=site.site,
        check=None,
        at=now,
        key=f"security-now|{advisory.id}|{site.site}",
        thread=f"{advisory.id}:{site.site}",
        summary=(
            f"{advisory.id}: {project} {m.installed} is affected by a Highly critical "
            f"advisory ({advisory.risk_text}); update now"
        ),
        severity="critical",
        details={k: v for k, v in details.items() if v is not None},
    )


def security_unknown_event(decision: Decision, advisory: Advisory, now: datetime) -> Event:
    """``security-unknown``, to the agency: this site may be affected; check it by hand."""
    site = decision.site
    details = {
        **_site_details(site),
        "advisory": advisory.id,
        "project": advisory.project or decision.match.package,
        "risk": advisory.risk_text,
        "affected_versions": advisory.affected,
        "link": advisory.link,
        "why": decision.match.reason,
    }
    return Event(
        kind="security-unknown",
        client=site.client,
        site=site.site,
        check=None,
        at=now,
        key=f"security-unknown|{advisory.id}|{site.site}",
        thread=f"{advisory.id}:{site.site}",
        summary=f"{advisory.id} ({advisory.risk_text}) may affect {site.site}: "
        f"{decision.match.reason}",
        severity="critical" if advisory.highly_critical else "warning",
        details={k: v for k, v in details.items() if v is not None},
    )


def psa_heads_up_event(advisory: Advisory, hu: HeadsUp, now: datetime) -> Event:
    """``psa-heads-up``, to the agency and on-call: a highly critical release is coming."""
    return Event(
        kind="psa-heads-up",
        client="",
        site=None,
        check=None,
        at=now,
        key=f"psa-heads-up|{advisory.id}|{_iso(hu.window_start)}",
        thread=f"{advisory.id}",
        summary=(
            f"{advisory.id}: a highly critical security release is announced for "
            f"{hu.window_start:%a %d %b %Y %H:%M}–{hu.window_end:%H:%M} UTC; be ready to patch"
        ),
        severity="warning",
        details={
            "advisory": advisory.id,
            "title": advisory.title,
            "link": advisory.link,
            "window_start": _iso(hu.window_start),
            "window_end": _iso(hu.window_end),
        },
    )


@dataclass(frozen=True, slots=True)
class PatchItem:
    advisory: str
    project: str
    installed: str
    fixed: str | None
    link: str

    def to_json(self) -> dict[str, Any]:
        return {
            "advisory": self.advisory,
            "project": self.project,
            "installed": self.installed,
            "fixed": self.fixed or "see advisory",
            "link": self.link,
        }


def patch_item(decision: Decision, advisory: Advisory) -> PatchItem:
    """The queue entry for a ``patch-day`` decision."""
    m = decision.match
    return PatchItem(
        advisory=advisory.id,
        project=advisory.project or m.package or advisory.id,
        installed=m.installed or "",
        fixed=m.fixed,
        link=advisory.solution_link or advisory.link,
    )


@dataclass(frozen=True, slots=True)
class SiteQueue:
    """A site's due patch-day items."""

    site: SiteRef
    patch_day: datetime
    items: list[PatchItem] = field(default_factory=list)


def patch_day_event(queue: SiteQueue, now: datetime, zone_day: date | None = None) -> Event:
    """``patch-day`` for one site: ONE event listing every item due (maintenance contacts and
    the agency's ticket)."""
    day = zone_day or queue.patch_day.date()
    n = len(queue.items)
    items = sorted(queue.items, key=lambda i: (i.project.lower(), i.advisory))
    return Event(
        kind="patch-day",
        client=queue.site.client,
        site=queue.site.site,
        check=None,
        at=now,
        key=f"patch-day|{queue.site.site}|{day.isoformat()}",
        thread=f"patch-day:{queue.site.site}:{day.isoformat()}",
        summary=(
            f"Patch day {day.isoformat()}: {n} security update{'s' if n != 1 else ''} "
            f"to apply to {queue.site.site}"
        ),
        severity="warning",
        details={
            **_site_details(queue.site),
            "patch_day": day.isoformat(),
            "items": [i.to_json() for i in items],
        },
    )


def group_due(
    items: Iterable[tuple[SiteRef, datetime, PatchItem]], now: datetime
) -> list[SiteQueue]:
    """Items whose patch day has come (at or before ``now``), one queue per site; the queue's
    day is the latest of its items' days."""
    by_site: dict[str, SiteQueue] = {}
    for site, day, item in items:
        if day > now:
            continue
        q = by_site.get(site.site)
        if q is None:
            q = by_site[site.site] = SiteQueue(site, day)
        elif day > q.patch_day:
            q = by_site[site.site] = SiteQueue(site, day, q.items)
        q.items.append(item)
    return [by_site[k] for k in sorted(by_site)]


def summarize(decisions: Mapping[str, int]) -> str:
    """``now 1, patch-day 2`` for logs (only non-zero counts)."""
    return ", ".join(f"{k} {v}" for k, v in decisions.items() if v) or "nothing"
