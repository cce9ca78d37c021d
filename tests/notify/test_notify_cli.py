"""``monitord notify test NOTIFIER``: one test message through one notifier, now.

The command runs its own event loop (``asyncio.run``), so it is called in a worker thread while
the stand-in servers serve on the test's loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitord.cli import main
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.chat import SlackStandIn
from tests.notify.standins.pagerduty import PagerDutyStandIn

PD = "0123456789abcdef0123456789abcdef"


def _config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective, support_email: support@collective.example}\n" + body
    )
    return tmp_path


async def _run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_pagerduty_test_message_prints_the_dedup_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = PagerDutyStandIn(routing_keys={PD})
    async with serve_app(standin.app()) as site:
        cfg = _config(
            tmp_path,
            f"notifiers:\n  oncall-pager: {{type: pagerduty, routing_key: {PD}, "
            f"base_url: '{site.url}'}}\n",
        )
        code = await _run("notify", "test", "oncall-pager", "--config", str(cfg))
    out, err = capsys.readouterr()
    assert code == 0, err
    (sent,) = standin.requests
    body = sent.json()
    assert body["event_action"] == "trigger"
    assert body["payload"]["class"] == "test"
    assert body["payload"]["severity"] == "info"
    assert out == f"sent: {body['dedup_key']}\n"


@pytest.mark.parametrize(
    ("status", "retry_after", "words"),
    [
        (429, "5", ["failed, retryable", "429", "will retry in 5s"]),
        (500, None, ["failed, retryable", "500"]),
        (404, None, ["failed, permanent", "404", "create a new incoming webhook"]),
    ],
)
async def test_failure_is_classified_and_exits_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
    retry_after: str | None,
    words: list[str],
) -> None:
    standin = SlackStandIn()
    standin.fail(status, "no_service", retry_after=retry_after, content_type="text/html")
    async with serve_app(standin.app()) as site:
        url = site.url_for(f"services/{standin.token}")
        cfg = _config(tmp_path, f"notifiers:\n  ops-chat: {{type: slack, url: '{url}'}}\n")
        code = await _run("notify", "test", "ops-chat", "--config", str(cfg))
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    for word in words:
        assert word in err
    assert standin.token not in err


async def test_email_goes_to_support_or_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpServer() as server:
        cfg = _config(
            tmp_path,
            f'smtp: {{host: 127.0.0.1, port: {server.port}, from: "M <monitor@collective.example>"}}\n',
        )
        assert await _run("notify", "test", "email", "--config", str(cfg)) == 0
        assert (
            await _run("notify", "test", "email", "--to", "sam@x.example", "--config", str(cfg))
            == 0
        )
        mails = server.wait_for(2)
    out, _ = capsys.readouterr()
    assert [m.rcpt_tos for m in mails] == [("support@collective.example",), ("sam@x.example",)]
    assert out.count("sent: <") == 2
    assert mails[0].message["X-Monitord-Kind"] == "test"


async def test_unknown_notifier_names_the_configured_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, f"notifiers:\n  oncall-pager: {{type: pagerduty, routing_key: {PD}}}\n")
    assert await _run("notify", "test", "pager", "--config", str(cfg)) == 1
    _, err = capsys.readouterr()
    assert "no notifier named 'pager'; configured: oncall-pager" in err


async def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, "notifiers:\n  p: {type: nope}\n")
    assert await _run("notify", "test", "p", "--config", str(cfg)) == 1
    _, err = capsys.readouterr()
    assert "notifiers.p.type: unknown notifier type 'nope'" in err
