"""``monitord advisories match --feed FILE_OR_URL [--config DIR] [--json] [--at ISO]``: a dry run.

For each advisory in the feed and each Drupal site in the configuration: affected or not, why
(package, installed version, constraint), and what the daemon would decide — ``now``,
``patch-day`` with its date, ``check by hand`` (inventory unknown or versions unreadable) or
nothing. PSAs announcing a highly critical release show their window and when the heads-up
would go out. Nothing is stored and nothing is sent.

Exit status: 0 when the feed was read (problems with single items go to stderr), 1 when it
could not be read or the configuration is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitord.calendar import BusinessCalendar, agency_calendar
from monitord.cli import add_config_argument, moment_argument
from monitord.clock import utcnow
from monitord.commands.advisories_parse import fetch_once
from monitord.config import load_config, resolve_config_dir
from monitord.config.models import Config
from monitord.drupal import decide as dc
from monitord.drupal import match as mt
from monitord.drupal import psa as pw
from monitord.drupal.advisory import Advisory
from monitord.drupal.feeds import parse_feed
from monitord.drupal.inventory import Inventory, load_inventory_contained
from monitord.drupal.service import drupal_sites
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.timeinput import in_zone

GROUP = "advisories"

WHY_MAX = 90
"""Widest the WHY column gets in the table (the JSON output has it whole)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "match",
        help="dry run: which configured sites a feed's advisories affect, and the decision",
        description=(
            "For each advisory in a feed (file or URL) and each Drupal site in the "
            "configuration: affected or not, why, and the decision (now, or patch-day with its "
            "date). Nothing is stored or sent."
        ),
    )
    p.add_argument("--feed", required=True, metavar="FILE_OR_URL", help="RSS or psa.json")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--at",
        metavar="ISO_DATETIME",
        type=moment_argument,
        default=None,
        help="decide as if it were this moment (default: now): 2026-11-05T14:00 (agency "
        "time), or with an offset, 2026-11-05T14:00+01:00 or 2026-11-05T13:00Z",
    )
    p.set_defaults(func=handler)


def read_feed(source: str) -> tuple[bytes | None, str | None]:
    """The feed's bytes from a file or an http(s) URL, or why it cannot be read."""
    if source.startswith(("http://", "https://")):
        result = asyncio.run(fetch_once(source))
        if result.status != "new" or result.body is None:
            return None, result.error or "the server answered 304 Not Modified to a plain GET"
        return result.body, None
    try:
        return Path(source).read_bytes(), None
    except OSError as exc:
        return None, f"cannot read {source}: {exc.strerror or exc}; give a feed file or a URL"


async def _inventories(config: Config) -> list[tuple[dc.SiteRef, Inventory]]:
    sites = drupal_sites(config)
    loaded = await asyncio.gather(
        *(
            load_inventory_contained(site.drupal, Path(config.directory))
            for _, site in sites
            if site.drupal
        )
    )
    return [(ref, inv) for (ref, _), inv in zip(sites, loaded, strict=True)]


def rows_for(
    advisories: list[Advisory],
    sites: list[tuple[dc.SiteRef, Inventory]],
    calendar: BusinessCalendar,
    now: datetime,
) -> list[dict[str, Any]]:
    """One row per (advisory, site), plus one per PSA heads-up. Pure."""
    rows: list[dict[str, Any]] = []
    effective = dc.effective_records(advisories)
    targets = mt.ReleaseTargets.of(a for recs in effective.values() for a in recs)
    for adv_id, recs in effective.items():
        matchable = [a for a in recs if a.kind != "psa"]
        for a in recs:
            hu = pw.heads_up(a, now) if a.kind == "psa" else None
            if hu is not None:
                rows.append(
                    {
                        "advisory": adv_id,
                        "kind": "psa",
                        "decision": "heads-up",
                        "window_start": hu.window_start.isoformat(),
                        "window_end": hu.window_end.isoformat(),
                        "heads_up_due": hu.due.isoformat(),
                        "why": "a PSA announcing a highly critical release",
                    }
                )
                break
        if not matchable:
            continue
        for ref, inv in sites:
            d = dc.decide(matchable, ref, inv, calendar, now, targets)
            m = d.match
            chosen = next((a for a in matchable if a.package == m.package), matchable[0])
            rows.append(
                {
                    "advisory": adv_id,
                    "kind": matchable[0].kind,
                    "client": ref.client,
                    "site": ref.site,
                    "affected": m.affected,
                    "decision": d.action,
                    "patch_day": None if d.patch_day is None else d.patch_day.isoformat(),
                    "package": m.package,
                    "installed": m.installed,
                    "constraint": m.constraint,
                    "fixed": m.fixed,
                    "risk": chosen.risk_text,
                    "why": m.reason,
                }
            )
    return rows


def _decision_text(row: dict[str, Any]) -> str:
    match row["decision"]:
        case "patch-day":
            return f"patch-day {row['patch_day'][:10]}"
        case "unknown":
            return "check by hand"
        case "none":
            return "-"
        case "heads-up":
            return f"heads-up {row['heads_up_due'][:16].replace('T', ' ')} UTC"
    return str(row["decision"])


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("ADVISORY", "SITE", "AFFECTED", "DECISION", "WHY")
    out = [header]
    for r in rows:
        affected = {True: "yes", False: "no", None: "unknown"}.get(r.get("affected"), "-")
        if r["decision"] == "heads-up":
            affected = "-"
        why = r["why"]
        if r["decision"] == "heads-up":
            why = f"window {r['window_start'][:16].replace('T', ' ')}–{r['window_end'][11:16]} UTC"
        if len(why) > WHY_MAX:
            why = why[: WHY_MAX - 1] + "…"
        out.append((r["advisory"], r.get("site", "-"), affected, _decision_text(r), why))
    widths = [max(len(row[i]) for row in out) for i in range(len(header) - 1)]
    lines = []
    for row in out:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    data, problem = read_feed(args.feed)
    if data is None:
        print(f"monitord: {problem}", file=sys.stderr)
        return 1
    parsed = parse_feed(data)
    for err in parsed.errors:
        print(f"monitord: {err}", file=sys.stderr)
    zone = ZoneInfo(config.main.agency.timezone)
    now = in_zone(args.at, zone) if args.at is not None else utcnow()
    sites = asyncio.run(_inventories(config))
    for ref, inv in sites:
        for err in inv.errors:
            print(f"monitord: {ref.site}: {err}", file=sys.stderr)
    calendar = agency_calendar(config.main.agency)
    rows = rows_for(list(parsed.advisories), sites, calendar, now)
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
    else:
        if rows:
            print(format_table(rows))
        counts = {k: sum(1 for r in rows if r["decision"] == k) for k in ("now", "patch-day")}
        print(
            f"{len(parsed.advisories)} advisories, {len(sites)} Drupal sites: "
            f"{counts['now']} now, {counts['patch-day']} for patch day (dry run: nothing "
            "stored or sent)",
            file=sys.stderr,
        )
    return 0
