"""``monitord hours refresh``: pull the time entries from the linked helpdesks now."""

from __future__ import annotations

import argparse
import asyncio

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.pull import build_pulls, describe, pull_all

GROUP = "hours"


async def _refresh(h: hc.Hours) -> int:
    now = hc.utcnow()
    pulls = build_pulls(h.config, hc.utcnow)
    try:
        results = await pull_all(pulls, h.store, now, h.zone)
    finally:
        for p in pulls:
            await p.aclose()
    for r in results:
        for ticket, client, seconds in r.estimates:
            h.store.set_estimate(ticket, client, seconds, r.source, now)
    print(describe(results))
    if not results:
        print(
            "link a client to its helpdesk with contract.helpdesk in its client file "
            "(docs/contracts.md, Connecting each helpdesk)"
        )
    return 1 if any(r.error for r in results) else 0


def handler(args: argparse.Namespace) -> int:
    with hc.open_hours(args.config) as h:
        return asyncio.run(_refresh(h))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "refresh",
        help="pull time entries from the helpdesks now",
        description=(
            "Pull the time entries (and ticket estimates) of every client linked to a helpdesk "
            "with contract.helpdesk, as the daemon does on the hour during office hours. Prints "
            "what each source added, updated and deleted; exits 1 when a source failed (the "
            "others are still pulled). The running daemon sends any warning within a minute."
        ),
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
