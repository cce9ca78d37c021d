"""`monitord demo` runs offline and shows what happened and which e-mails went where."""

from __future__ import annotations

import email
import email.policy
import io
from pathlib import Path

from monitord.demo import run_demo


async def test_demo_runs_offline_and_mails_go_where_they_should(tmp_path: Path) -> None:
    out = io.StringIO()
    summary = await run_demo(tmp_path / "demo", duration=10, stream=out)
    text = out.getvalue()
    kinds = [(kind, site) for _t, kind, site, _check in summary["events"]]
    assert ("site-down", "flaky") in kinds
    assert ("site-recovered", "flaky") in kinds
    assert ("site-down", "slow") in kinds
    assert not any(site == "healthy" for _k, site in kinds)
    # Jo asked for down and recovered; Sam only for down.
    rcpts = [(r, s) for _t, r, s, _p in summary["messages"]]
    assert sum(1 for r, _ in rcpts if r == "sam@flaky.example") == sum(
        1 for k, _ in kinds if k in ("site-down", "site-reminder")
    )
    assert sum(1 for r, _ in rcpts if r == "jo@healthy.example") == len(kinds)
    for _t, _r, _s, path in summary["messages"]:
        msg = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
        assert msg["Message-ID"] and msg["Auto-Submitted"] == "auto-generated"
    assert "E-mails (" in text and ".eml" in text
    # Every problem became a ticket; the flaky site's was resolved on recovery.
    assert "Tickets opened (2)" in text
    assert "resolved" in text and "flaky" in text.split("Tickets opened")[1]
    assert "site-down" in text and "flaky" in text
    # Probes started on time (the daemon's own lateness figures).
    assert summary["lateness"] and max(summary["lateness"]) < 1.0
