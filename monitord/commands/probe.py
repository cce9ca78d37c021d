"""``monitord probe SITE_ID``: one probe of each of a site's checks, printed; nothing stored or sent."""

from __future__ import annotations

import argparse
import asyncio
import json

from monitord.cli import add_config_argument
from monitord.errors import MonitordError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help="probe one site's checks once and print the results")
    p.add_argument("site_id", metavar="SITE_ID")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object per check")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES
    from monitord.probes.runner import open_probe_context, run_check

    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    found = config.find_site(args.site_id)
    if found is None:
        known = ", ".join(s.id for c in config.clients for s in c.sites) or "none"
        raise MonitordError(f"no site with id {args.site_id!r}; known sites: {known}")
    _client, site = found

    import os
    import socket

    from monitord.cluster.identity import resolve_node

    # The node's source address (node.source_address, nodes.<id>.source_address), as the
    # daemon on this host would probe.
    source = resolve_node(None, os.environ, config.main, socket.gethostname()).source_address

    async def go() -> int:
        failed = 0
        async with open_probe_context(source_address=source) as ctx:
            results = await asyncio.gather(*(run_check(site, spec, ctx) for spec in site.checks))
        for spec, r in zip(site.checks, results, strict=True):
            failed += not r.ok
            if args.json:
                print(
                    json.dumps(
                        {
                            "site": site.id,
                            "check": spec.id,
                            "type": spec.type,
                            "ok": r.ok,
                            "message": r.message,
                            "warning": r.warning,
                            "duration": round(r.duration, 4),
                            "details": dict(r.details),
                        },
                        default=str,
                    )
                )
            else:
                word = "OK  " if r.ok else "FAIL"
                warn = f"  (warning: {r.warning})" if r.warning else ""
                print(
                    f"{word} {site.id}/{spec.id:<10} {r.duration * 1000:7.0f} ms  {r.message}{warn}"
                )
        return 1 if failed else 0

    return asyncio.run(go())
