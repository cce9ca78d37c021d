"""The report as an e-mail's HTML and text parts (pure), and the message with its charts.

The HTML is table-based with inline styles, as mail clients require; the charts are PNG
images referenced as ``cid:`` parts of a multipart/related message (a preview written with
``--out`` references the PNG files beside it instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from monitord.contracts.cli import fmt_minutes
from monitord.report.model import Report, SecurityLine, month_name

CHARTS = ("daily", "hours")
"""The chart images, by name (``daily.png``, ``hours.png``; Content-ID ``<daily@…>``)."""


def fmt_pct(v: float | None) -> str:
    return "not measured" if v is None else f"{v:.2f} %" if v < 99.995 else "100 %"


def fmt_duration(d: timedelta | float) -> str:
    s = int(d.total_seconds() if isinstance(d, timedelta) else d)
    days, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if days:
        return f"{days} d {h} h"
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min" if m else f"{s} s" if s else "none"


def fmt_at(dt: datetime | None, zone: ZoneInfo) -> str:
    return "—" if dt is None else f"{dt.astimezone(zone):%d %b %H:%M}"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_text(r: Report) -> str:
    z = r.zone
    out = [
        f"{r.client_name} — monthly report for {month_name(r.month)}",
        f"From {r.agency}, generated {fmt_at(r.generated, z)} {r.generated.astimezone(z):%Y}",
        "",
        f"UPTIME: {fmt_pct(r.uptime)} over all sites",
        r.method,
        "",
    ]
    for s in r.sites:
        out.append(f"* {s.name} ({s.url}): {fmt_pct(s.uptime)}")
        out.append(
            f"  down {fmt_duration(s.down_seconds)}, maintenance "
            f"{fmt_duration(s.maintenance_seconds)}, not measured "
            f"{fmt_duration(s.unmeasured_seconds)}"
        )
        for i in s.incidents:
            out.append(
                f"  - {fmt_at(i.start, z)} to {fmt_at(i.end, z) if i.end else 'still open'} "
                f"({fmt_duration(i.duration)}): {i.cause}"
                + (f" [ticket {i.ticket}]" if i.ticket else "")
            )
        if not s.incidents:
            out.append("  no incidents")
    out += ["", "RESPONSE TIMES"]
    if r.sla.opened:
        out.append(
            f"{r.sla.opened} tickets opened; {r.sla.answered_in_time} "
            f"({fmt_pct(r.sla.share)}) first answered within one working hour"
        )
    else:
        out.append("No tickets were opened.")
    out += ["", "SECURITY"]
    out += [_sec_text(s, z) for s in r.security] or ["No security advisory affected your sites."]
    if r.still_open:
        out.append("Still open: " + ", ".join(f"{s.advisory} on {s.site}" for s in r.still_open))
    out.append("Patch days held: " + (", ".join(f"{d:%d %b}" for d in r.patch_days) or "none"))
    if r.certificates:
        out.append("Certificates expiring within 30 days:")
        out += [f"  - {c.site}: {fmt_at(c.not_after, z)}" for c in r.certificates]
    h = r.hours
    if h is not None:
        out += [
            "",
            "SUPPORT HOURS",
            _statement_note(h.closed),
            f"Allowance {fmt_minutes(h.allowance)}, brought forward "
            f"{fmt_minutes(h.brought_forward)}, available {fmt_minutes(h.available)}",
            f"Used {fmt_minutes(h.used)}, remaining {fmt_minutes(h.remaining)}, carried "
            f"forward {fmt_minutes(h.carried_forward)}",
        ]
        out += [f"  {t}: {fmt_minutes(m)}" for t, m in h.by_ticket]
        if h.charged:
            out.append(
                f"Charged {fmt_minutes(h.charged)}: {h.currency} {h.net} + VAT {h.vat} = "
                f"{h.currency} {h.gross}"
            )
        else:
            out.append("Nothing charged.")
    return "\n".join(out) + "\n"


def _statement_note(closed: bool) -> str:
    return (
        "The month is closed: these are the figures of its statement."
        if closed
        else "The month is not closed yet: these are running figures."
    )


def _sec_text(s: SecurityLine, z: ZoneInfo) -> str:
    fixed = (
        f"fixed {fmt_at(s.fixed, z)} (time to patch {fmt_duration(s.time_to_patch or 0)})"
        if s.fixed
        else "open"
    )
    return (
        f"  - {s.advisory} {s.title} on {s.site}: risk {s.risk}, "
        f"{'patched at once' if s.decision == 'now' else 'for the patch day'}; "
        f"detected {fmt_at(s.detected, z)}, {fixed}"
    )


_TD = 'style="padding:4px 8px;border-bottom:1px solid #e0e0e0;text-align:left"'
_TH = 'style="padding:4px 8px;border-bottom:2px solid #90a4ae;text-align:left;font-size:12px"'


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th {_TH}>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td {_TD}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        '<table cellspacing="0" style="border-collapse:collapse;width:100%;font-size:13px">'
        f"<tr>{th}</tr>{body}</table>"
    )


def _h2(text: str) -> str:
    return (
        f'<h2 style="font-size:16px;margin:24px 0 8px;color:#263238;border-bottom:'
        f'1px solid #cfd8dc;padding-bottom:4px">{escape(text)}</h2>'
    )


def render_html(r: Report, images: Mapping[str, str]) -> str:
    """The HTML part; ``images`` maps each of :data:`CHARTS` to its ``src``."""
    z = r.zone
    e = escape
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{e(r.subject)}</title></head>"
        '<body style="margin:0;background:#f5f7f8">'
        '<div style="max-width:680px;margin:0 auto;padding:16px;background:#ffffff;'
        'font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#263238">',
        f'<h1 style="font-size:20px;margin:0">{e(r.client_name)}</h1>',
        f'<p style="margin:4px 0 0;color:#607d8b">Monthly report for {e(month_name(r.month))}'
        f" · {e(r.agency)}</p>",
        _h2("At a glance"),
        f'<p style="font-size:28px;margin:4px 0">{e(fmt_pct(r.uptime))} '
        '<span style="font-size:13px;color:#607d8b">uptime, all sites</span></p>',
        f'<img src="{e(images["daily"])}" alt="Daily availability" width="640" '
        'style="max-width:100%;display:block">',
        f'<img src="{e(images["hours"])}" alt="Support hours used against the allowance" '
        'width="640" style="max-width:100%;display:block">',
        _h2("Uptime"),
        f'<p style="font-size:12px;color:#607d8b">{e(r.method)}</p>',
        _table(
            ["Site", "Uptime", "Down", "Maintenance", "Not measured"],
            [
                [
                    f"{e(s.name)}<br><span style='color:#90a4ae;font-size:11px'>{e(s.url)}</span>",
                    f"<b>{e(fmt_pct(s.uptime))}</b>",
                    e(fmt_duration(s.down_seconds)),
                    e(fmt_duration(s.maintenance_seconds)),
                    e(fmt_duration(s.unmeasured_seconds)),
                ]
                for s in r.sites
            ],
        ),
        _h2("Incidents"),
    ]
    incidents = [(s, i) for s in r.sites for i in s.incidents]
    if incidents:
        parts.append(
            _table(
                ["Site", "Start", "End", "Duration", "Cause", "Ticket"],
                [
                    [
                        e(s.name),
                        e(fmt_at(i.start, z)),
                        e(fmt_at(i.end, z)) if i.end else "still open",
                        e(fmt_duration(i.duration)),
                        e(i.cause),
                        e(i.ticket or "—"),
                    ]
                    for s, i in incidents
                ],
            )
        )
    else:
        parts.append("<p>No incidents this month.</p>")
    parts.append(_h2("Response times"))
    parts.append(
        f"<p>{r.sla.opened} tickets opened; <b>{r.sla.answered_in_time} "
        f"({e(fmt_pct(r.sla.share))})</b> first answered within one working hour.</p>"
        if r.sla.opened
        else "<p>No tickets were opened.</p>"
    )
    parts.append(_h2("Security"))
    if r.security:
        parts.append(
            _table(
                ["Advisory", "Site", "Risk", "Decision", "Detected", "Fixed", "Time to patch"],
                [
                    [
                        f"<b>{e(s.advisory)}</b><br>{e(s.title)}",
                        e(s.site),
                        e(s.risk),
                        "at once" if s.decision == "now" else "patch day",
                        e(fmt_at(s.detected, z)),
                        e(fmt_at(s.fixed, z)) if s.fixed else "<b>open</b>",
                        e(fmt_duration(s.time_to_patch)) if s.time_to_patch else "—",
                    ]
                    for s in r.security
                ],
            )
        )
    else:
        parts.append("<p>No security advisory affected your sites.</p>")
    if r.still_open:
        parts.append(
            "<p><b>Still open:</b> "
            + e(", ".join(f"{s.advisory} on {s.site}" for s in r.still_open))
            + "</p>"
        )
    parts.append(
        "<p>Patch days held: "
        + e(", ".join(f"{d:%d %B}" for d in r.patch_days) or "none this month")
        + "</p>"
    )
    parts.append(
        "<p>Certificates expiring within 30 days: "
        + e(", ".join(f"{c.site} ({fmt_at(c.not_after, z)})" for c in r.certificates) or "none")
        + "</p>"
    )
    h = r.hours
    if h is not None:
        parts.append(_h2("Support hours"))
        parts.append(f"<p>{e(_statement_note(h.closed))}</p>")
        parts.append(
            _table(
                ["Allowance", "Brought forward", "Available", "Used", "Remaining", "Carried"],
                [
                    [
                        e(fmt_minutes(m))
                        for m in (
                            h.allowance,
                            h.brought_forward,
                            h.available,
                            h.used,
                            h.remaining,
                            h.carried_forward,
                        )
                    ]
                ],
            )
        )
        if h.by_ticket:
            parts.append('<p style="margin:12px 0 4px">Used, by ticket:</p>')
            parts.append(
                _table(["Ticket", "Time"], [[e(t), e(fmt_minutes(m))] for t, m in h.by_ticket])
            )
        parts.append(
            f"<p>Charged {e(fmt_minutes(h.charged))}: {e(h.currency)} {e(h.net)} + VAT "
            f"{e(h.vat)} = <b>{e(h.currency)} {e(h.gross)}</b>.</p>"
            if h.charged
            else "<p>Nothing charged beyond the allowance.</p>"
        )
    parts.append(
        '<p style="font-size:11px;color:#90a4ae;margin-top:24px">Generated '
        f"{e(fmt_at(r.generated, z))} {r.generated.astimezone(z):%Y %Z} by {e(r.agency)}'s "
        "monitoring.</p></div></body></html>"
    )
    return "".join(parts)


def render(r: Report, images: Mapping[str, str]) -> Rendered:
    return Rendered(r.subject, render_text(r), render_html(r, images))


def chart_pngs(r: Report) -> dict[str, bytes]:
    from monitord.report.charts import daily_availability_png, hours_png

    return {"daily": daily_availability_png(r), "hours": hours_png(r)}
