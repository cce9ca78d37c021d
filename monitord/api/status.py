"""The status snapshot: every client and site, as ``/api/v1/status`` serves it and the status
page renders it. :func:`snapshot` is pure (values in, JSON-ready dict out, ``now`` passed in);
:func:`collect` gathers those values from a running daemon's runtime.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from monitord.api.storeview import SharedReader, StoreExtras, read_extras
from monitord.calendar import agency_calendar, next_patch_day
from monitord.certexpiry import days_left, expiry_message, not_after_of
from monitord.checks import check_key, check_target, site_key
from monitord.config.models import Config, TlsCheck
from monitord.incidents import CheckState
from monitord.store.base import IncidentRow, ResultRow
from monitord.store.nodes import ClusterStore

if TYPE_CHECKING:
    from monitord.runtime import CheckBoard, Runtime

    class StatusSource(Runtime, CheckBoard, Protocol):
        """What a status snapshot reads: configuration, store, clock and check states."""


CERT_SOON_DAYS = 30
"""Certificates with fewer days left (:func:`monitord.certexpiry.days_left`, counted at ``now``)
than this (or than the check's own ``min_days_left``, if
larger) are listed as close to expiry on the status page."""

STATE_ORDER = {"down": 0, "unknown": 1, "up": 2}
"""Sort order of sites on the page and in the JSON: down first."""


def instance_id(config: Config) -> str:
    """Names the configuration a daemon runs (its directory), so ``monitord status`` can tell
    its own daemon from another one answering on the same port."""
    text = str(Path(config.directory).resolve())
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def worst(states: Sequence[str]) -> str:
    """A site's state from its checks': down if any is down, else unknown if any is (or it
    has no checks), else up."""
    if not states:
        return "unknown"
    return min(states, key=lambda s: STATE_ORDER.get(s, 1))


def snapshot(
    config: Config,
    states: Mapping[str, CheckState],
    results: Mapping[str, ResultRow],
    incidents: Sequence[IncidentRow],
    extras: StoreExtras,
    now: datetime,
) -> dict[str, Any]:
    """Everything the status JSON and page show, sites sorted down first."""
    open_by_key = {i.key: i for i in incidents}
    queue_by_site: dict[str, list[dict[str, Any]]] = {}
    for item in extras.patch_queue:
        queue_by_site.setdefault(item.site, []).append(asdict(item))
    sites: list[dict[str, Any]] = []
    certs: list[dict[str, Any]] = []
    clients: list[dict[str, Any]] = []
    for client in config.clients:
        client_sites: list[str] = []
        client_states: list[str] = []
        for site in client.sites:
            checks: list[dict[str, Any]] = []
            # A site incident (one row keyed by the site) lists its failing checks in ``check``.
            site_inc = open_by_key.get(site_key(client.client, site.id))
            in_site_inc = set(site_inc.check.split(", ")) if site_inc is not None else set()
            for spec in site.checks:
                assert spec.id is not None
                key = check_key(client.client, site.id, spec.id)
                st = states.get(key, CheckState())
                res = results.get(key)
                inc = open_by_key.get(key) or (site_inc if spec.id in in_site_inc else None)
                not_after = not_after_of(res.details) if res is not None else None
                message, warning = (res.message, res.warning) if res is not None else ("", None)
                if res is not None and res.ok and not_after and isinstance(spec, TlsCheck):
                    # Say the days left now, not as they were at the probe (up to 6 h ago).
                    message, warning = expiry_message(not_after, now, spec.min_days_left)
                checks.append(
                    {
                        "check": spec.id,
                        "type": spec.type,
                        "target": check_target(site, spec),
                        "state": st.status,
                        "since": _iso(st.since),
                        "flapping": st.flapping,
                        "last_result": None
                        if res is None
                        else {
                            "ok": res.ok,
                            "message": message,
                            "warning": warning,
                            "at": _iso(res.at),
                            "duration": res.duration,
                        },
                        "incident": None
                        if inc is None
                        else {
                            "id": inc.id,
                            "started": _iso(inc.started),
                            "summary": inc.summary,
                        },
                        "certificate": None
                        if not_after is None
                        else {"not_after": _iso(not_after), "days_left": days_left(not_after, now)},
                    }
                )
                if not_after is not None:
                    days = days_left(not_after, now)
                    limit = max(
                        CERT_SOON_DAYS, spec.min_days_left if isinstance(spec, TlsCheck) else 0
                    )
                    if days < limit:
                        certs.append(
                            {
                                "client": client.client,
                                "site": site.id,
                                "check": spec.id,
                                "days_left": days,
                                "not_after": _iso(not_after),
                            }
                        )
            state = worst([c["state"] for c in checks])
            since_candidates = [c["since"] for c in checks if c["state"] == state and c["since"]]
            sites.append(
                {
                    "client": client.client,
                    "client_name": client.name,
                    "site": site.id,
                    "name": site.display_name,
                    "url": site.display_url,
                    "state": state,
                    "since": max(since_candidates) if since_candidates else None,
                    "checks": checks,
                    "incident": None
                    if site_inc is None
                    else {
                        "id": site_inc.id,
                        "started": _iso(site_inc.started),
                        "summary": site_inc.summary,
                        "failing": site_inc.last_message,
                    },
                    "patch_queue": queue_by_site.get(site.id, []),
                }
            )
            client_sites.append(site.id)
            client_states.append(state)
        clients.append(
            {
                "client": client.client,
                "name": client.name,
                "state": worst(client_states),
                "sites": client_sites,
            }
        )
    sites.sort(key=lambda s: (STATE_ORDER[s["state"]], s["client"], s["site"]))
    clients.sort(key=lambda c: (STATE_ORDER[c["state"]], c["client"]))
    certs.sort(key=lambda c: (c["days_left"], c["client"], c["site"]))
    summary = {"sites": len(sites), "up": 0, "down": 0, "unknown": 0}
    for s in sites:
        summary[s["state"]] += 1
    cal = agency_calendar(config.main.agency)
    return {
        "generated": now.isoformat(),
        "instance": instance_id(config),
        "agency": config.main.agency.name,
        "timezone": config.main.agency.timezone,
        "summary": summary,
        "next_patch_day": next_patch_day(now, cal).isoformat(),
        "clients": clients,
        "sites": sites,
        "incidents": [
            {
                "id": i.id,
                "client": i.client,
                "site": i.site,
                "check": i.check,
                "started": _iso(i.started),
                "summary": i.summary,
                "last_message": i.last_message,
            }
            for i in incidents
        ],
        "certificates": certs,
        "patch_queue": [asdict(item) for item in extras.patch_queue],
        "patch_queue_pending": extras.patch_queue_pending,
        "advisories_seen": extras.advisories_seen,
    }


async def collect(runtime: StatusSource, reader: SharedReader | None = None) -> dict[str, Any]:
    """The snapshot of a running daemon (store reads on the store's thread); the store's
    aggregates through ``reader`` (the API's, kept open), else a reader opened for this."""
    config = runtime.config()
    store = runtime.store
    results = await store.latest_results()
    incidents = await store.open_incidents()
    extras = await asyncio.to_thread(read_extras if reader is None else reader.extras, config)
    data = snapshot(config, dict(runtime.states), results, incidents, extras, runtime.clock())
    if hasattr(store, "nodes"):  # several nodes on PostgreSQL
        data["cluster"] = await cluster_status(
            cast("ClusterStore", store), getattr(runtime, "node_id", None), runtime.clock()
        )
    return data


async def cluster_status(store: ClusterStore, me: str | None, now: datetime) -> dict[str, Any]:
    """The nodes, their heartbeats and the leader, as the database has them."""
    from monitord.cluster.view import cluster_section

    return cluster_section(await store.nodes(), await store.leader(), me, now)
