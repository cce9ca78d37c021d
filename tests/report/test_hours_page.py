"""The client hours page on the HTTP API: its own token, 404 otherwise, nothing leaked."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from monitord.api.server import ApiService, api_service
from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.report.seed import TOKEN, seed, write_config

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


@pytest.fixture
async def api(tmp_path: Path) -> object:
    cfg = write_config(tmp_path)
    await asyncio.to_thread(seed, cfg)
    daemon = Daemon(cfg, clock=Clock(NOW), schedule=False, services=[api_service])
    await daemon.start()
    service = next(s for s in daemon.services if isinstance(s, ApiService))
    try:
        assert service.url is not None
        yield service.url.rstrip("/")
    finally:
        await daemon.stop()


async def test_right_token_shows_the_page(api: str) -> None:
    status, html = await get(f"{api}/hours/{TOKEN}")
    assert status == 200
    assert "ACME Charity: support hours" in html
    assert "13h 30m" in html  # 20h available (10h + 10h brought forward) − 6h 30m used
    assert "as of Fri 27 Nov 2026 15:00 GMT" in html
    assert "trustee page" in html  # this month's entries
    assert "October 2026" in html and "September 2026" in html  # last months


@pytest.mark.parametrize(
    "path",
    [
        "/hours/" + "x" * len(TOKEN),
        "/hours/" + TOKEN[:-1],
        "/hours/" + TOKEN + "x",
        "/hours/",
        "/hours/acme",
    ],
)
async def test_wrong_token_is_a_plain_404(
    api: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = await get(api + path)
    assert status == 404
    assert "acme" not in body.lower() and "ACME" not in body
    _, unknown_path = await get(api + "/no-such-page")
    assert body == unknown_path  # the same answer as any unknown path
    assert TOKEN not in caplog.text
