"""The client hours page (``GET /hours/{token}`` on the HTTP API): one per client, behind the
client's own ``contract.page_token``.

Remaining time this month as of now, a bar of used against available, this month's entries
and the last months. The token is compared with every client's in constant time (no early
exit, so the answer time says nothing about which tokens exist); an unknown token is a plain
404, the same as any unknown path, so clients cannot be enumerated.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from monitord.config.models import ClientConfig, Config
from monitord.contracts.cli import fmt_minutes
from monitord.contracts.ledger import Statement, Terms, first_open_month, statement
from monitord.contracts.models import Month
from monitord.store.side import open_time_entries

LAST_MONTHS = 6
"""Months before this one shown on the page: half a year of history."""


def client_for_token(config: Config, token: str) -> ClientConfig | None:
    """The client whose page token this is; every token is compared (constant time)."""
    found: ClientConfig | None = None
    given = token.encode()
    for c in config.clients:
        if c.contract is None or c.contract.page_token is None:
            continue
        if hmac.compare_digest(given, c.contract.page_token.get_secret_value().encode()):
            found = c
    return found


@dataclass(frozen=True, slots=True)
class HoursPage:
    client_name: str
    agency: str
    zone: ZoneInfo
    current: Statement
    history: tuple[Statement, ...]
    """Newest first."""


def hours_page(config: Config, client: ClientConfig, now: datetime) -> HoursPage:
    assert client.contract is not None and config.main.billing is not None
    zone = ZoneInfo(config.main.agency.timezone)
    terms = Terms.from_config(config.main.billing, client.contract)
    with open_time_entries(config) as hs:
        entries = hs.entries(client.client)
        closed = hs.closed(client.client)
    this = Month.of(now, zone)
    first_open = first_open_month(terms, closed)

    def st(m: Month) -> Statement:
        return statement(client.client, terms, m, entries, closed, now, zone)

    history: list[Statement] = []
    m = this.prev()
    while len(history) < LAST_MONTHS and m >= terms.start:
        if m in closed or m >= first_open:
            history.append(st(m))
        m = m.prev()
    return HoursPage(client.name, config.main.agency.name, zone, st(this), tuple(history))


def _bar(used: int, available: int) -> str:
    share = 0.0 if available <= 0 else min(1.0, used / available)
    over = used > available
    colour = "#c62828" if over else "#2e7d32" if share < 0.75 else "#ef6c00"
    return (
        '<div class="bar" role="img" aria-label="'
        f'{escape(fmt_minutes(used))} used of {escape(fmt_minutes(available))}">'
        f'<div style="width:{share * 100:.1f}%;background:{colour}"></div></div>'
    )


CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#263238;background:#f5f7f8;margin:0}
main{max-width:720px;margin:0 auto;padding:24px;background:#fff;min-height:100vh}
h1{font-size:22px;margin:0}.sub{color:#607d8b;margin:4px 0 20px}
.big{font-size:40px;font-weight:bold;margin:8px 0 0}.big.over{color:#c62828}
.bar{height:18px;background:#eceff1;border-radius:9px;overflow:hidden;margin:12px 0 4px}
.bar div{height:100%}
table{border-collapse:collapse;width:100%;font-size:14px;margin-top:8px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e0e0e0}
th{border-bottom:2px solid #90a4ae;font-size:12px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
h2{font-size:16px;margin:28px 0 4px}.muted{color:#90a4ae;font-size:12px}
"""


def render_page(p: HoursPage) -> str:
    e = escape
    f = p.current.figures
    as_of = p.current.as_of.astimezone(p.zone)
    rows = (
        "".join(
            f"<tr><td>{ln.at.astimezone(p.zone):%a %d %b}</td><td>{e(ln.ticket or '')}</td>"
            f"<td>{e(ln.note)}{' (correction)' if ln.adjustment else ''}</td>"
            f'<td class="n">{e(fmt_minutes(ln.minutes))}</td></tr>'
            for ln in p.current.lines
        )
        or '<tr><td colspan="4">No time recorded yet this month.</td></tr>'
    )
    hist = (
        "".join(
            f"<tr><td>{s.month.first_day():%B %Y}</td>"
            f'<td class="n">{e(fmt_minutes(s.figures.available))}</td>'
            f'<td class="n">{e(fmt_minutes(s.figures.used))}</td>'
            f'<td class="n">{e(fmt_minutes(s.figures.carried_forward))}</td>'
            f"<td>{_bar(s.figures.used, s.figures.available)}</td></tr>"
            for s in p.history
        )
        or '<tr><td colspan="5">This is the first month of the contract.</td></tr>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{e(p.client_name)}: support hours</title><style>{CSS}</style></head><body><main>"
        f"<h1>{e(p.client_name)}: support hours</h1>"
        f'<p class="sub">{e(p.current.month.first_day().strftime("%B %Y"))} · as of '
        f"{as_of:%a %d %b %Y %H:%M} {e(as_of.tzname() or '')}</p>"
        f'<section id="remaining"><div class="big{" over" if f.remaining < 0 else ""}">'
        f"{e(fmt_minutes(f.remaining))}</div><div>remaining of "
        f"{e(fmt_minutes(f.available))} available this month (allowance "
        f"{e(fmt_minutes(f.allowance))}, brought forward {e(fmt_minutes(f.brought_forward))})"
        f'</div>{_bar(f.used, f.available)}<div class="muted">{e(fmt_minutes(f.used))} used'
        "</div></section>"
        '<section id="entries"><h2>This month</h2><table><tr><th>Date</th><th>Ticket</th>'
        f'<th>Work</th><th class="n">Time</th></tr>{rows}</table></section>'
        '<section id="history"><h2>Last months</h2><table><tr><th>Month</th>'
        '<th class="n">Available</th><th class="n">Used</th><th class="n">Carried</th>'
        f'<th style="width:30%"></th></tr>{hist}</table></section>'
        f'<p class="muted">Figures as of the time above. Provided by {e(p.agency)}.</p>'
        "</main></body></html>"
    )
