"""Heartbeat (push) checks: a cron job or a client's service calls ``/heartbeat/{token}``.

Nothing is probed. Each ``{type: heartbeat, every: 1h, grace: 10m}`` check gets a random token
(:data:`TOKEN_BYTES`, generated once and kept in the store's meta table under
``heartbeat:<check key>`` with the time it was made and the last beat). The scheduler evaluates
the check like any other (:func:`evaluate`, pure): it fails when nothing came for ``every`` +
``grace`` since the last beat (or since the check was set up). A beat records the time and
feeds a passing result to the daemon's incident path (:class:`HeartbeatIntake`): DOWN and UP go through the same incident path as
every probe's results.

Token lookup does not leak by timing: the table is keyed by the SHA-256 of the token (what an
attacker varies changes the digest unpredictably, so no prefix can be found by timing) and the
match is confirmed with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from monitord.config.models import HeartbeatCheck, Site
from monitord.durations import format_duration
from monitord.errors import StoreError
from monitord.logsetup import get_logger
from monitord.probes.base import ProbeContext, ProbeResult

if TYPE_CHECKING:
    from monitord.checks import CheckView
    from monitord.events import Event
    from monitord.store.base import Store

TOKEN_BYTES = 24
"""Random bytes per token (192 bits, 32 URL-safe characters): far past guessing, short enough
to paste into a crontab line."""

META_PREFIX = "heartbeat:"
"""Store meta key of a check's heartbeat record: ``heartbeat:<client>/<site>/<check>``."""

MIN_BEAT_SPACING = timedelta(seconds=1)
"""Beats of one check closer together than this are answered but not recorded again: a caller
in a loop cannot turn the endpoint into a stream of store writes."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class HeartbeatRecord:
    """What the store keeps per heartbeat check."""

    token: str
    created: datetime
    """When the token was made: the reference for "no beat yet"."""
    last_beat: datetime | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "token": self.token,
                "created": self.created.isoformat(),
                "last_beat": self.last_beat.isoformat() if self.last_beat else None,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> HeartbeatRecord:
        d: dict[str, Any] = json.loads(text)
        last = d.get("last_beat")
        return cls(
            token=str(d["token"]),
            created=datetime.fromisoformat(d["created"]),
            last_beat=datetime.fromisoformat(last) if last else None,
        )


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def evaluate(spec: HeartbeatCheck, record: HeartbeatRecord | None, now: datetime) -> ProbeResult:
    """The check's result at ``now`` (pure)."""
    window = spec.every + spec.grace
    expect = f"expected every {format_duration(spec.every)}, grace {format_duration(spec.grace)}"
    if record is None:
        return ProbeResult(
            ok=False,
            message="heartbeat token not set up yet (the store could not be read)",
            details={"error": "no-token"},
        )
    base = record.last_beat or record.created
    deadline = base + window
    details: dict[str, Any] = {
        "last_beat": record.last_beat.isoformat() if record.last_beat else None,
        "deadline": deadline.isoformat(),
    }
    if now <= deadline:
        if record.last_beat is None:
            message = f"waiting for the first heartbeat (due by {_ts(deadline)})"
        else:
            message = f"last heartbeat {format_duration(max(now - base, timedelta(0)))} ago"
        return ProbeResult(ok=True, message=message, details=details)
    if record.last_beat is None:
        message = f"no heartbeat since the check was set up at {_ts(base)} ({expect})"
    else:
        message = f"no heartbeat since {_ts(base)} ({expect})"
    return ProbeResult(ok=False, message=message, details=details)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class HeartbeatBook:
    """The heartbeat records of the configured checks, in memory, backed by the store."""

    def __init__(self) -> None:
        self.records: dict[str, HeartbeatRecord] = {}
        self._by_digest: dict[bytes, str] = {}
        self._log = get_logger(component="heartbeat")

    async def sync(self, store: Store, checks: Mapping[str, CheckView], now: datetime) -> None:
        """Load (or make and save) the record of every heartbeat check in ``checks``; forget
        the records of checks no longer configured (the store keeps them: a check added back
        keeps its token)."""
        wanted = [k for k, sc in checks.items() if isinstance(sc.spec, HeartbeatCheck)]
        records: dict[str, HeartbeatRecord] = {}
        for key in wanted:
            rec = self.records.get(key)
            if rec is None:
                try:
                    rec = await self._load_or_create(store, key, now)
                except StoreError as exc:
                    self._log.error("heartbeat.token_unavailable", check=key, error=str(exc))
                    continue
            records[key] = rec
        self.records = records
        self._by_digest = {_digest(r.token): k for k, r in records.items()}

    async def _load_or_create(self, store: Store, key: str, now: datetime) -> HeartbeatRecord:
        raw = await store.get_meta(META_PREFIX + key)
        if raw is not None:
            try:
                return HeartbeatRecord.from_json(raw)
            except (ValueError, KeyError, TypeError):
                self._log.warning("heartbeat.record_unreadable", check=key, action="new token")
        rec = HeartbeatRecord(token=new_token(), created=now)
        if raw is None:
            # Another node starting at the same moment may make one too: the first stored wins.
            stored = await store.add_meta(META_PREFIX + key, rec.to_json())
            if stored != rec.to_json():
                return HeartbeatRecord.from_json(stored)
        else:
            await store.set_meta(META_PREFIX + key, rec.to_json(), leader_only=False)
        self._log.info("heartbeat.token_created", check=key)
        return rec

    def lookup(self, token: str) -> str | None:
        """The check key a token belongs to, or None (see the module's note on timing)."""
        key = self._by_digest.get(_digest(token))
        if key is None:
            return None
        rec = self.records.get(key)
        if rec is None or not hmac.compare_digest(rec.token.encode(), token.encode()):
            return None
        return key

    def result(self, key: str, spec: HeartbeatCheck, now: datetime) -> ProbeResult:
        return evaluate(spec, self.records.get(key), now)

    async def record_beat(self, store: Store, key: str, now: datetime) -> bool:
        """Save a beat at ``now``; False when one was saved less than MIN_BEAT_SPACING ago."""
        rec = self.records[key]
        if rec.last_beat is not None and now - rec.last_beat < MIN_BEAT_SPACING:
            return False
        new = replace(rec, last_beat=now)
        await store.set_meta(META_PREFIX + key, new.to_json(), leader_only=False)
        self.records[key] = new
        return True


