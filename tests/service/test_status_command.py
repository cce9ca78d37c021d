"""``monitord status``: from the running daemon's API when it answers, else from the store;
heartbeat checks show their URL (token read from the store, never from the API)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.daemon import check_key
from monitord.probes.base import ProbeResult
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.secrets import CapturedLogs
from tests.service.conftest import running, write_config

WWW = check_key("acme", "acme-www", "http")
BEAT = check_key("acme", "acme-cron", "heartbeat")


def run_status(cfg: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()  # drop the daemon's own log lines
    assert main(["status", "--config", str(cfg), *extra]) == 0
    return capsys.readouterr().out


async def test_status_reads_the_running_daemon_then_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], captured_logs: CapturedLogs
) -> None:
    # The daemon keeps working while the CLI runs in a thread: its outbox sender opens the
    # DOWN's ticket (the built-in tickets-local) and logs it. Its log lines are captured
    # here, so that stdout holds only what `monitord status` prints.
    cfg = write_config(tmp_path / "cfg")
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api):
        assert api.bound is not None
        # Point the CLI's configuration at the port the daemon really got.
        main_yml = cfg / "monitord.yml"
        main_yml.write_text(
            main_yml.read_text().replace("127.0.0.1:0", f"127.0.0.1:{api.bound[1]}")
        )
        for _ in range(2):
            clock.advance(minutes=1)
            await daemon.tick(WWW, ProbeResult(ok=False, message="HTTP 502 in 9 ms"))
        token = daemon.heartbeats.records[BEAT].token
        out = await asyncio.to_thread(run_status, cfg, capsys, "--json")
        data = json.loads(out)
        assert data["source"] == f"the running daemon at {api.url}"
        www = next(s for s in data["sites"] if s["site"] == "acme-www")
        assert www["state"] == "down"
        # The site's open incident names its failing check with its target (the display URL).
        assert www["incident"]["failing"] == f"http {www['url']}: HTTP 502 in 9 ms"
        cron = next(s for s in data["sites"] if s["site"] == "acme-cron")
        beat = cron["checks"][0]["heartbeat"]
        assert beat["url"] == f"{api.url}heartbeat/{token}"
        assert (beat["every"], beat["grace"]) == ("1h", "10m")

        text = await asyncio.to_thread(run_status, cfg, capsys)
        lines = text.splitlines()
        assert lines[0] == f"from the running daemon at {api.url}"
        assert lines[1].startswith("DOWN     acme/acme-www")
        assert lines[2] == (
            f"  incident since Thu 26 Nov 2026 14:01 GMT: http {www['url']}: HTTP 502 in 9 ms"
        )
        assert f"heartbeat: {api.url}heartbeat/{token}  every 1h, grace 10m" in text

    # The daemon is gone: the store answers, with the same states and the same token.
    text = await asyncio.to_thread(run_status, cfg, capsys)
    assert text.splitlines()[0].startswith("from the store ")
    assert "DOWN     acme/acme-www" in text
    assert (
        f"  incident since Thu 26 Nov 2026 14:01 GMT: http {www['url']}: HTTP 502 in 9 ms" in text
    )
    assert f"heartbeat/{token}" in text


def test_status_before_the_first_run_says_how_to_get_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path / "cfg", http="{listen: off}")
    text = run_status(cfg, capsys)
    assert "no token yet: start the daemon once" in text


def test_unreadable_store_hides_the_token_and_says_why(tmp_path: Path) -> None:
    """A store this user cannot read (as under DynamicUser=): the URL is replaced by a note.
    A directory in the store's place fails to open as root too."""
    from monitord.commands.status import _heartbeats
    from monitord.config import load_config

    cfg = write_config(tmp_path / "cfg", http="{listen: off}")
    (cfg / "state.sqlite3").mkdir()
    beats = _heartbeats(load_config(cfg))
    assert beats[BEAT]["url"] is None
    assert (
        beats[BEAT]["note"] == "the store is not readable by this user: run as root to see the URL"
    )


def test_public_url_makes_the_heartbeat_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(
        tmp_path / "cfg", http="{listen: off, public_url: 'https://monitor.collective.example'}"
    )
    asyncio.run(_start_once(cfg))
    data = json.loads(run_status(cfg, capsys, "--json"))
    cron = next(s for s in data["sites"] if s["site"] == "acme-cron")
    url = cron["checks"][0]["heartbeat"]["url"]
    assert url.startswith("https://monitor.collective.example/heartbeat/")
    assert len(url.rsplit("/", 1)[1]) >= 32


async def _start_once(cfg: Path) -> None:
    async with running(cfg, Clock(T0)):
        pass


async def test_another_daemon_on_the_port_is_not_taken_for_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = write_config(tmp_path / "theirs")
    async with running(theirs, Clock(T0)) as (_daemon, api):
        assert api.bound is not None
        ours = write_config(tmp_path / "ours", http=f"{{listen: '127.0.0.1:{api.bound[1]}'}}")
        text = await asyncio.to_thread(run_status, ours, capsys)
    assert text.splitlines()[0].startswith(f"from the store {ours / 'state.sqlite3'}")
