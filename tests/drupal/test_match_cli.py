"""``monitord advisories match``: a dry run over a feed file or URL and a configuration."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from monitord.cli import main
from tests.helpers.sites import serve_app

FIXTURES = Path(__file__).parent / "fixtures" / "match"
FEED = FIXTURES / "feed.rss.xml"
AT = "2026-11-16T16:00Z"  # Monday before November's patch day (Thu 19th)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the fixture configuration (its state path is never opened by a dry run)."""
    dest = tmp_path / "config"
    shutil.copytree(FIXTURES / "config", dest)
    return dest


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["advisories", "match", *args, "--json", "--at", AT])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


def by_pair(rows: list[dict[str, object]]) -> dict[tuple[object, object], dict[str, object]]:
    return {(r["advisory"], r.get("site")): r for r in rows}


# (advisory, site, affected, decision, patch_day, installed)
EXPECTED = [
    ("SA-CORE-2026-030", "acme-www", True, "now", None, "10.3.8"),
    ("SA-CORE-2026-030", "acme-shop", False, "none", None, "10.3.9"),  # from composer.lock
    ("SA-CORE-2026-030", "acme-legacy", None, "unknown", None, None),
    ("SA-CORE-2026-030", "beta-www", False, "none", None, "11.1.0"),
    ("SA-CONTRIB-2026-300", "acme-www", True, "patch-day", "2026-11-19T09:00:00+00:00", "6.2.3"),
    ("SA-CONTRIB-2026-300", "acme-shop", False, "none", None, None),
    ("SA-CONTRIB-2026-300", "acme-legacy", False, "none", None, None),
    ("SA-CONTRIB-2026-301", "acme-shop", True, "patch-day", "2026-11-19T09:00:00+00:00", "4.3.1"),
    ("SA-CONTRIB-2026-301", "beta-www", False, "none", None, None),
]


def test_match_json_every_advisory_and_drupal_site(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, rows = run_json(capsys, "--feed", str(FEED), "--config", str(config))
    assert code == 0
    pairs = by_pair(rows)
    for adv, site, affected, decision, day, installed in EXPECTED:
        row = pairs[(adv, site)]
        assert row["affected"] is affected, (adv, site)
        assert row["decision"] == decision, (adv, site)
        assert row["patch_day"] == day, (adv, site)
        assert row["installed"] == installed, (adv, site)
    # 3 SAs × 4 Drupal sites + the PSA; the site without `drupal:` is not listed.
    assert len(rows) == 13
    assert not any(r.get("site") == "acme-static" for r in rows)
    now = pairs[("SA-CORE-2026-030", "acme-www")]
    assert now["fixed"] == "10.3.9"
    assert now["constraint"] == ">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8"
    assert "10.3.8" in str(now["why"]) and ">=8.0.0 <10.3.9" in str(now["why"])
    psa = pairs[("PSA-2026-11-16", None)]
    assert psa["decision"] == "heads-up"
    assert psa["window_start"] == "2026-11-18T17:00:00+00:00"
    assert psa["heads_up_due"] == "2026-11-18T15:00:00+00:00"


def test_match_after_patch_day_moves_to_next_month(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code = main(
        [
            "advisories",
            "match",
            "--feed",
            str(FEED),
            "--config",
            str(config),
            "--json",
            "--at",
            "2026-11-19T09:00:01Z",
        ]
    )
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 0
    row = by_pair(rows)[("SA-CONTRIB-2026-300", "acme-www")]
    assert row["patch_day"] == "2026-12-17T09:00:00+00:00"
    # The PSA's window is long over: no heads-up.
    assert ("PSA-2026-11-16", None) not in by_pair(rows)


def test_match_table_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code = main(["advisories", "match", "--feed", str(FEED), "--config", str(config), "--at", AT])
    cap = capsys.readouterr()
    assert code == 0
    lines = cap.out.splitlines()
    assert lines[0].split() == ["ADVISORY", "SITE", "AFFECTED", "DECISION", "WHY"]
    www_core = next(x for x in lines if x.startswith("SA-CORE-2026-030") and "acme-www" in x)
    assert " now " in www_core and "10.3.8" in www_core
    webform = next(x for x in lines if x.startswith("SA-CONTRIB-2026-300") and "acme-www" in x)
    assert "patch-day 2026-11-19" in webform
    legacy = next(x for x in lines if x.startswith("SA-CORE-2026-030") and "acme-legacy" in x)
    assert "check by hand" in legacy
    assert "1 now, 2 for patch day" in cap.err and "nothing stored or sent" in cap.err
    assert not Path("/nonexistent/never-opened.sqlite3").exists()


async def test_match_reads_a_feed_url(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    async def feed(_r: web.Request) -> web.Response:
        return web.Response(body=FEED.read_bytes(), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/security/rss.xml", feed)
    async with serve_app(app) as site:
        args = ["advisories", "match", "--feed", site.url_for("/security/rss.xml")]
        args += ["--config", str(config), "--json", "--at", AT]
        code = await asyncio.to_thread(main, args)  # the command runs its own event loop
    assert code == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert by_pair(rows)[("SA-CORE-2026-030", "acme-www")]["decision"] == "now"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feed", "/no/such/feed.xml"], "cannot read /no/such/feed.xml"),
    ],
)
def test_match_errors_say_what_to_do(
    capsys: pytest.CaptureFixture[str], config: Path, args: list[str], message: str
) -> None:
    code = main(["advisories", "match", *args, "--config", str(config)])
    assert code == 1
    assert message in capsys.readouterr().err


def test_match_reads_a_naive_time_as_agency_time(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    outputs = []
    for at in ("2026-11-16T16:00", "2026-11-16T16:00+00:00", "2026-11-16T16:00Z"):
        code = main(
            ["advisories", "match", "--feed", str(FEED), "--config", str(config), "--at", at]
        )
        assert code == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2]  # London is on GMT in November


def test_match_refuses_a_malformed_at_as_a_usage_error(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["advisories", "match", "--feed", str(FEED), "--config", str(config), "--at", "soon"])
    assert exited.value.code == 2
    assert "'soon' is not a date and time" in capsys.readouterr().err


def test_hostile_feed_is_refused_and_nothing_matched(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    laughs = Path(__file__).parent / "fixtures" / "feeds" / "billion-laughs.xml"
    code = main(
        [
            "advisories",
            "match",
            "--feed",
            str(laughs),
            "--config",
            str(config),
            "--json",
            "--at",
            AT,
        ]
    )
    cap = capsys.readouterr()
    assert code == 0 and cap.out == ""
    assert "entit" in cap.err


def test_a_hostile_composer_lock_is_reported_for_its_site_and_the_rest_still_match(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    """200,000 ``[`` in one site's composer.lock once ended the dry run with a traceback."""
    lock = config / "sites" / "acme-shop.composer.lock"
    lock.write_bytes(b"[" * 200_000)
    code = main(["advisories", "match", "--feed", str(FEED), "--config", str(config), "--at", AT])
    cap = capsys.readouterr()
    assert code == 0
    assert "Traceback" not in cap.err
    assert f"monitord: acme-shop: composer.lock: {lock} nests JSON deeper than" in cap.err
    rows = {
        (line.split()[0], line.split()[1]): line
        for line in cap.out.splitlines()[1:]
        if line.strip()
    }
    assert " now " in rows[("SA-CORE-2026-030", "acme-www")]  # the healthy site still decides
    assert "check by hand" in rows[("SA-CORE-2026-030", "acme-shop")]
