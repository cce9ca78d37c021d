"""Secrets never reach logs, errors, `status` output or e-mails: the daemon end to end."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from aiohttp import web

from monitord.cli import main
from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, ticks
from tests.helpers.secrets import CapturedLogs, assert_no_secret
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServerFactory

PASSWORD = "s3cret-Pa55-" + "q" * 10
WRONG = "wr0ng-Pa55-" + "z" * 10


def write(d: Path, url: str, port: int, ca_file: Path | None) -> Path:
    (d / "clients").mkdir(parents=True)
    (d / "monitord.yml").write_text(
        textwrap.dedent(
            f"""\
            agency: {{name: Collective, support_email: support@collective.example}}
            state: {{path: {d / "state.sqlite3"}}}
            smtp:
              host: 127.0.0.1
              port: {port}
              from: "Collective monitoring <monitor@collective.example>"
              security: starttls
              username: monitor
              password: ${{SMTP_PASSWORD}}
              ca_file: {ca_file}
            security: {{enabled: false}}
            http: {{listen: off}}
            """
        )
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contacts: [{{name: Jo, email: jo@acme.example, notify: [site-down]}}]
            sites:
              - id: acme-www
                url: {url}
                checks: [{{type: http}}]
            """
        )
    )
    return d


@pytest.mark.parametrize("server_password", [PASSWORD, WRONG])
async def test_no_secret_in_logs_status_or_mail(
    tmp_path: Path,
    smtp_server_factory: SmtpServerFactory,
    captured_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    server_password: str,
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    smtp = smtp_server_factory(security="starttls", username="monitor", password=server_password)

    async def down(_r: web.Request) -> web.Response:
        return web.Response(status=500, text=f"oops {PASSWORD}?")  # even a site echoing it

    app = web.Application()
    app.router.add_get("/", down)
    async with serve_app(app) as site:
        cfg = write(tmp_path / "cfg", site.url, smtp.port, smtp.ca_file)
        clock = Clock(T0)
        daemon = Daemon(cfg, clock=clock, schedule=False)
        await daemon.start()
        try:
            assert await ticks(daemon, clock, 3) == ["site-down"]
            assert daemon.sender is not None and daemon.store is not None
            await daemon.sender.run_once()
            items = [i for i in await daemon.store.outbox_items() if i.notifier == "email"]
        finally:
            await daemon.stop()
    if server_password == PASSWORD:
        mail = smtp.wait_for(1)[0]
        assert mail.auth_user == "monitor" and mail.tls
        assert_no_secret(PASSWORD, mail.data.decode(), username="monitor")
    else:
        assert items[0].status == "failed"  # a refused login is permanent
        assert "SMTP_PASSWORD" in (items[0].last_error or "")  # says what to check
        assert_no_secret(PASSWORD, items[0].last_error or "", username="monitor")
    capsys.readouterr()
    # The CLI runs its own event loop: call it from a worker thread, as a shell would.
    assert await asyncio.to_thread(main, ["status", "--config", str(cfg)]) == 0
    assert await asyncio.to_thread(main, ["status", "--config", str(cfg), "--json"]) == 0
    out = capsys.readouterr()
    assert "acme-www" in out.out
    json.loads(out.out[out.out.index("{") :])
    assert_no_secret(PASSWORD, out.out, out.err, captured_logs.text, username="monitor")
    assert KEY in daemon.states
