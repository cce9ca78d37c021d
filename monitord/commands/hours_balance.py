"""``monitord hours balance [--client ID]``: every client's remaining time this month."""

from __future__ import annotations

import argparse
import json

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.models import Month

GROUP = "hours"


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    with hc.open_hours(args.config) as h:
        this = Month.of(now, h.zone)
        ids = [args.client] if args.client else [c.client for c in h.contract_clients()]
        rows: list[dict[str, object]] = []
        for cid in ids:
            _client, terms = h.client(cid)
            if this < terms.start:
                rows.append({"client": cid, "month": str(this), "starts": str(terms.start)})
                continue
            f = h.statement(cid, this, now).figures
            rows.append(
                {
                    "client": cid,
                    "month": str(this),
                    "available_minutes": f.available,
                    "used_minutes": f.used,
                    "remaining_minutes": f.remaining,
                    "used_percent": round(f.used * 100 / f.available) if f.available > 0 else None,
                }
            )
        if args.json:
            print(json.dumps({"as_of": now.isoformat(), "clients": rows}, indent=2))
            return 0
        print(f"{this}, as of {hc.local(now, h.zone)}")
        if not rows:
            print("no client has a contract (add `contract:` to a client file)")
            return 0
        head = ("CLIENT", "AVAILABLE", "USED", "REMAINING", "USED %")
        table = [head]
        later = [f"{r['client']}: contract starts {r['starts']}" for r in rows if "starts" in r]
        for r in rows:
            if "starts" in r:
                continue
            pct = r["used_percent"]
            table.append(
                (
                    str(r["client"]),
                    hc.fmt_minutes(int(str(r["available_minutes"]))),
                    hc.fmt_minutes(int(str(r["used_minutes"]))),
                    hc.fmt_minutes(int(str(r["remaining_minutes"]))),
                    "-" if pct is None else f"{pct}%",
                )
            )
        widths = [max(len(t[i]) for t in table) for i in range(len(head))]
        for t in table:
            print(
                "  ".join(
                    c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(t)
                ).rstrip()
            )
        for line in later:
            print(line)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "balance",
        help="every client's remaining time this month, as of now",
        description="Each contract client's available, used and remaining time this month.",
    )
    parser.add_argument("--client", metavar="ID", help="only this client")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
