"""The status page as a person sees it: Debian's chromium, headless, started by the test,
loads the page from the daemon's API on 127.0.0.1 (dump the DOM after load, then screenshot).

Skipped only when /usr/bin/chromium is absent and CI is not set; on CI it must run.
``MONITORD_UPDATE_SCREENSHOT=1`` writes the screenshot to docs/status-page.png.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitord.daemon import Daemon, check_key
from monitord.probes.base import ProbeResult
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.service.conftest import running, write_config

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "status-page.png"
WINDOW = (1000, 1300)
CHROMIUM_TIMEOUT = 90.0
"""Seconds chromium may take to start, load and render on a loaded 2-core box."""

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium); required on CI",
    ),
]


async def chromium(*args: str, profile: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CHROMIUM_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


class Visible(HTMLParser):
    """Text per section id and the order of site items, from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.site_states: list[tuple[str, str]] = []
        self._stack: list[str | None] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("style", "script", "title"):
            self._skip += 1
        if tag == "section":
            self._stack.append(a.get("id"))
        if tag == "li" and a.get("data-state"):
            self.site_states.append((str(a.get("data-site")), str(a["data-state"])))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1
        if tag == "section" and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._skip or not data.strip():
            return
        key = self._stack[-1] if self._stack else "page"
        self.sections.setdefault(key or "page", []).append(" ".join(data.split()))

    def text(self, section: str) -> str:
        return " ".join(self.sections.get(section, []))


async def populate(daemon: Daemon, clock: Clock) -> bool:
    """A realistic afternoon: one site down, a certificate running out, a queued update (when
    the store has the patch-day table). Returns whether the queue item was added."""
    www = check_key("acme", "acme-www", "http")
    tls = check_key("acme", "acme-www", "tls")
    river = check_key("riverside", "riverside-www", "http")
    cron = check_key("acme", "acme-cron", "heartbeat")
    for _ in range(2):
        clock.advance(minutes=1)
        await daemon.tick(
            www, ProbeResult(ok=False, message="HTTP 503 Service Unavailable in 41 ms")
        )
        await daemon.tick(river, ProbeResult(ok=True, message="HTTP 200 in 95 ms", duration=0.095))
        await daemon.tick(cron, ProbeResult(ok=True, message="last heartbeat 12m ago"))
        await daemon.tick(
            tls,
            ProbeResult(
                ok=True,
                message="certificate valid for 9 more days",
                warning="certificate expires in 9 days (2026-12-05)",
                details={"cert_days_left": 9.4, "cert_not_after": "2026-12-05T23:59:59+00:00"},
            ),
        )
    assert daemon.config is not None
    conn = sqlite3.connect(daemon.config.state_path())
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "patch_queue" not in tables:
            return False
        conn.execute(
            "INSERT INTO patch_queue (site, advisory, client, project, installed, fixed, link, "
            "patch_day, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "riverside-www",
                "SA-CONTRIB-2026-031",
                "riverside",
                "drupal/webform",
                "6.2.3",
                "6.2.9",
                "https://www.drupal.org/sa-contrib-2026-031",
                "2026-12-17",
                clock().isoformat(),
            ),
        )
        conn.commit()
    finally:
        conn.close()
    return True


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_status_page_in_headless_chromium(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, api):
        queued = await populate(daemon, clock)
        url = str(api.url)
        dom = await chromium("--dump-dom", url, profile=tmp_path / "profile-dom")
        shot = tmp_path / "status.png"
        await chromium(f"--screenshot={shot}", url, profile=tmp_path / "profile-shot")

    page = Visible()
    page.feed(dom)
    # Down first, then the unknown and up ones.
    assert page.site_states[0] == ("acme-www", "down")
    assert [s for _, s in page.site_states] == ["down", "up", "up"]
    assert "1 site down" in page.text("page")
    assert re.search(r"3 sites: 1 down, 2 up", page.text("page"))
    sites = page.text("sites")
    assert sites.index("ACME main site") < sites.index("Riverside Housing")
    assert "HTTP 503 Service Unavailable in 41 ms" in sites
    incidents = page.text("incidents")
    assert "acme/acme-www" in incidents and "since Thu 26 Nov 2026 14:01 GMT" in incidents
    assert "HTTP 503" in incidents
    certs = page.text("certificates")
    assert "acme/acme-www" in certs and "9 days left" in certs
    patch = page.text("patch-day")
    assert "Next patch day: Thu 17 Dec 2026 09:00 GMT" in patch
    if queued:
        assert "riverside/riverside-www" in patch and "drupal/webform 6.2.3 → 6.2.9" in patch
    else:
        assert "not set up" in patch

    data = shot.read_bytes()
    assert png_size(data) == WINDOW
    assert len(data) > 10_000  # a rendered page, not a blank one
    if os.environ.get("MONITORD_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
