"""When each check runs, and what the scheduler holds for it (pure: no clock, no I/O).

Every check runs at anchor + its own stable offset + k × interval, so its phase is the same
across restarts and reloads and checks are spread over their interval; a check whose first
slot is further away than FIRST_RUN_WITHIN gets one extra run within that minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitord.checks import check_key, check_target, site_key
from monitord.config.models import CheckSpec, ClientConfig, Config, Site
from monitord.incidents import CheckRef
from monitord.site_incident import SiteRef

SCHEDULE_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
"""Every check's schedule is anchor + its own offset + k × interval, so the phase of a check is
the same across restarts and reloads, and checks are spread evenly over their interval."""

FIRST_RUN_SUFFIX = "#first"
"""The scheduler job id of a check's extra first run is its key plus this."""


def schedule_offset(key: str, interval: timedelta) -> timedelta:
    """A stable offset in [0, interval) from the key: first runs spread over the interval."""
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    ms = max(int(interval.total_seconds() * 1000), 1)
    return timedelta(milliseconds=h % ms)


FIRST_RUN_WITHIN = timedelta(seconds=60)
"""Every check runs once within this time of being scheduled (at start, or when a reload adds
or changes it), spread over it by key, and then keeps its stable offset. Without it a check
with a 6 h interval said "no result yet" for hours after start."""


def first_run(now: datetime, start: datetime, interval: timedelta, key: str) -> datetime | None:
    """An extra first run for a check scheduled at ``now``: at a stable point within
    FIRST_RUN_WITHIN, or None when the check's own schedule (``start`` + k × ``interval``)
    already comes that soon."""
    upcoming = start if now <= start else last_due(now, start, interval) + interval
    if upcoming - now <= FIRST_RUN_WITHIN:
        return None
    return now + schedule_offset(key, FIRST_RUN_WITHIN)


def last_due(now: datetime, start: datetime, interval: timedelta) -> datetime:
    """The latest scheduled instant at or before ``now`` for a schedule start + k × interval."""
    if now <= start:
        return start
    k = (now - start) // interval
    return start + k * interval


@dataclass(frozen=True, slots=True)
class ScheduledCheck:
    key: str
    client: ClientConfig
    site: Site
    spec: CheckSpec
    ref: CheckRef
    start: datetime
    sref: SiteRef | None = None
    """The site incident this check's failures join (None: per-check incidents)."""


def scheduled_checks(config: Config) -> dict[str, ScheduledCheck]:
    out: dict[str, ScheduledCheck] = {}
    for client, site, spec in config.iter_checks():
        assert spec.id is not None
        key = check_key(client.client, site.id, spec.id)
        ref = CheckRef(
            key=key,
            client=client.client,
            site=site.id,
            check=spec.id,
            check_type=spec.type,
            url=site.display_url_of(spec),
            client_name=client.name,
            site_name=site.display_name,
            target=check_target(site, spec),
        )
        start = SCHEDULE_ANCHOR + schedule_offset(key, spec.interval)
        sref = None
        if site.alert.incident == "per-site":
            sref = SiteRef(
                key=site_key(client.client, site.id),
                client=client.client,
                site=site.id,
                url=site.display_url,
                client_name=client.name,
                site_name=site.display_name,
            )
        out[key] = ScheduledCheck(key, client, site, spec, ref, start, sref)
    return out
