"""``monitord status [--json]``: every site's state, since when, and its last result.

It asks the running daemon's API (``http.listen``) first; when nothing answers there it reads
the store. Heartbeat checks show their URL: the token is read from the store only (it is never
served by the API), so seeing it needs read access to the store — under systemd's
``DynamicUser=`` that means root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from typing import Any

from monitord.cli import add_config_argument
from monitord.config.models import Config, HeartbeatCheck

STATUS_API_TIMEOUT = timedelta(seconds=3)
"""How long ``status`` waits for the daemon's API before reading the store instead: the API
answers in milliseconds when it is up."""

_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="every site and check: state, since when, last result")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument(
        "--store",
        action="store_true",
        help="read the store even when the daemon's API answers",
    )
    p.set_defaults(func=handle)


def api_url(config: Config) -> str | None:
    """Where this machine reaches the daemon's API (a wildcard listen via loopback)."""
    from monitord.api.server import base_url

    addr = config.main.http.address
    if addr is None:
        return None
    host, port = addr
    return base_url(_WILDCARD.get(host, host), port)


def heartbeat_base(config: Config) -> str:
    """The start of heartbeat URLs: ``http.public_url``, else the listen address."""
    public = config.main.http.public_url
    if public:
        return public if public.endswith("/") else public + "/"
    return api_url(config) or "http://127.0.0.1:8470/"


async def _from_api(config: Config) -> dict[str, Any] | None:
    import aiohttp

    from monitord.api.status import instance_id

    url = api_url(config)
    if url is None:
        return None
    headers = {}
    if config.main.http.token is not None:
        headers["Authorization"] = f"Bearer {config.main.http.token.get_secret_value()}"
    timeout = aiohttp.ClientTimeout(total=STATUS_API_TIMEOUT.total_seconds())
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url + "api/v1/status", headers=headers) as r,
        ):
            if r.status != 200:
                return None
            data: dict[str, Any] = await r.json()
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("instance") != instance_id(config):
        return None  # another monitord (another configuration) answers on that port
    data["source"] = f"the running daemon at {url}"
    return data


async def _from_store(config: Config) -> dict[str, Any]:
    from monitord.api.status import snapshot
    from monitord.api.storeview import StoreExtras, read_extras
    from monitord.incidents import CheckState
    from monitord.store.sqlite import SqliteStore

    if config.main.state.url is not None:
        return await _from_postgres(config, config.main.state.url)
    path = config.state_path()
    states: dict[str, CheckState] = {}
    results: dict[str, Any] = {}
    incidents: list[Any] = []
    extras = StoreExtras()
    if path.exists():
        store = SqliteStore(path)
        await store.open()
        try:
            states = {k: CheckState.from_json(v) for k, v in (await store.load_states()).items()}
            results = await store.latest_results()
            incidents = await store.open_incidents()
        finally:
            await store.close()
        extras = await asyncio.to_thread(read_extras, config)
    from monitord.clock import utcnow

    data = snapshot(config, states, results, incidents, extras, utcnow())
    data["source"] = f"the store {path} (the daemon's API did not answer)"
    return data


async def _from_postgres(config: Config, url: str) -> dict[str, Any]:
    """The snapshot from the PostgreSQL store (several nodes): the leader's decided states,
    the combined results and the nodes."""
    from monitord.api.status import cluster_status, snapshot
    from monitord.api.storeview import read_extras
    from monitord.clock import utcnow
    from monitord.incidents import CheckState
    from monitord.store.postgres import PostgresStore

    store = PostgresStore(url)
    await store.open()
    try:
        states = {k: CheckState.from_json(v) for k, v in (await store.load_states()).items()}
        results = await store.latest_results()
        incidents = await store.open_incidents()
        now = utcnow()
        cluster = await cluster_status(store, None, now)
    finally:
        await store.close()
    extras = await asyncio.to_thread(read_extras, config)
    data = snapshot(config, states, results, incidents, extras, now)
    data["cluster"] = cluster
    data["source"] = f"the store {store.where} (the daemon's API did not answer)"
    return data


