"""The report and the client hours page as a person sees them, in Debian's headless chromium:
the report as the HTML part (with its PNG charts) written by ``monitord report --out``, the
hours page served by the daemon's API on 127.0.0.1.

Skipped only when /usr/bin/chromium is absent and CI is not set; on CI it must run.
``MONITORD_UPDATE_SCREENSHOT=1`` writes docs/report.png and docs/hours-page.png.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.api.server import ApiService, api_service
from monitord.cli import main
from monitord.config import load_config
from monitord.contracts.closing import close_all
from monitord.contracts.models import Month
from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.report.seed import TOKEN, seed, write_config
from tests.service.test_chromium import CHROMIUM, chromium, png_size

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium); required on CI",
    ),
]


def keep(shot: Path, name: str) -> None:
    data = shot.read_bytes()
    assert png_size(data)[0] > 0 and len(data) > 10_000  # a rendered page, not a blank one
    if os.environ.get("MONITORD_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, DOCS / name)


async def test_report_in_headless_chromium(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    await asyncio.to_thread(seed, cfg)
    # Closed first, as the daemon does before it sends the report.
    closing = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await asyncio.to_thread(close_all, load_config(cfg), Month.parse("2026-11"), closing)
    out = tmp_path / "out"
    args = ["report", "acme", "--month", "2026-11", "--out", str(out)]
    assert (
        await asyncio.to_thread(main, [*args, "--at", "2026-12-01T09:30Z", "--config", str(cfg)])
        == 0
    )
    url = (out / "report.html").as_uri()
    dom = await chromium("--dump-dom", url, profile=tmp_path / "p1")
    for text in (
        "Monthly report for November 2026",
        "99.95 %",
        "HTTP 503 from the web server",
        "SA-CORE-2026-005",
        "6 d 16 h",
        "2 (66.67 %)",
        "Still open:",
        "6h 30m",
        "The month is closed",
    ):
        assert text in dom
    shot = tmp_path / "report.png"
    await chromium(f"--screenshot={shot}", "--window-size=760,1720", url, profile=tmp_path / "p2")
    keep(shot, "report.png")


async def test_hours_page_in_headless_chromium(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    await asyncio.to_thread(seed, cfg)
    clock = Clock(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[api_service])
    await daemon.start()
    try:
        api = next(s for s in daemon.services if isinstance(s, ApiService))
        assert api.url is not None
        url = f"{api.url.rstrip('/')}/hours/{TOKEN}"
        dom = await chromium("--dump-dom", url, profile=tmp_path / "p1")
        shot = tmp_path / "hours.png"
        await chromium(
            f"--screenshot={shot}", "--window-size=760,700", url, profile=tmp_path / "p2"
        )
    finally:
        await daemon.stop()
    assert "13h 30m" in dom and "remaining of" in dom and "20h 00m" in dom
    assert "Last months" in dom and "October 2026" in dom
    keep(shot, "hours-page.png")
