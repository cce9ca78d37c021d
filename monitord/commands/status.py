"""``monitord status [--json]``: every site's state, since when, and its last result."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from monitord.cli import add_config_argument


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="every site and check: state, since when, last result")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=handle)


def collect(config_dir: str | None) -> dict[str, Any]:
    from monitord.config import load_config, resolve_config_dir
    from monitord.daemon import scheduled_checks
    from monitord.incidents import CheckState
    from monitord.store.sqlite import SqliteStore

    config = load_config(resolve_config_dir(config_dir))

    async def read() -> dict[str, Any]:
        path = config.state_path()
        states: dict[str, dict[str, Any]] = {}
        results: dict[str, Any] = {}
        incidents: list[Any] = []
        if path.exists():
            store = SqliteStore(path)
            await store.open()
            try:
                states = await store.load_states()
                results = await store.latest_results()
                incidents = await store.open_incidents()
            finally:
                await store.close()
        open_by_key = {i.key: i for i in incidents}
        sites: list[dict[str, Any]] = []
        by_site: dict[str, dict[str, Any]] = {}
        for key, sc in scheduled_checks(config).items():
            st = CheckState.from_json(states[key]) if key in states else CheckState()
            res = results.get(key)
            entry = by_site.get(sc.site.id)
            if entry is None:
                entry = {
                    "client": sc.client.client,
                    "site": sc.site.id,
                    "url": sc.site.url,
                    "checks": [],
                }
                by_site[sc.site.id] = entry
                sites.append(entry)
            inc = open_by_key.get(key)
            entry["checks"].append(
                {
                    "check": sc.spec.id,
                    "type": sc.spec.type,
                    "state": st.status,
                    "since": _iso(st.since),
                    "flapping": st.flapping,
                    "last_result": None
                    if res is None
                    else {
                        "ok": res.ok,
                        "message": res.message,
                        "warning": res.warning,
                        "at": _iso(res.at),
                        "duration": res.duration,
                    },
                    "incident": None
                    if inc is None
                    else {"id": inc.id, "started": _iso(inc.started)},
                }
            )
        for entry in sites:
            states_ = [c["state"] for c in entry["checks"]]
            entry["state"] = (
                "down"
                if "down" in states_
                else "unknown"
                if "unknown" in states_ or not states_
                else "up"
            )
        return {"store": str(path), "sites": sites}

    return asyncio.run(read())


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def handle(args: argparse.Namespace) -> int:
    data = collect(args.config)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    order = {"down": 0, "unknown": 1, "up": 2}
    for site in sorted(data["sites"], key=lambda s: (order[s["state"]], s["client"], s["site"])):
        print(f"{site['state'].upper():8} {site['client']}/{site['site']}  {site['url']}")
        for c in site["checks"]:
            last = c["last_result"]
            msg = "no result yet" if last is None else last["message"]
            since = f" since {c['since'][:19].replace('T', ' ')}Z" if c["since"] else ""
            flap = " FLAPPING" if c["flapping"] else ""
            print(f"  {c['state']:7} {c['check']:<10}{since}{flap}  {msg}")
    if not data["sites"]:
        print("no sites configured")
    return 0
