"""Pure rendering of an :class:`~monitord.events.Event` into a subject, plain text and HTML.

Every notifier that shows words to people (e-mail, helpdesk mail, ticket bodies, chat
webhooks) renders through :func:`render`, so a kind reads the same everywhere. Nothing here
reads a clock, a file or the network: the same event, agency, zone and recipient always give
the same bytes, which the golden files under ``tests/notify/golden/`` pin down.

Subject rule (mail apps group a conversation by subject and ``References``):

    ``[{client name}] {site id}: {topic}`` — or ``[{client name}] {topic}`` without a site.

The *topic* names what the thread is about, never its current state, so every message of a
thread has the same subject:

- site-down / site-reminder / site-update / site-recovered / site-flapping: ``site problem since 26 Nov
  14:03`` — the incident's start (``details["started"]``, else the event time) in the agency's
  zone. DOWN, STILL DOWN and BACK UP share it; the state is the first line of the body and
  :attr:`Rendered.state`, which the e-mail notifier adds to the sender's name.
- certificate: ``TLS certificate for {host} expires {date}`` (``not_after``, which is fixed for
  one certificate). Its days left are counted from ``not_after`` at the event's time by
  :func:`monitord.certexpiry.days_left`, the rule every other surface uses.
- every other kind: the event's summary.

The client name is ``details["client_name"]``, else the client id, else (agency-only events
such as ``connectivity``) the agency name. Subjects are one line and at most
:data:`SUBJECT_MAX_CHARS` long.

Body: a headline with the state first (``DOWN — HTTP 503``), a greeting, one or two
paragraphs, a list of facts (label: value) and, for patch-day, a table of items. Times are
shown in the agency's zone with the zone's abbreviation, and the zone's name is said once at
the foot. Kinds with no template of their own (security-now, patch-day, …) are rendered
generically: the summary, then the details as a sorted ``key: value`` list, and
``details["items"]`` as a table. A kind gets its own template by adding a function to
:data:`TEMPLATES`.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitord import certexpiry
from monitord.durations import format_duration
from monitord.events import CONTACT_KIND, Event

# What a notifier plugin may use (docs/notifiers.md); the rest serves monitord's own notifiers.
__all__ = [
    "Rendered",
    "client_label",
    "format_date",
    "format_short_time",
    "format_time",
    "one_line",
    "parse_instant",
    "render",
]

SUBJECT_MAX_CHARS = 160
"""Longest subject produced: mail apps show about 80–130 characters, and a longer generic
summary is cut with an ellipsis rather than folded over several header lines."""

TEXT_WIDTH = 72
"""Paragraphs of the plain-text part are wrapped here: readable in any mail client and safe
under the 78-character line recommendation of RFC 5322."""

Tone = Literal["problem", "ok", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a person reads: a one-line subject, the plain text and the HTML alternative."""

    subject: str
    text: str
    html: str
    state: str = ""
    """The state word of an incident's message (``DOWN``, ``STILL DOWN``, ``BACK UP``,
    ``FLAPPING``, ``CERTIFICATE``…): what tells the messages of one thread apart in an inbox
    list whose subject stays the same (see :func:`state_of`). Empty for other kinds."""


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Body:
    """The structure both the text and the HTML are made from (one place to escape)."""

    tone: Tone
    headline: str
    paragraphs: tuple[str, ...]
    facts: tuple[tuple[str, str], ...] = ()
    table: Table | None = None


@dataclass(frozen=True, slots=True)
class Context:
    agency_name: str
    tz: ZoneInfo


Template = Callable[[Event, Context], tuple[str, Body]]
"""Returns the subject's topic and the body for one kind."""


# ---------------------------------------------------------------- small pure helpers

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: object) -> str:
    """A value as a single line: control characters (CR, LF, tabs…) become one space."""
    return _CONTROL.sub(" ", str(text)).strip()


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_instant(value: object) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (naive means UTC), else None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def format_time(value: object, tz: ZoneInfo) -> str:
    """``Thu 26 Nov 2026 14:03 GMT`` in the agency's zone; unparseable values are shown as is."""
    dt = parse_instant(value)
    if dt is None:
        return one_line(value)
    local = dt.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def format_short_time(value: object, tz: ZoneInfo) -> str:
    """``26 Nov 14:03`` in the agency's zone (for subjects)."""
    dt = parse_instant(value)
    if dt is None:
        return one_line(value)
    local = dt.astimezone(tz)
    return f"{local.day} {local:%b %H:%M}"


