"""``monitord status``'s table: columns aligned with computed widths, times in the e-mails'
format in the agency's zone, certificate days counted at display time (golden)."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitord.api.status import snapshot
from monitord.api.storeview import StoreExtras
from monitord.commands.status import format_status
from monitord.config import load_config
from monitord.daemon import check_key
from monitord.incidents import CheckState
from monitord.store.base import ResultRow
from tests.helpers.daemon import agency_yaml

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

NOW = datetime(2026, 12, 6, 10, 31, tzinfo=UTC)
PROBED = NOW - timedelta(hours=5)
"""The TLS probe ran 5 hours ago (6 h interval): the status must not show its stale figure."""


def _config(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    (d / "clients").mkdir(parents=True)
    (d / "monitord.yml").write_text(agency_yaml(d))
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            """\
            client: acme
            name: ACME Charity
            sites:
              - id: acme-www
                url: https://www.acme.example/
                checks:
                  - {type: http}
                  - {type: tls, min_days_left: 14}
                  - {type: tcp, id: solr-search-backend, host: solr.acme.example, port: 8983}
              - id: acme-fundraising-campaign-2026
                url: https://give.acme.example/
                checks:
                  - {type: http}
            """
        )
    )
    return d


def _row(key: str, ok: bool, message: str, at: datetime, **details: object) -> ResultRow:
    client, site, check = key.split("/")
    return ResultRow(key, client, site, check, ok, message, None, 0.05, at, dict(details))


def _data(tmp_path: Path) -> dict[str, Any]:
    config = load_config(_config(tmp_path))

    def www(check: str) -> str:
        return check_key("acme", "acme-www", check)

    give = check_key("acme", "acme-fundraising-campaign-2026", "http")
    down_since = datetime(2026, 12, 6, 9, 2, tzinfo=UTC)
    not_after = PROBED + timedelta(days=40, hours=2)  # 40 d 2 h at the probe, 39 d 21 h now
    states = {
        www("http"): CheckState(status="up", since=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        www("tls"): CheckState(status="up", since=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        www("solr-search-backend"): CheckState(status="down", since=down_since),
        give: CheckState(status="up", since=down_since, flapping=True),
    }
    results = {
        www("http"): _row(www("http"), True, "HTTP 200 in 80 ms", NOW),
        www("tls"): _row(
            www("tls"),
            True,
            "certificate valid, expires in 40 days",
            PROBED,
            cert_not_after=not_after.isoformat(),
            cert_days_left=40,
        ),
        www("solr-search-backend"): _row(
            www("solr-search-backend"), False, "connection refused", NOW
        ),
        give: _row(give, True, "HTTP 200 in 1.2 s", NOW),
    }
    data = snapshot(config, states, results, [], StoreExtras(), NOW)
    data["source"] = "the store /var/lib/monitord/monitord.sqlite3"
    return data


def test_status_golden(tmp_path: Path) -> None:
    text = "\n".join(format_status(_data(tmp_path))) + "\n"
    path = GOLDEN / "status.txt"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), "rerun with UPDATE_GOLDEN=1 and review"


def test_status_columns_align(tmp_path: Path) -> None:
    lines = format_status(_data(tmp_path))
    checks = [line for line in lines if line.startswith("  ") and not line.startswith("    ")]
    sites = [line for line in lines[1:-1] if line[:1].isupper()]
    # Every check line's message starts in the same column, and every site's URL.
    msg_col = {line.index("HTTP") if "HTTP" in line else -1 for line in checks} - {-1}
    assert len(msg_col) == 1
    for line in checks:
        assert line.index("  ", 2) <= next(iter(msg_col))
    assert len({line.index("https://") for line in sites}) == 1
    assert any("connection refused" in line for line in checks)


def test_status_times_use_the_mail_format_in_the_agency_zone(tmp_path: Path) -> None:
    lines = format_status(_data(tmp_path))
    assert any("since Sun 6 Dec 2026 09:02 GMT" in line for line in lines)
    assert lines[-1] == "Times are shown in Europe/London time."


def test_status_certificate_days_are_counted_now(tmp_path: Path) -> None:
    # Stored at the probe: 40 days (40 d 2 h left then); 5 hours later 39 d 21 h are left.
    data = _data(tmp_path)
    (www,) = [s for s in data["sites"] if s["site"] == "acme-www"]
    (tls,) = [c for c in www["checks"] if c["check"] == "tls"]
    assert tls["last_result"]["message"] == "certificate valid, expires in 39 days"
    assert tls["certificate"]["days_left"] == 39


def test_status_command_on_a_fresh_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.cli import main

    cfg = _config(tmp_path)
    assert main(["status", "--store", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out.replace(str(cfg), "CFG")
    assert out == (
        "from the store CFG/state.sqlite3 (the daemon's API did not answer)\n"
        "UNKNOWN  acme/acme-fundraising-campaign-2026  https://give.acme.example/\n"
        "  unknown  http                 no result yet\n"
        "UNKNOWN  acme/acme-www                        https://www.acme.example/\n"
        "  unknown  http                 no result yet\n"
        "  unknown  tls                  no result yet\n"
        "  unknown  solr-search-backend  no result yet\n"
        "Times are shown in Europe/London time.\n"
    )