def _heartbeats(config: Config) -> dict[str, dict[str, Any]]:
    """Per heartbeat check key: its URL (when the store is readable), every, grace."""
    from monitord.api.storeview import read_meta
    from monitord.daemon import check_key
    from monitord.errors import StoreError
    from monitord.probes.heartbeat import META_PREFIX, HeartbeatRecord

    wanted: dict[str, HeartbeatCheck] = {}
    for client, site, spec in config.iter_checks():
        if isinstance(spec, HeartbeatCheck):
            assert spec.id is not None
            wanted[check_key(client.client, site.id, spec.id)] = spec
    if not wanted:
        return {}
    try:
        meta = read_meta(config, META_PREFIX)
        note = None
    except (StoreError, OSError) as exc:
        meta = {}
        note = (
            f"the store could not be read ({exc})"
            if config.main.state.url is not None
            else "the store is not readable by this user: run as root to see the URL"
        )
    base = heartbeat_base(config)
    out: dict[str, dict[str, Any]] = {}
    from monitord.durations import format_duration

    for key, spec in wanted.items():
        raw = meta.get(META_PREFIX + key)
        rec = HeartbeatRecord.from_json(raw) if raw else None
        out[key] = {
            "every": format_duration(spec.every),
            "grace": format_duration(spec.grace),
            "url": f"{base}heartbeat/{rec.token}" if rec else None,
            "last_beat": rec.last_beat.isoformat() if rec and rec.last_beat else None,
            "note": note
            if note
            else None
            if rec
            else "no token yet: start the daemon once and it makes one",
        }
    return out


def collect(config_dir: str | None, *, prefer_store: bool = False) -> dict[str, Any]:
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES

    config = load_config(resolve_config_dir(config_dir), notifier_types=NOTIFIER_TYPES)

    async def read() -> dict[str, Any]:
        data = None if prefer_store else await _from_api(config)
        return data if data is not None else await _from_store(config)

    data = asyncio.run(read())
    beats = _heartbeats(config)
    from monitord.drupal.service import read_inventory_problems

    inventory_problems = read_inventory_problems(config)
    for site in data.get("sites", []):
        if site["site"] in inventory_problems:
            site["inventory_unknown"] = inventory_problems[site["site"]]
        for check in site.get("checks", []):
            key = f"{site['client']}/{site['site']}/{check['check']}"
            if key in beats:
                check["heartbeat"] = beats[key]
    return data


def _columns(rows: list[tuple[str, ...]], indent: str) -> list[str]:
    """Rows as left-aligned columns, each as wide as its longest cell; the last cell (a
    message or URL of any length) is not padded."""
    if not rows:
        return []
    # A column empty in every row (no check flaps, nothing has a "since") takes no room.
    keep = [i for i in range(len(rows[0])) if i == len(rows[0]) - 1 or any(r[i] for r in rows)]
    rows = [tuple(r[i] for i in keep) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        (
            indent + "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]])
        ).rstrip()
        for r in rows
    ]


def format_status(data: dict[str, Any]) -> list[str]:
    """The ``status`` table (pure): a line per site, then its checks indented under it, the
    columns of each kind of line aligned across the whole output. Times are shown as in the
    e-mails (:func:`monitord.notify.render.format_time`), in the agency's zone."""
    from zoneinfo import ZoneInfo

    from monitord.notify.render import format_time

    tz = ZoneInfo(data.get("timezone") or "UTC")
    order = {"down": 0, "unknown": 1, "up": 2}
    sites = sorted(data["sites"], key=lambda s: (order[s["state"]], s["client"], s["site"]))
    site_rows: list[tuple[str, ...]] = [
        (s["state"].upper(), f"{s['client']}/{s['site']}", s["url"]) for s in sites
    ]
    check_rows: list[tuple[str, ...]] = []
    for site in sites:
        for c in site["checks"]:
            last = c["last_result"]
            msg = "no result yet" if last is None else last["message"]
            since = f"since {format_time(c['since'], tz)}" if c["since"] else ""
            flap = "FLAPPING" if c["flapping"] else ""
            check_rows.append((c["state"], c["check"], since, flap, msg))
    site_lines = iter(_columns(site_rows, ""))
    check_lines = iter(_columns(check_rows, "  "))
    out = [f"from {data['source']}"]
    for site in sites:
        out.append(next(site_lines))
        if unknown := site.get("inventory_unknown"):
            why = "; ".join(unknown.get("errors") or []) or "no reason recorded"
            out.append(f"  inventory unknown — advisories for this site are checked by hand: {why}")
        if inc := site.get("incident"):
            since = format_time(inc["started"], tz)
            out.append(f"  incident since {since}: {inc['failing'] or inc['summary']}")
        for c in site["checks"]:
            out.append(next(check_lines))
            beat = c.get("heartbeat")
            if beat:
                where = beat["url"] or f"({beat['note']})"
                out.append(f"    heartbeat: {where}  every {beat['every']}, grace {beat['grace']}")
    if not sites:
        out.append("no sites configured")
    if cluster := data.get("cluster"):
        from monitord.cluster.view import format_nodes

        out.extend(format_nodes(cluster, tz))
    if sites or cluster:
        out.append(f"Times are shown in {tz.key} time.")
    return out


def handle(args: argparse.Namespace) -> int:
    data = collect(args.config, prefer_store=args.store)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print("\n".join(format_status(data)))
    return 0