def format_date(value: object, tz: ZoneInfo) -> str:
    """``10 Dec 2026`` in the agency's zone."""
    dt = parse_instant(value)
    if dt is None:
        return one_line(value)
    local = dt.astimezone(tz)
    return f"{local.day} {local:%b %Y}"


def _seconds(value: object) -> timedelta | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        secs = float(value)
    except ValueError:
        return None
    return timedelta(seconds=max(secs, 0.0))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _humanize_key(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def _format_value(value: object, tz: ZoneInfo) -> str:
    if isinstance(value, str):
        if "T" in value and (dt := parse_instant(value)) is not None and dt.tzinfo is not None:
            return format_time(dt, tz)
        return one_line(value)
    if isinstance(value, datetime):
        return format_time(value, tz)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return ", ".join(one_line(v) for v in value)
    return one_line(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))


def client_label(event: Event, agency_name: str) -> str:
    name = event.details.get("client_name")
    if isinstance(name, str) and name.strip():
        return one_line(name)
    return one_line(event.client) if event.client else one_line(agency_name)


def _site_phrase(event: Event) -> str:
    """``acme-www (ACME main site)`` or ``acme-www``."""
    site = one_line(event.site or "")
    name = event.details.get("site_name")
    if isinstance(name, str) and name.strip() and one_line(name) != site:
        return f"{site} ({one_line(name)})" if site else one_line(name)
    return site


def _reason(event: Event) -> str | None:
    kind = CONTACT_KIND.get(event.kind)
    reasons = {
        "site-down": "when one of your sites has a problem",
        "site-recovered": "when one of your sites is working again",
        "certificate": "before a site's TLS certificate expires",
        "security": "about urgent security updates to your sites",
        "maintenance": "about planned maintenance of your sites",
    }
    return reasons.get(kind) if kind else None


def _details(event: Event) -> Mapping[str, Any]:
    return event.details if isinstance(event.details, Mapping) else {}


# ---------------------------------------------------------------- templates, one per kind


def _started(event: Event) -> object:
    return _details(event).get("started") or event.at


def _incident_topic(event: Event, ctx: Context) -> str:
    return f"site problem since {format_short_time(_started(event), ctx.tz)}"


def _incident_facts(event: Event, ctx: Context) -> list[tuple[str, str]]:
    d = _details(event)
    facts: list[tuple[str, str]] = []
    if site := _site_phrase(event):
        facts.append(("Site", site))
    if d.get("url"):
        facts.append(("Address", one_line(d["url"])))
    check = event.check or d.get("check_type")
    if check:
        ctype = d.get("check_type")
        label = one_line(check)
        what = " ".join(one_line(x) for x in (ctype, d.get("target")) if x)
        if what and what != label:
            label = f"{label} ({what})"
        facts.append(("Check", label))
    return facts


