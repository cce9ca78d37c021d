"""Heartbeat checks: the pure verdict, the token book, and DOWN/UP through the incident path
with beats over real HTTP, a driven clock and the e-mails a real SMTP server receives."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from monitord.config.models import HeartbeatCheck
from monitord.daemon import check_key
from monitord.probes.heartbeat import (
    META_PREFIX,
    TOKEN_BYTES,
    HeartbeatRecord,
    evaluate,
    new_token,
)
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.smtp import SmtpServer, plain_text
from tests.service.conftest import client, running, write_config

KEY = check_key("acme", "acme-cron", "heartbeat")
SPEC = HeartbeatCheck(type="heartbeat", every="1h", grace="10m")


def at(**kw: float) -> datetime:
    return T0 + timedelta(**kw)


@pytest.mark.parametrize(
    ("last_beat", "now", "ok", "message"),
    [
        (
            None,
            at(minutes=0),
            True,
            "waiting for the first heartbeat (due by 2026-11-26T15:10:00Z)",
        ),
        (
            None,
            at(minutes=70),
            True,
            "waiting for the first heartbeat (due by 2026-11-26T15:10:00Z)",
        ),
        (
            None,
            at(minutes=70, seconds=1),
            False,
            "no heartbeat since the check was set up at 2026-11-26T14:00:00Z "
            "(expected every 1h, grace 10m)",
        ),
        (at(minutes=30), at(minutes=31), True, "last heartbeat 1m ago"),
        (at(minutes=30), at(minutes=100), True, "last heartbeat 1h 10m ago"),
        (
            at(minutes=30),
            at(minutes=100, seconds=1),
            False,
            "no heartbeat since 2026-11-26T14:30:00Z (expected every 1h, grace 10m)",
        ),
        # A beat "from the future" (clock stepped back) is not a failure.
        (at(minutes=30), at(minutes=20), True, "last heartbeat 0s ago"),
    ],
)
def test_verdict_table(last_beat: datetime, now: datetime, ok: bool, message: str) -> None:
    result = evaluate(SPEC, HeartbeatRecord("t", created=T0, last_beat=last_beat), now)
    assert (result.ok, result.message) == (ok, message)


def test_no_record_fails_and_says_why() -> None:
    result = evaluate(SPEC, None, T0)
    assert not result.ok and "token" in result.message


@pytest.mark.parametrize(
    ("fields", "interval"),
    [
        ({"every": "1h"}, timedelta(seconds=60)),
        ({"every": "2m"}, timedelta(seconds=30)),
        ({"every": "2s"}, timedelta(seconds=1)),
        ({"every": "1h", "interval": "5m"}, timedelta(minutes=5)),
        ({}, timedelta(seconds=60)),
    ],
)
def test_evaluation_interval_defaults_to_a_fraction_of_every(
    fields: dict[str, Any], interval: timedelta
) -> None:
    assert HeartbeatCheck(type="heartbeat", **fields).interval == interval


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"every": "0s"}, "every must be at least 1s"),
        ({"grace": timedelta(minutes=-1)}, "grace must be at least 0s and at most 31d"),
        ({"every": "32d"}, "every must be at least 1s and at most 31d"),
        ({"grace": "-1m"}, "is not a duration"),
    ],
)
def test_invalid_heartbeat_checks(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        HeartbeatCheck(type="heartbeat", **fields)


def test_tokens_are_random_and_long() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert TOKEN_BYTES * 8 >= 128
    assert all(len(t) >= 32 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


async def test_token_is_made_once_kept_in_the_store_and_looked_up_exactly(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    async with running(cfg, Clock(T0)) as (daemon, _api):
        rec = daemon.heartbeats.records[KEY]
        assert rec.created == T0 and rec.last_beat is None
        assert daemon.store is not None
        stored = await daemon.store.get_meta(META_PREFIX + KEY)
        assert stored is not None and HeartbeatRecord.from_json(stored) == rec
        token = rec.token
        assert daemon.heartbeats.lookup(token) == KEY
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        for wrong in (
            token[:-1],
            token + "x",
            flipped,
            "",
            token.upper() if token.upper() != token else "x",
        ):
            assert daemon.heartbeats.lookup(wrong) is None
    later = Clock(T0 + timedelta(days=3))
    async with running(cfg, later) as (daemon, _api):
        assert daemon.heartbeats.records[KEY].token == token  # same token after a restart
        assert daemon.heartbeats.records[KEY].created == T0


async def test_heartbeat_endpoint(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api), client() as http:
        token = daemon.heartbeats.records[KEY].token
        async with http.get(f"{api.url}heartbeat/{'x' * len(token)}") as r:
            assert (r.status, await r.text()) == (404, "unknown heartbeat token\n")
        clock.advance(minutes=5)
        async with http.get(f"{api.url}heartbeat/{token}") as r:
            assert r.status == 200
            assert await r.json() == {"ok": True, "check": KEY}
        assert daemon.heartbeats.records[KEY].last_beat == clock()
        # A second beat within a second is answered, not recorded again.
        first = clock()
        clock.advance(seconds=0.5)
        async with http.post(f"{api.url}heartbeat/{token}") as r:
            assert r.status == 200
        assert daemon.heartbeats.records[KEY].last_beat == first
        clock.advance(minutes=1)
        async with http.post(f"{api.url}heartbeat/{token}") as r:
            assert r.status == 200
        assert daemon.heartbeats.records[KEY].last_beat == clock()
        assert daemon.store is not None
        stored = await daemon.store.get_meta(META_PREFIX + KEY)
        assert stored is not None and HeartbeatRecord.from_json(stored).last_beat == clock()


async def test_missed_heartbeat_goes_down_and_a_beat_brings_it_up_with_mail(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    cfg = write_config(tmp_path / "cfg", smtp_port=smtp_server.port)
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api), client() as http:
        token = daemon.heartbeats.records[KEY].token
        clock.advance(minutes=5)  # 14:05: the nightly job reports in
        async with http.post(f"{api.url}heartbeat/{token}") as r:
            assert r.status == 200
        assert daemon.states[KEY].status == "unknown"  # one success; threshold is 2

        # The scheduler evaluates it like any probe; within every + grace it passes.
        clock.advance(minutes=60)  # 15:05
        assert await daemon.tick(KEY) == []
        assert daemon.states[KEY].status == "up"
        clock.advance(minutes=11)  # 15:16, past 15:15
        assert await daemon.tick(KEY) == []  # first failure
        clock.advance(minutes=1)
        events = await daemon.tick(KEY)
        assert [e.kind for e in events] == ["site-down"]
        assert "no heartbeat since 2026-11-26T14:05:00Z" in events[0].summary
        down = (await smtp_server.wait_for_async(1))[0]
        assert down.rcpt_tos == ("jo@acme.example",)
        assert "acme-cron" in down.message["Subject"]
        body = plain_text(down.message)
        assert "no heartbeat since 2026-11-26T14:05:00Z" in body
        assert daemon.store is not None
        assert [(i.key, i.check) for i in await daemon.store.open_incidents()] == [
            ("acme/acme-cron", "heartbeat")
        ]

        clock.advance(minutes=30)  # 15:47: the job runs again
        async with http.get(f"{api.url}heartbeat/{token}") as r:
            assert r.status == 200
        clock.advance(minutes=1)
        events = await daemon.tick(KEY)
        assert [e.kind for e in events] == ["site-recovered"]
        mails = await smtp_server.wait_for_async(2)
        assert mails[1].rcpt_tos == ("jo@acme.example",)
        assert mails[1].message["References"] == down.message["References"]  # same thread
        assert await daemon.store.open_incidents() == []
        incidents = await daemon.store.incidents()
        assert len(incidents) == 1 and incidents[0].ended == clock()