class HeartbeatIntake(Protocol):
    """Where a heartbeat arrives (the daemon's runtime, monitord.runtime): the book of tokens,
    the checks, and the incident path a result takes."""

    @property
    def heartbeats(self) -> HeartbeatBook: ...

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def checks(self) -> Mapping[str, CheckView]: ...

    async def apply(self, sc: CheckView, result: ProbeResult, now: datetime) -> list[Event]:
        """Evaluate ``result`` for ``sc`` and store the outcome (as a probe result is)."""
        ...


async def receive_beat(intake: HeartbeatIntake, key: str) -> list[Event]:
    """A beat for check ``key``: record it and apply a passing result (the incident path)."""
    sc = intake.checks.get(key)
    if sc is None or not isinstance(sc.spec, HeartbeatCheck):
        return []
    now = intake.clock()
    if not await intake.heartbeats.record_beat(intake.store, key, now):
        return []
    result = ProbeResult(
        ok=True, message="heartbeat received", details={"last_beat": now.isoformat()}
    )
    return await intake.apply(sc, result, now)


async def load_records(store: Store, keys: list[str]) -> dict[str, HeartbeatRecord]:
    """The stored records of ``keys`` (for ``monitord status``); keys without one are left out."""
    out: dict[str, HeartbeatRecord] = {}
    for key in keys:
        raw = await store.get_meta(META_PREFIX + key)
        if raw is None:
            continue
        try:
            out[key] = HeartbeatRecord.from_json(raw)
        except (ValueError, KeyError, TypeError):
            continue
    return out


async def probe(site: Site, spec: HeartbeatCheck, ctx: ProbeContext) -> ProbeResult:
    """The probe signature, for ``monitord probe``: a heartbeat cannot be probed from here."""
    return ProbeResult(
        ok=False,
        message="heartbeat checks are pushed, not probed: the running daemon evaluates them; "
        "see `monitord status` for the check's URL",
        details={"error": "push-check"},
    )
