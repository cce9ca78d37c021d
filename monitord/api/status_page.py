"""The status page: plain server-rendered HTML and CSS from the status snapshot (no script, no
build step). Sites that are down come first, then open incidents, certificates close to
expiry and the patch-day queue; one column on a phone, wider on a desk. Pure: snapshot in,
HTML text out; every value is escaped.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from monitord.notify.render import format_time
from monitord.redact import link_url

_zone: ContextVar[ZoneInfo | None] = ContextVar("status_page_zone", default=None)

REFRESH_SECONDS = 60
"""The page reloads itself this often (a meta refresh, no script): a wall screen stays current."""

_CSS = """
:root{--down:#b3261e;--up:#1b6e33;--unknown:#5f6368;--warn:#8a5a00;--bg:#f6f7f9;--fg:#1c1d1f;
--card:#fff;--line:#dde1e6}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;background:var(--bg);color:var(--fg)}
header{background:#20242a;color:#fff;padding:1rem 1rem .75rem}
header h1{margin:0;font-size:1.35rem}
header p{margin:.25rem 0 0;opacity:.9}
main{max-width:60rem;margin:0 auto;padding:.75rem}
section{background:var(--card);border:1px solid var(--line);border-radius:.5rem;
padding:.75rem 1rem;margin:0 0 .75rem}
h2{font-size:1.1rem;margin:.1rem 0 .5rem}
ul{list-style:none;margin:0;padding:0}
li{padding:.5rem 0;border-top:1px solid var(--line)}
li:first-child{border-top:0}
.badge{display:inline-block;min-width:5.5em;text-align:center;font-weight:700;font-size:.8rem;
letter-spacing:.04em;text-transform:uppercase;color:#fff;border-radius:.3rem;padding:.1rem .4rem;
margin-right:.4rem}
.badge.down{background:var(--down)}.badge.up{background:var(--up)}
.badge.unknown{background:var(--unknown)}.badge.warn{background:var(--warn)}
.site-name{font-weight:600}
.muted{color:#555;font-size:.9rem}
.msg{display:block;overflow-wrap:anywhere}
.banner{font-weight:600;padding:.6rem .8rem;border-radius:.4rem}
.banner.down{background:#fde7e6;color:var(--down)}
.banner.up{background:#e3f3e7;color:var(--up)}
a{color:inherit}
@media (min-width:48rem){body{font-size:15px}.grid{display:grid;
grid-template-columns:1fr 1fr;gap:.75rem;margin-bottom:.75rem}.grid section{margin:0}}
"""


def _t(iso: str | None) -> str:
    """``2026-11-26T14:04:00+00:00`` -> ``Thu 26 Nov 2026 14:04 GMT`` in the agency's zone: the
    format of the e-mails, ``monitord status`` and the tickets (``format_time``)."""
    if not iso:
        return ""
    try:
        datetime.fromisoformat(iso)
    except ValueError:
        return escape(iso)
    return escape(format_time(iso, _zone.get() or ZoneInfo("UTC")))


def _days_left(days: int) -> str:
    """A certificate's whole days left (monitord.certexpiry's rule), in words."""
    if days < 0:
        return "expired"
    return "1 day left" if days == 1 else f"{days} days left"


def _badge(state: str) -> str:
    return f'<span class="badge {escape(state)}">{escape(state)}</span>'


def _site_item(site: dict[str, Any]) -> str:
    problems = [
        c for c in site["checks"] if c["state"] != "up" or (c["last_result"] or {}).get("warning")
    ]
    lines = []
    for c in problems or site["checks"][:1]:
        last = c["last_result"]
        text = "no result yet" if last is None else (last.get("warning") or last["message"])
        flap = " (flapping)" if c["flapping"] else ""
        lines.append(
            f'<span class="msg"><b>{escape(c["check"])}</b>{escape(flap)}: {escape(text)}</span>'
        )
    since = f' <span class="muted">since {_t(site["since"])}</span>' if site["since"] else ""
    link = link_url(site["url"])
    name = escape(site["site"])
    site_link = f'<a href="{escape(link)}">{name}</a>' if link else name
    return (
        f'<li class="site" data-state="{escape(site["state"])}" '
        f'data-site="{escape(site["site"])}">{_badge(site["state"])}'
        f'<span class="site-name">{escape(site["name"])}</span> '
        f'<span class="muted">{escape(site["client_name"])} · '
        f"{site_link}</span>{since}"
        f"{''.join(lines)}</li>"
    )


def render(snap: dict[str, Any]) -> str:
    """The whole page for a snapshot from :func:`monitord.api.status.snapshot`; times are
    shown in the agency's zone (``snap["timezone"]``)."""
    token = _zone.set(ZoneInfo(snap["timezone"]) if snap.get("timezone") else None)
    try:
        return _render(snap)
    finally:
        _zone.reset(token)


def _render(snap: dict[str, Any]) -> str:
    s = snap["summary"]
    agency = escape(snap["agency"])
    counts = f"{s['sites']} sites: {s['down']} down, {s['up']} up" + (
        f", {s['unknown']} unknown" if s["unknown"] else ""
    )
    down = [x for x in snap["sites"] if x["state"] == "down"]
    if down:
        banner = (
            f'<p class="banner down" id="banner">{len(down)} site'
            f"{'' if len(down) == 1 else 's'} down</p>"
        )
    elif s["unknown"]:
        banner = '<p class="banner" id="banner">No site is down (some are not checked yet)</p>'
    else:
        banner = '<p class="banner up" id="banner">All sites are up</p>'

    incidents = "".join(
        f'<li class="incident">{_badge("down")}<span class="site-name">'
        f"{escape(i['client'])}/{escape(i['site'])}</span> "
        f'<span class="muted">{escape(i["check"])} · since {_t(i["started"])}</span>'
        f'<span class="msg">{escape(i["last_message"] or i["summary"])}</span></li>'
        for i in snap["incidents"]
    )
    certs = "".join(
        f'<li class="cert">{_badge("warn")}<span class="site-name">'
        f"{escape(c['client'])}/{escape(c['site'])}</span> "
        f'<span class="msg">{_days_left(c["days_left"])}'
        f"{(' (until ' + _t(c['not_after']) + ')') if c.get('not_after') else ''}</span></li>"
        for c in snap["certificates"]
    )
    queue = "".join(
        f'<li class="queued"><span class="site-name">{escape(q["client"])}/{escape(q["site"])}'
        f'</span> <span class="muted">{escape(q["advisory"])}</span>'
        f'<span class="msg">{escape(q["project"])} {escape(q["installed"])}'
        f"{(' → ' + escape(q['fixed'])) if q.get('fixed') else ''} · {escape(q['patch_day'])}"
        f"</span></li>"
        for q in snap["patch_queue"]
    )
    pending = snap.get("patch_queue_pending")
    queue_note = (
        "The advisory watcher is not set up on this store."
        if pending is None
        else "Nothing queued."
        if not pending
        else f"{pending} update{'' if pending == 1 else 's'} queued."
    )
    sites = "".join(_site_item(x) for x in snap["sites"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>{agency} — site status</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{agency} — site status</h1>
<p id="summary">{escape(counts)}</p>
<p class="muted" style="color:#ccd">Updated {_t(snap["generated"])} · refreshes every minute</p>
</header>
<main>
{banner}
<section id="sites" aria-labelledby="h-sites"><h2 id="h-sites">Sites</h2>
<ul>{sites or "<li>No sites configured.</li>"}</ul></section>
<div class="grid">
<section id="incidents" aria-labelledby="h-inc"><h2 id="h-inc">Open incidents</h2>
<ul>{incidents or "<li>None.</li>"}</ul></section>
<section id="certificates" aria-labelledby="h-cert"><h2 id="h-cert">Certificates close to expiry</h2>
<ul>{certs or "<li>None.</li>"}</ul></section>
</div>
<section id="patch-day" aria-labelledby="h-patch"><h2 id="h-patch">Patch day</h2>
<p>Next patch day: <b id="next-patch-day">{_t(snap["next_patch_day"])}</b>. {escape(queue_note)}</p>
<ul>{queue}</ul></section>
</main></body></html>
"""
