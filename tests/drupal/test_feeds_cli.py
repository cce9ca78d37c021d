"""``monitord advisories parse FILE_OR_URL [--json]`` on files and on a local HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitord.cli import main
from monitord.drupal.advisory import Advisory

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
RSS = (FIXTURES / "security-all.rss.xml").read_bytes()


def clean_feed() -> bytes:
    """The fixture feed without its two deliberately broken items."""
    text = RSS.decode()
    items = re.findall(r"\s*<item>.*?</item>\n", text, flags=re.DOTALL)
    for item in items:
        if "not-an-id" in item or "Broken Score" in item:
            text = text.replace(item, "")
    return text.encode()


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    p = tmp_path / "rss.xml"
    p.write_bytes(clean_feed())
    return p


def test_table(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", str(clean)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "PROJECT", "RISK", "AFFECTED"]
    assert [line.split()[0] for line in lines[1:]] == [
        "SA-CORE-2026-020",
        "SA-CONTRIB-2026-201",
        "SA-CONTRIB-2026-202",
        "PSA-2026-10-19",
        "SA-CONTRIB-2026-204",
    ]
    core = lines[1]
    assert "Highly critical 20 !" in core
    assert core.endswith(">=8.0.0 <10.2.11 || >=10.3.0 <10.3.9 || >=11.0.0 <11.0.8")
    assert "Views Bulk Operations - Extra" in lines[2] and "Critical 17" in lines[2]
    assert "window 2026-10-21 16:00–19:00 UTC" in lines[4]
    # columns line up: every row's RISK starts where the header's does
    col = lines[0].index("RISK")
    assert all(line[col - 2 : col] == "  " for line in lines[1:])
    assert err == "5 advisories, 0 problems\n"


def test_json_lines_round_trip(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", "--json", str(clean)]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows][:2] == ["SA-CORE-2026-020", "SA-CONTRIB-2026-201"]
    assert rows[0]["highly_critical"] is True and rows[0]["score"] == 20
    assert all(Advisory.from_json(r).to_json() == r for r in rows)
    assert err == ""


def test_problems_go_to_stderr_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", str(FIXTURES / "security-all.rss.xml")]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 6  # header + the five good items
    assert "item 5 ('Example - Less critical" in err and "item 6 ('Broken Score" in err
    assert err.endswith("5 advisories, 2 problems\n")


def test_psa_json_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", "--json", str(FIXTURES / "psa.json")]) == 1
    out, _ = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["source"]) for r in rows] == [
        ("SA-CORE-2026-020", "psa-json"),
        ("PSA-2026-10-19", "psa-json"),
        ("SA-CONTRIB-2026-205", "psa-json"),
    ]


def test_hostile_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", str(FIXTURES / "billion-laughs.xml")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "entity-expansion" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "parse", str(tmp_path / "nope.xml")]) == 1
    assert "cannot read" in capsys.readouterr().err


# ---------------------------------------------------------------- URLs


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=clean_feed(), content_type="application/rss+xml")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")

    app = web.Application()
    app.router.add_get("/security/rss.xml", feed)
    app.router.add_get("/broken", broken)
    s = TestServer(app, host="127.0.0.1")
    await s.start_server()
    yield s
    await s.close()


async def test_url(server: TestServer, capsys: pytest.CaptureFixture[str]) -> None:
    u = str(server.make_url("/security/rss.xml"))
    # the command runs its own event loop, so it runs in a thread beside this test's loop
    code = await asyncio.to_thread(main, ["advisories", "parse", "--json", u])
    assert code == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 5


async def test_url_failing(server: TestServer, capsys: pytest.CaptureFixture[str]) -> None:
    u = str(server.make_url("/broken"))
    code = await asyncio.to_thread(main, ["advisories", "parse", u])
    assert code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{u} answered HTTP 503" in err
