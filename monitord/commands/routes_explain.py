"""``monitord routes explain --kind KIND --client ID [--site ID] [--at ISO] [--config DIR]``.

Prints, for an imagined event, which routes match (by their index in ``routes:`` and a short
form), whether each applies now, is held (until when) or does not apply (why), and who would
be told (notifier, recipient). Nothing is stored or sent.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from monitord.calendar import agency_calendar
from monitord.cli import add_config_argument, moment_argument
from monitord.clock import utcnow
from monitord.config import load_config
from monitord.config.loader import resolve_config_dir
from monitord.config.models import Config
from monitord.errors import MonitordError
from monitord.events import ROUTE_KINDS, Event
from monitord.maintenance import SUPPRESSIBLE_KINDS, in_maintenance
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.routing import (
    RouteTrace,
    find_client,
    oncall_gap,
    plan,
    short_form,
)
from monitord.timeinput import in_zone

GROUP = "routes"
GROUP_HELP = "Check the routing configuration: who would be told, and when"

DEFAULT_SEVERITY = {"security-now": "critical", "site-recovered": "info", "patch-day": "info"}


def explain(config: Config, kind: str, client: str, site: str | None, at: datetime,
            severity: str | None = None) -> list[str]:  # fmt: skip
    """The lines ``routes explain`` prints (pure: ``at`` is given)."""
    agency = config.main.agency
    zone = ZoneInfo(agency.timezone)
    cfg_client = find_client(config, client)
    if client and cfg_client is None:
        known = ", ".join(c.client for c in config.clients) or "none"
        raise MonitordError(f"no client {client!r} in the configuration; known clients: {known}")
    cfg_site = None
    if site is not None:
        cfg_site = next((s for s in cfg_client.sites if s.id == site), None) if cfg_client else None
        if cfg_site is None:
            raise MonitordError(f"client {client!r} has no site {site!r}; check --site")
    event = Event(
        kind=kind,  # type: ignore[arg-type]
        client=client,
        site=site,
        check=None,
        at=at,
        key=f"explain|{kind}|{client}|{site}",
        thread=f"explain|{client}|{site}",
        summary="(routes explain)",
        severity=(severity or DEFAULT_SEVERITY.get(kind, "error")),  # type: ignore[arg-type]
    )
    office = agency_calendar(agency).is_office_time(at)
    local = at.astimezone(zone)
    cover = cfg_client.cover if cfg_client is not None else "-"
    out = [
        f"event: {kind} (severity {event.severity}), client {client or '-'} (cover {cover}), "
        f"site {site or '-'}",
        f"at: {local.isoformat()} {local.tzname()} — "
        + ("office hours" if office else "out of hours"),
    ]
    p = plan(event, config, at)
    configured = [t for t in p.traces if not t.default]
    defaults = [t for t in p.traces if t.default]
    if config.main.routes:
        out.append("routes:")
        for t in configured:
            out += _trace_lines(t, zone)
    else:
        out.append("routes: none configured")
    if p.defaults_used:
        why = "no configured route matches" if config.main.routes else "built-in rules"
        out.append(f"built-in default routes ({why}):")
        for t in defaults:
            if t.status != "no-match":
                out += _trace_lines(t, zone)
    if cfg_client is not None and kind in SUPPRESSIBLE_KINDS:
        window = in_maintenance(cfg_client, cfg_site, agency.timezone, at)
        if window is not None:
            out.append(
                f"maintenance: in a window until {window[1].astimezone(zone).isoformat()} — "
                "these notifications would be suppressed, and a DOWN still open then is sent "
                "at its end"
            )
    out.append("who would be told:")
    pages = any(
        "oncall-pager" in t.route.notify and t.status in ("applies", "held") for t in p.traces
    )
    gap = oncall_gap(config) if pages else None
    if not p.notifications and gap is None:
        out.append("  nobody")
    if gap is not None:
        out.append(f"  oncall-pager: NOBODY can be paged — {gap}")
    for n in p.notifications:
        who = n.recipient or "(the notifier's own destination)"
        name = f" ({n.recipient_name})" if n.recipient_name else ""
        when = "now" if n.due_at is None else f"held until {n.due_at.astimezone(zone).isoformat()}"
        out.append(f"  {n.notifier}: {who}{name} — {when}")
        nc = config.main.notifiers.get(n.notifier)
        if n.recipient and nc is not None and nc.type == "pagerduty":
            # The Events API cannot page a person: say who decides.
            out.append(
                "      (PagerDuty pages whoever the service's escalation policy has on call; "
                "the trigger names this person as monitord's on-call, to compare)"
            )
    return out


def _trace_lines(t: RouteTrace, zone: ZoneInfo) -> list[str]:
    label = "default " if t.default else ""
    head = f"  {label}#{t.index} {short_form(t.route)}"
    if t.status == "no-match":
        return [head, f"      no match: {t.reason}"]
    if t.status == "not-now":
        return [head, f"      matches, does not apply now: {t.reason}"]
    if t.status == "held":
        assert t.held_until is not None
        until = t.held_until.astimezone(zone).isoformat()
        return [head, f"      matches, held until {until} ({t.reason})"]
    return [head, f"      matches, applies now ({t.reason})"]


def handler(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    zone = ZoneInfo(config.main.agency.timezone)
    at = in_zone(args.at, zone) if args.at is not None else utcnow()
    for line in explain(config, args.kind, args.client or "", args.site, at, args.severity):
        print(line)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show which routes match an event and who would be told",
        description=(
            "For an imagined event, print each route (index and short form) and whether it "
            "matches, applies now, is held until the next office start, or does not apply, "
            "then who would be told (notifier: recipient). Nothing is stored or sent."
        ),
    )
    parser.add_argument("--kind", required=True, choices=ROUTE_KINDS, help="the event's kind")
    parser.add_argument("--client", default="", help="the client id (none for agency events)")
    parser.add_argument("--site", default=None, help="a site id of that client")
    parser.add_argument(
        "--at",
        default=None,
        metavar="ISO_DATETIME",
        type=moment_argument,
        help="when (default now): 2026-12-24T18:30 (agency time), or with an offset, "
        "2026-12-24T18:30+01:00 or 2026-12-24T17:30Z",
    )
    parser.add_argument(
        "--severity", default=None, choices=("critical", "error", "warning", "info")
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
