"""``monitord report`` through the real CLI on a real configuration and store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli import main
from tests.report.seed import seed, write_config

AT = ["--at", "2026-12-01T09:30Z"]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = write_config(tmp_path_factory.mktemp("report"))
    seed(d)
    return d


def test_json_keys(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "acme", "--month", "2026-11", "--json", *AT, "--config", str(cfg)]) == 0
    j = json.loads(capsys.readouterr().out)
    assert set(j) == {
        "client",
        "client_name",
        "month",
        "generated",
        "method",
        "uptime_percent",
        "sites",
        "sla",
        "security",
        "still_open",
        "patch_days",
        "certificates",
        "hours",
        "daily_uptime_percent",
    }
    assert j["month"] == "2026-11"
    www = j["sites"][0]
    assert www["site"] == "acme-www" and www["down_seconds"] == 47 * 60
    assert www["incidents"][0]["ticket"] == "#1"
    assert j["sites"][1]["maintenance_seconds"] == 2 * 3600
    assert j["sites"][1]["uptime_percent"] == 100.0
    assert j["sla"] == {
        "tickets_opened": 3,
        "answered_within_one_working_hour": 2,
        "share_percent": 66.667,
        "late": ["#3"],
    }
    assert [s["time_to_patch_seconds"] for s in j["security"]] == [576600, None]
    assert j["patch_days"] == ["2026-11-11"]
    assert j["hours"]["used_minutes"] == 390
    assert set(j["hours"]) >= {
        "allowance_minutes",
        "brought_forward_minutes",
        "used_minutes",
        "remaining_minutes",
        "carried_forward_minutes",
        "net",
        "vat",
        "gross",
        "by_ticket",
    }


def test_default_month_is_last_month(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "acme", "--json", *AT, "--config", str(cfg)]) == 0
    assert json.loads(capsys.readouterr().out)["month"] == "2026-11"


def test_out_writes_html_text_and_pngs(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "preview"
    assert (
        main(["report", "acme", "--month", "2026-11", "--out", str(out), *AT, "--config", str(cfg)])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "daily.png",
        "hours.png",
        "report.html",
        "report.txt",
    ]
    html = (out / "report.html").read_text()
    assert 'src="daily.png"' in html and 'src="hours.png"' in html
    assert "99.89 %" in html and "ACME shop" in html
    assert "UPTIME: 99.95 %" in (out / "report.txt").read_text()
    for png in ("daily.png", "hours.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "wrote report.html" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "there is no client 'nobody'; the clients are: acme"),
        (["acme", "--month", "2027-02"], "2027-02 has not begun"),
        (["acme", "--month", "2026-13"], "is not a month"),
    ],
)
def test_errors_say_what_to_do(
    cfg: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["report", *args, *AT, "--config", str(cfg)]) != 0
    assert message in capsys.readouterr().err