def _site_down(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    message = one_line(d.get("message") or event.summary)
    facts = _incident_facts(event, ctx)
    facts.append(("Problem", message))
    facts.append(("Down since", format_time(_started(event), ctx.tz)))
    failures = _int(d.get("failures"))
    if failures is not None:
        facts.append(("Failed checks in a row", str(failures)))
    para = (
        f"{client_label(event, ctx.agency_name)}'s site {_site_phrase(event) or 'check'} "
        "is not working as expected."
    )
    body = Body("problem", f"DOWN — {message}", (para,), tuple(facts))
    return _incident_topic(event, ctx), body


def _site_reminder(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    message = one_line(d.get("message") or event.summary)
    down_for = _seconds(d.get("down_for_seconds"))
    if down_for is None:
        start = parse_instant(_started(event))
        down_for = max(event.at - start, timedelta(0)) if start else None
    facts = _incident_facts(event, ctx)
    facts.append(("Problem", message))
    facts.append(("Down since", format_time(_started(event), ctx.tz)))
    if down_for is not None:
        facts.append(("Down for", format_duration(down_for)))
    failures = _int(d.get("failures"))
    if failures is not None:
        facts.append(("Failed checks in a row", str(failures)))
    how_long = f" for {format_duration(down_for)}" if down_for is not None else ""
    para = (
        f"{client_label(event, ctx.agency_name)}'s site {_site_phrase(event) or 'check'} "
        f"is still not working as expected. It has been down{how_long}."
    )
    headline = f"STILL DOWN — {message}"
    return _incident_topic(event, ctx), Body("problem", headline, (para,), tuple(facts))


def _failing_fact(event: Event) -> str | None:
    """The failing checks of a site incident, one ``type target: problem`` each."""
    failing = _details(event).get("failing")
    if not isinstance(failing, list | tuple) or not failing:
        return None
    return "; ".join(one_line(str(f)) for f in failing)


def _site_update(event: Event, ctx: Context) -> tuple[str, Body]:
    """A check joined or left an open site incident: a comment on the incident's thread."""
    d = _details(event)
    note = one_line(d.get("message") or event.summary)
    facts = _incident_facts(event, ctx)
    facts.append(("Change", note))
    failing = _failing_fact(event)
    facts.append(("Failing now", failing or "nothing"))
    facts.append(("Down since", format_time(_started(event), ctx.tz)))
    para = (
        f"An update on the incident of {client_label(event, ctx.agency_name)}'s site "
        f"{_site_phrase(event) or 'check'}: {note}."
    )
    return _incident_topic(event, ctx), Body("problem", f"UPDATE — {note}", (para,), tuple(facts))


def _site_recovered(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    if isinstance(d.get("removed"), str) and d["removed"]:
        return _check_removed(event, ctx, d["removed"])
    down_for = _seconds(d.get("down_for_seconds")) or None  # 0 s: nothing worth saying
    ended = d.get("ended") or event.at
    facts = _incident_facts(event, ctx)
    facts.append(("Down since", format_time(_started(event), ctx.tz)))
    facts.append(("Back up at", format_time(ended, ctx.tz)))
    if down_for is not None:
        facts.append(("Down for", format_duration(down_for)))
    failed = d.get("failed")
    if isinstance(failed, list | tuple) and failed:
        facts.append(("What failed", "; ".join(one_line(str(f)) for f in failed)))
    elif d.get("message"):
        facts.append(("Last problem", one_line(d["message"])))
    how_long = f" It was down for {format_duration(down_for)}." if down_for is not None else ""
    para = (
        f"{client_label(event, ctx.agency_name)}'s site {_site_phrase(event) or 'check'} "
        f"is working again.{how_long}"
    )
    headline = "BACK UP" + (f" — after {format_duration(down_for)}" if down_for else "")
    return _incident_topic(event, ctx), Body("ok", headline, (para,), tuple(facts))


def _check_removed(event: Event, ctx: Context, reason: str) -> tuple[str, Body]:
    """A recovery-like close: the check left the configuration while its incident was open."""
    d = _details(event)
    facts = _incident_facts(event, ctx)
    facts.append(("Down since", format_time(_started(event), ctx.tz)))
    facts.append(("Closed at", format_time(d.get("ended") or event.at, ctx.tz)))
    if d.get("message"):
        facts.append(("Last problem", one_line(d["message"])))
    para = (
        f"{client_label(event, ctx.agency_name)}'s site {_site_phrase(event) or 'check'} "
        f"is no longer monitored: {one_line(reason)}. The incident is closed without a "
        "recovery; nobody will be told whether it works again."
    )
    headline = f"NO LONGER MONITORED — {one_line(reason)}"
    return _incident_topic(event, ctx), Body("info", headline, (para,), tuple(facts))


def _site_flapping(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    transitions = _int(d.get("transitions"))
    window = _seconds(d.get("window_seconds"))
    changes = f"{transitions} changes" if transitions is not None else "Repeated changes"
    within = f" in {format_duration(window)}" if window is not None else ""
    facts = _incident_facts(event, ctx)
    if d.get("message"):
        facts.append(("Last problem", one_line(d["message"])))
    facts.append(("Since", format_time(_started(event), ctx.tz)))
    if transitions is not None:
        facts.append(("Changes of state", str(transitions)))
    if window is not None:
        facts.append(("Within", format_duration(window)))
    paras = (
        f"{client_label(event, ctx.agency_name)}'s site {_site_phrase(event) or 'check'} "
        f"keeps going down and coming back: {changes.lower()}{within}.",
        "This one notice stands for all of those changes, instead of one e-mail each.",
    )
    body = Body("problem", f"FLAPPING — {changes}{within}", paras, tuple(facts))
    return _incident_topic(event, ctx), body


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _certificate(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    host = one_line(d.get("host") or event.site or "")
    not_after = d.get("not_after")
    expiry = parse_instant(not_after)
    # Counted from the expiry at the event's time by the one rule (monitord.certexpiry), so
    # the e-mail says what the probe said; a stored figure only when there is no expiry.
    days = certexpiry.days_left(expiry, event.at) if expiry else _int(d.get("days_left"))
    expiry_date = format_date(not_after, ctx.tz) if not_after else "soon"
    tone: Tone
    if days is None:
        headline, tone, when = "CERTIFICATE EXPIRES SOON", "warning", "soon"
    elif days < 0:
        ago = _days(certexpiry.days_ago(expiry, event.at)) if expiry else _days(-days)
        headline, tone = f"CERTIFICATE EXPIRED {ago.upper()} AGO", "problem"
        when = f"{ago} ago"
    elif days == 0:
        headline, tone, when = "CERTIFICATE EXPIRES TODAY", "problem", "today"
    else:
        headline, tone = f"CERTIFICATE EXPIRES IN {_days(days).upper()}", "warning"
        when = f"in {_days(days)}"
    expired = days is not None and days < 0
    facts: list[tuple[str, str]] = []
    if site := _site_phrase(event):
        facts.append(("Site", site))
    if host:
        facts.append(("Host", host))
    if not_after:
        facts.append(("Valid until", format_time(not_after, ctx.tz)))
    if days is not None and days >= 0:
        facts.append(("Days left", str(days)))
    warning = d.get("warning")
    if isinstance(warning, str) and warning.strip():
        facts.append(("Note", one_line(warning)))
    verb = "expired" if expired else "expires"
    at = f" on {format_time(not_after, ctx.tz)}" if not_after else ""
    paras = (
        f"The TLS certificate of {host or 'the site'} {verb}{at} ({when}).",
        "Browsers refuse to show a site whose certificate has expired; it needs renewing "
        + ("now." if expired or days == 0 else "before then."),
    )
    topic = f"TLS certificate for {host or 'the site'} expires {expiry_date}"
    return topic, Body(tone, headline, paras, tuple(facts))


_KIND_LABEL: dict[str, str] = {
    "security-now": "SECURITY UPDATE NOW",
    "security-unknown": "SECURITY — CHECK BY HAND",
    "patch-day": "PATCH DAY",
    "psa-heads-up": "SECURITY HEADS-UP",
    "connectivity": "MONITORING CONNECTIVITY",
    "ticket-overdue": "TICKET OVERDUE",
    "hours": "SUPPORT HOURS",
    "test": "TEST",
}

_SEVERITY_TONE: dict[str, Tone] = {
    "critical": "problem",
    "error": "problem",
    "warning": "warning",
    "info": "info",
}

_SHOWN_ELSEWHERE = frozenset({"client_name", "site_name", "items"})

_ITEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("advisory", "Advisory"),
    ("project", "Project"),
    ("installed", "Installed"),
    ("fixed", "Fixed in"),
    ("link", "Link"),
)


def _items_table(items: object, tz: ZoneInfo) -> Table | None:
    if not isinstance(items, list | tuple) or not items:
        return None
    dict_items = [i for i in items if isinstance(i, Mapping)]
    if len(dict_items) != len(items):
        return Table(("Item",), tuple((_format_value(i, tz),) for i in items))
    known = [k for k, _ in _ITEM_COLUMNS]
    extra = sorted({k for i in dict_items for k in i if k not in known})
    keys = [k for k in known if any(k in i for i in dict_items)] + extra
    labels = dict(_ITEM_COLUMNS)
    headers = tuple(labels.get(k, _humanize_key(k)) for k in keys)
    rows: tuple[tuple[str, ...], ...] = tuple(
        tuple(_format_value(i[k], tz) if k in i else "" for k in keys) for i in dict_items
    )
    return Table(headers, rows)


def _generic(event: Event, ctx: Context) -> tuple[str, Body]:
    d = _details(event)
    summary = one_line(event.summary)
    label = _KIND_LABEL.get(event.kind, one_line(event.kind).upper())
    headline = f"{label} — {summary}" if summary else label
    facts: list[tuple[str, str]] = []
    if site := _site_phrase(event):
        facts.append(("Site", site))
    if event.check:
        facts.append(("Check", one_line(event.check)))
    facts.append(("When", format_time(event.at, ctx.tz)))
    for key in sorted(k for k in d if k not in _SHOWN_ELSEWHERE):
        facts.append((_humanize_key(str(key)), _format_value(d[key], ctx.tz)))
    tone = _SEVERITY_TONE.get(event.severity, "info")
    paras = (summary,) if summary else ()
    body = Body(tone, headline, paras, tuple(facts), _items_table(d.get("items"), ctx.tz))
    return summary or label.capitalize(), body


_DIGEST_WHAT: dict[str, str] = {
    "site-down": "DOWN",
    "site-reminder": "STILL DOWN",
    "site-recovered": "BACK UP",
    "site-flapping": "FLAPPING",
    "site-update": "UPDATE",
    "certificate": "CERTIFICATE",
}


def _digest_line(item: Mapping[str, Any], ctx: Context) -> tuple[str, str, str]:
    """(site, what happened, when) for one merged event."""
    kind = one_line(item.get("kind") or "")
    d = item.get("details") if isinstance(item.get("details"), Mapping) else {}
    assert isinstance(d, Mapping)
    label = _DIGEST_WHAT.get(kind) or _KIND_LABEL.get(kind) or kind.upper()
    if kind in ("site-down", "site-reminder", "site-flapping", "site-update"):
        what = f"{label} — {one_line(d.get('message') or item.get('summary') or '')}"
    elif kind == "site-recovered" and isinstance(d.get("removed"), str):
        what = f"NO LONGER MONITORED — {one_line(d['removed'])}"
    elif kind == "site-recovered":
        down_for = _seconds(d.get("down_for_seconds")) or None
        what = label + (f" after {format_duration(down_for)}" if down_for else "")
    else:
        what = f"{label} — {one_line(item.get('summary') or '')}"
    site = one_line(item.get("site") or "—")
    name = d.get("site_name")
    if isinstance(name, str) and name.strip() and one_line(name) != site:
        site = f"{site} ({one_line(name)})"
    return site, what.rstrip(" —"), format_time(item.get("at"), ctx.tz)


def _digest(event: Event, ctx: Context) -> tuple[str, Body]:
    """Several notifications for one person merged into one (an alert storm, or everything
    held overnight): a short list of the sites and what happened to each."""
    items = [i for i in (_details(event).get("events") or []) if isinstance(i, Mapping)]
    lines = [_digest_line(i, ctx) for i in items]
    sites = sorted({site for site, _, _ in lines})
    problems = sum(
        1 for i in items if i.get("kind") in ("site-down", "site-reminder", "site-flapping")
    )
    n_sites = f"{len(sites)} site" + ("" if len(sites) == 1 else "s")
    headline = f"{len(items)} NOTICES — {n_sites}" + (f", {problems} DOWN" if problems else "")
    paras = (
        f"Several things happened to {client_label(event, ctx.agency_name)}'s sites within a "
        f"short time. They are listed together here instead of one e-mail each.",
    )
    tone: Tone = "problem" if problems else "info"
    table = Table(("Site", "What happened", "When"), tuple(lines))
    first = items[0].get("at") if items else event.at
    topic = f"{len(items)} notices about {n_sites} since {format_short_time(first, ctx.tz)}"
    return topic, Body(tone, headline, paras, (), table)


_HOURS_FACTS: tuple[tuple[str, str], ...] = (
    ("month", "Month"),
    ("ticket", "Ticket"),
    ("estimate", "Estimate"),
    ("available", "Available"),
    ("used", "Used"),
    ("remaining", "Remaining"),
    ("as_of", "As of"),
)


def _hours(event: Event, ctx: Context) -> tuple[str, Body]:
    """A support contract's use passed a threshold, or a ticket's estimate needs approval."""
    d = _details(event)
    summary = one_line(event.summary)
    label = _KIND_LABEL["hours"]
    message = d.get("message")
    paras = (one_line(message),) if isinstance(message, str) and message.strip() else ()
    facts = tuple(
        (label_, one_line(str(d[key]))) for key, label_ in _HOURS_FACTS if d.get(key) is not None
    )
    body = Body("warning", f"{label} — {summary}", paras, facts)
    return summary or label.capitalize(), body


TEMPLATES: dict[str, Template] = {
    "hours": _hours,
    "site-down": _site_down,
    "site-reminder": _site_reminder,
    "site-recovered": _site_recovered,
    "site-flapping": _site_flapping,
    "site-update": _site_update,
    "certificate": _certificate,
    "digest": _digest,
}
"""Kinds with a template of their own; every other kind is rendered by the generic one."""


# ---------------------------------------------------------------- the two formats


def _greeting(recipient_name: str) -> str:
    name = one_line(recipient_name)
    return f"Hello {name}," if name else "Hello,"


def _footer(event: Event, ctx: Context) -> tuple[str, ...]:
    agency = one_line(ctx.agency_name)
    lines = [f"Times are shown in {ctx.tz.key} time."]
    reason = _reason(event)
    if reason:
        lines.append(
            f"This is an automatic message from {agency}'s monitoring. You get it because "
            f"you asked to be told {reason}."
        )
    else:
        lines.append(f"This is an automatic message from {agency}'s monitoring.")
    return tuple(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)


def _text_table(table: Table) -> list[str]:
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    out = [line(table.headers), line(tuple("-" * w for w in widths))]
    out.extend(line(r) for r in table.rows)
    return out


def text_blocks(body: Body) -> list[str]:
    """The body's paragraphs (wrapped), facts and table as plain-text lines, a blank line
    after each block (pure); the e-mail's text part and the tickets share them."""
    lines: list[str] = []
    for para in body.paragraphs:
        lines += [_wrap(para), ""]
    if body.facts:
        width = max(len(label) for label, _ in body.facts) + 1
        lines += [f"{(label + ':').ljust(width)} {value}" for label, value in body.facts]
        lines.append("")
    if body.table is not None:
        lines += [*_text_table(body.table), ""]
    return lines


def render_text(body: Body, greeting: str, footer: tuple[str, ...]) -> str:
    lines: list[str] = [body.headline, "", greeting, "", *text_blocks(body)]
    lines.append("-- ")
    lines += [_wrap(f) for f in footer]
    return "\n".join(lines) + "\n"


_TONE_COLOURS: dict[Tone, tuple[str, str]] = {
    "problem": ("#b00020", "#fdecee"),
    "ok": ("#1b7f3b", "#e8f5ec"),
    "warning": ("#8a5a00", "#fff4e0"),
    "info": ("#2f4f6f", "#eef3f8"),
}

_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _cell(value: str) -> str:
    """Escaped cell content; an http(s) URL becomes a link."""
    if re.fullmatch(r"https?://\S+", value):
        return f'<a href="{_e(value)}" style="color:#1a56a6;">{_e(value)}</a>'
    return _e(value)


def render_html(body: Body, greeting: str, footer: tuple[str, ...], title: str) -> str:
    fg, bg = _TONE_COLOURS[body.tone]
    p = "margin:0 0 14px;line-height:1.5;"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        "</head>",
        f'<body style="margin:0;padding:16px;background:#f4f4f4;color:#222;{_FONT}">',
        '<div style="max-width:640px;margin:0 auto;background:#ffffff;'
        'border:1px solid #dddddd;border-radius:6px;padding:20px;">',
        f'<p style="margin:0 0 18px;padding:10px 14px;border-left:6px solid {fg};'
        f'background:{bg};color:{fg};font-size:18px;font-weight:bold;">{_e(body.headline)}</p>',
        f'<p style="{p}">{_e(greeting)}</p>',
    ]
    out += [f'<p style="{p}">{_e(para)}</p>' for para in body.paragraphs]
    if body.facts:
        out.append('<table role="presentation" style="border-collapse:collapse;margin:0 0 16px;">')
        for label, value in body.facts:
            out.append(
                '<tr><th scope="row" style="text-align:left;vertical-align:top;'
                f'padding:3px 16px 3px 0;color:#555;font-weight:600;">{_e(label)}</th>'
                f'<td style="padding:3px 0;">{_cell(value)}</td></tr>'
            )
        out.append("</table>")
    if body.table is not None:
        cell = "padding:6px 10px;border:1px solid #dddddd;text-align:left;vertical-align:top;"
        out.append('<table style="border-collapse:collapse;margin:0 0 16px;font-size:14px;">')
        out.append(
            "<tr>"
            + "".join(
                f'<th scope="col" style="{cell}background:#f0f0f0;">{_e(h)}</th>'
                for h in body.table.headers
            )
            + "</tr>"
        )
        for row in body.table.rows:
            out.append(
                "<tr>" + "".join(f'<td style="{cell}">{_cell(c)}</td>' for c in row) + "</tr>"
            )
        out.append("</table>")
    small = "color:#666666;font-size:13px;line-height:1.4;"
    out += [
        f'<p style="margin:{18 if i == 0 else 6}px 0 0;{small}">{_e(f)}</p>'
        for i, f in enumerate(footer)
    ]
    out += ["</div>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def subject_for(event: Event, topic: str, agency_name: str) -> str:
    prefix = f"[{client_label(event, agency_name)}] "
    site = one_line(event.site or "")
    if site:
        prefix += f"{site}: "
    return _truncate(one_line(prefix + one_line(topic)), SUBJECT_MAX_CHARS)


STATE_KINDS = frozenset(
    {"site-down", "site-reminder", "site-update", "site-recovered", "site-flapping", "certificate"}
)
"""Kinds whose messages share one subject per thread and carry their state elsewhere."""

STATE_MAX_CHARS = 24
"""A state word longer than this is not a state word (a headline without one)."""


def state_of(event: Event, body: Body) -> str:
    """The state an inbox list shows for a message of a thread: the headline's first part
    (``DOWN — HTTP 503`` gives ``DOWN``) for the kinds of STATE_KINDS, else empty.

    Why not in the subject: Gmail puts a message in a conversation only when its subject
    matches (besides ``References``), so a subject that changed from DOWN to BACK UP would
    split every incident in two there. The subject stays the thread's topic; the state goes
    where all three big clients show it in the list but none uses it to thread: the sender's
    display name, and the preview (the first line of the body is the headline)."""
    if event.kind not in STATE_KINDS:
        return ""
    word = body.headline.split(" — ", 1)[0].strip()
    return word if 0 < len(word) <= STATE_MAX_CHARS else ""


def compose(event: Event, agency_name: str, tz: ZoneInfo) -> tuple[str, Body]:
    """The topic (for the subject) and the body of an event, by its kind's template (pure)."""
    template = TEMPLATES.get(event.kind, _generic)
    return template(event, Context(agency_name=agency_name, tz=tz))


def render(event: Event, agency_name: str, tz: ZoneInfo, recipient_name: str) -> Rendered:
    """Render one event for one recipient. Pure: no clock, no I/O."""
    ctx = Context(agency_name=agency_name, tz=tz)
    topic, body = compose(event, agency_name, tz)
    subject = subject_for(event, topic, agency_name)
    greeting = _greeting(recipient_name)
    footer = _footer(event, ctx)
    return Rendered(
        subject=subject,
        text=render_text(body, greeting, footer),
        html=render_html(body, greeting, footer, subject),
        state=state_of(event, body),
    )
