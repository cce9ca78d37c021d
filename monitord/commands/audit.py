"""``monitord audit [--config DIR] [--client ID] --osv DIR [--json]``: what is vulnerable now.

Checks every Drupal site's inventory (or one client's) against every advisory in an OSV
directory — such as a clone of the Drupal Security Team's drupal-advisory-database — for
onboarding a new client. Prints each vulnerable package with the advisory, and the fixed
version to move to on its branch (or that there is none: change branch or remove it). Sites
whose inventory is unknown are listed as "check by hand". The release to update to is the lowest
one above the installed version that NO advisory for the package affects (every range of every
advisory is checked, not only those that affect the installed version), so it is never one the
same audit would call vulnerable.

Exit status:

* 0 — nothing vulnerable was found (sites whose inventory is unknown are listed, not failed);
* 1 — at least one installed package is affected by an advisory;
* 2 — the audit could not run: no or unreadable OSV directory, unknown client, invalid config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitord.cli import add_config_argument
from monitord.config import load_config, resolve_config_dir
from monitord.config.models import Config
from monitord.drupal.inventory import Inventory, load_inventory_contained
from monitord.drupal.osv import OsvRecord, fixed_versions, load_osv_directory, safe_target
from monitord.drupal.service import drupal_sites
from monitord.errors import MonitordError, VersionError
from monitord.notify.plugins import NOTIFIER_TYPES

OSV_ENV = "MONITORD_OSV_DIR"
"""Where the OSV directory is when ``--osv`` is not given."""

EXIT_CLEAN, EXIT_VULNERABLE, EXIT_CANNOT_RUN = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "audit",
        help="check every site's Drupal packages against an OSV advisory database",
        description=(
            "Check every Drupal site's inventory (or one client's) against all advisories in "
            "an OSV directory (the Drupal Security Team's drupal-advisory-database layout: "
            "advisories/<project>/DRUPAL-*.json). Prints what is vulnerable now and the fixed "
            "version to move to. Exit 0: nothing vulnerable; 1: something is; 2: the audit "
            "could not run."
        ),
    )
    add_config_argument(p)
    p.add_argument("--client", metavar="ID", help="only this client's sites")
    p.add_argument(
        "--osv",
        metavar="DIR",
        default=os.environ.get(OSV_ENV),
        help=f"the OSV advisory directory (default: ${OSV_ENV})",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per finding and line")
    p.set_defaults(func=handler)


@dataclass(slots=True)
class Finding:
    client: str
    site: str
    package: str
    installed: str
    advisory: str
    link: str | None
    fixed: list[str]
    """The release that clears this advisory alone; empty: it names none."""
    target: str | None = None
    """The release that clears every advisory for the package (:func:`safe_target`); None:
    no release it names is safe."""

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "site": self.site,
            "package": self.package,
            "installed": self.installed,
            "advisory": self.advisory,
            "link": self.link,
            "fixed": self.fixed,
            "target": self.target,
        }


@dataclass(slots=True)
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    unchecked: list[tuple[str, str, str]] = field(default_factory=list)
    """(client, site, why) of sites that could not be checked fully."""
    problems: list[str] = field(default_factory=list)
    sites: int = 0


def audit(sites: list[tuple[str, str, Inventory]], records: list[OsvRecord]) -> AuditResult:
    """Every (site, package, advisory) where the installed version is affected. Pure."""
    by_package: dict[str, list[OsvRecord]] = {}
    for r in records:
        by_package.setdefault(r.package.lower(), []).append(r)
    result = AuditResult(sites=len(sites))
    for client, site, inv in sites:
        if not inv.known:
            why = "; ".join(inv.errors) or "inventory unknown"
            result.unchecked.append((client, site, f"inventory unknown — check by hand ({why})"))
        for package, installed in sorted(inv.packages.items()):
            records = by_package.get(package.lower(), [])
            hits: list[Finding] = []
            for record in records:
                try:
                    hit = record.affects(installed)
                    fixed = fixed_versions(record, installed) if hit else []
                except VersionError as exc:
                    result.problems.append(
                        f"{site}: {package} {installed} vs {record.sa_id}: {exc}; check by hand"
                    )
                    continue
                if hit:
                    hits.append(
                        Finding(client, site, package, installed, record.sa_id, record.link, fixed)
                    )
            if hits:
                target = safe_target(records, installed)  # installed parsed above: no error
                for f in hits:
                    f.target = target
                result.findings.extend(hits)
    return result


def move_to(findings: list[Finding]) -> str:
    """The release one package must reach to clear all its advisories, or what to do instead."""
    target = findings[0].target if findings else None
    if target is None:
        return "no release free of its advisories is known: move to a supported branch or remove it"
    return f"update to {target}"


def format_text(result: AuditResult) -> str:
    lines: list[str] = []
    groups: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in result.findings:
        groups.setdefault((f.client, f.site, f.package, f.installed), []).append(f)
    for (client, site, package, installed), found in groups.items():
        lines.append(f"{client}/{site}: {package} {installed} is vulnerable — {move_to(found)}")
        for f in sorted(found, key=lambda x: x.advisory):
            fixed = ", ".join(f.fixed) if f.fixed else "none on this branch"
            lines.append(f"    {f.advisory}  fixed in: {fixed}  {f.link or ''}".rstrip())
    for client, site, why in result.unchecked:
        lines.append(f"{client}/{site}: {why}")
    return "\n".join(lines)


async def _inventories(config: Config, client: str | None) -> list[tuple[str, str, Inventory]]:
    chosen = [(ref, s) for ref, s in drupal_sites(config) if client is None or ref.client == client]
    loaded = await asyncio.gather(
        *(load_inventory_contained(s.drupal, Path(config.directory)) for _, s in chosen if s.drupal)
    )
    return [(ref.client, ref.site, inv) for (ref, _), inv in zip(chosen, loaded, strict=True)]


def handler(args: argparse.Namespace) -> int:
    if not args.osv:
        print(
            f"monitord: give --osv DIR (or set ${OSV_ENV}): a directory of OSV advisories such "
            "as a clone of https://github.com/DrupalSecurityTeam/drupal-advisory-database",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    try:
        config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
        if args.client and not any(c.client == args.client for c in config.clients):
            known = ", ".join(c.client for c in config.clients) or "none"
            print(
                f"monitord: no client {args.client!r} in the configuration (clients: {known})",
                file=sys.stderr,
            )
            return EXIT_CANNOT_RUN
        records = load_osv_directory(Path(args.osv))
    except MonitordError as exc:
        print(f"monitord: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    sites = asyncio.run(_inventories(config, args.client))
    result = audit(sites, records)
    if args.json:
        for f in result.findings:
            print(json.dumps(f.to_json(), ensure_ascii=False))
        for client, site, why in result.unchecked:
            print(json.dumps({"client": client, "site": site, "unchecked": why}))
    elif result.findings or result.unchecked:
        print(format_text(result))
    for p in result.problems:
        print(f"monitord: {p}", file=sys.stderr)
    vulnerable_sites = len({(f.client, f.site) for f in result.findings})
    print(
        f"{result.sites} sites checked against {len(records)} advisories: "
        f"{len(result.findings)} findings on {vulnerable_sites} sites, "
        f"{len(result.unchecked)} sites to check by hand",
        file=sys.stderr,
    )
    return EXIT_VULNERABLE if result.findings else EXIT_CLEAN
