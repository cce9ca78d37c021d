"""Secrets never reach logs, errors, `status` output or e-mails: the daemon end to end."""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitord.api.server import ApiService, api_service
from monitord.cli import main
from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, agency_yaml, smtp_yaml, ticks
from tests.helpers.secrets import CapturedLogs, assert_no_secret
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer, SmtpServerFactory
from tests.notify.standins.chat import WebhookReceiver

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


# ---------------------------------------------------------------- secrets inside a site's URL

SITE_PASS = "s1te-Pa55-" + "p" * 10
SITE_KEY = "s1te-K3y-" + "k" * 10
URL_AS_WRITTEN = "http://monitor:${SITE_PASS}@127.0.0.1:{port}/?key=${SITE_KEY}"


def write_url_config(d: Path, site_port: int, smtp_port: int, hook_url: str) -> Path:
    """A site whose URL carries a password and a key from ``${}``; its DOWN goes to the
    contact's mail, a webhook and the built-in tickets; the HTTP API on a free port."""
    (d / "clients").mkdir(parents=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp_port)
        + textwrap.dedent(
            f"""\
            security: {{enabled: false}}
            http: {{listen: "127.0.0.1:0"}}
            notifiers:
              hook: {{type: webhook, url: "{hook_url}"}}
            routes:
              - {{match: {{kind: [site-down, site-recovered]}}, notify: [client-contacts, hook, tickets]}}
            grouping: {{window: 0s}}
            """
        )
    )
    url = URL_AS_WRITTEN.replace("{port}", str(site_port))
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contacts: [{{name: Jo, email: jo@acme.example, notify: [site-down]}}]
            sites:
              - id: acme-www
                url: {url}
                checks: [{{type: http, interval: 60s, timeout: 5s}}]
                alert: {{failure_threshold: 1, success_threshold: 1}}
            """
        )
    )
    return d


async def test_a_url_with_secrets_is_shown_masked_everywhere_and_probed_whole(
    tmp_path: Path,
    smtp_server: SmtpServer,
    captured_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SITE_PASS", SITE_PASS)
    monkeypatch.setenv("SITE_KEY", SITE_KEY)
    seen: list[tuple[str, dict[str, str]]] = []

    async def down(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization", ""), dict(request.query)))
        return web.Response(status=503, text="maintenance")

    app = web.Application()
    app.router.add_get("/", down)
    hook = WebhookReceiver()
    async with serve_app(app) as site, serve_app(hook.app()) as hook_site:
        cfg = write_url_config(
            tmp_path / "cfg", site.port, smtp_server.port, hook_site.url_for("hook")
        )
        clock = Clock(T0)
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[api_service])
        await daemon.start()
        try:
            api = next(s for s in daemon.services if isinstance(s, ApiService))
            assert api.url is not None and api.bound is not None
            main_yml = cfg / "monitord.yml"
            main_yml.write_text(
                main_yml.read_text().replace("127.0.0.1:0", f"127.0.0.1:{api.bound[1]}")
            )
            assert await ticks(daemon, clock, 1) == ["site-down"]
            assert daemon.sender is not None and daemon.store is not None
            await daemon.sender.run_once()
            (mail,) = await smtp_server.wait_for_async(1)
            (ticket,) = await daemon.store.local_tickets()
            found = await daemon.store.local_ticket(ticket.id)
            assert found is not None
            ticket_text = repr(ticket) + "".join(repr(n) for n in found[1])
            async with aiohttp.ClientSession() as http:
                async with http.get(api.url + "api/v1/status") as r:
                    assert r.status == 200
                    api_json = await r.text()
                async with http.get(api.url) as r:
                    assert r.status == 200
                    page = await r.text()
            capsys.readouterr()
            # The CLI runs its own event loop: call it from a worker thread, as a shell would.
            assert await asyncio.to_thread(main, ["status", "--config", str(cfg)]) == 0
            assert await asyncio.to_thread(main, ["status", "--config", str(cfg), "--json"]) == 0
            assert await asyncio.to_thread(main, ["status", "--config", str(cfg), "--store"]) == 0
            argv = ["tickets", "show", str(ticket.id), "--config", str(cfg)]
            assert await asyncio.to_thread(main, argv) == 0
            cli = capsys.readouterr()
            items = await daemon.store.outbox_items()
        finally:
            await daemon.stop()

    # The probe itself sent the real credentials.
    basic = base64.b64encode(f"monitor:{SITE_PASS}".encode()).decode()
    assert seen and seen[0] == (f"Basic {basic}", {"key": SITE_KEY})
    # Everything else shows the one display form.
    shown = f"http://monitor:***@127.0.0.1:{site.port}/?key=***"
    (delivered,) = hook.accepted
    assert delivered.json()["details"]["url"] == shown
    assert json.loads(api_json)["sites"][0]["url"] == shown
    assert shown in cli.out
    assert "from the running daemon" in cli.out
    assert [i.status for i in items] == ["sent"] * 3
    texts = {
        "status / status --json / tickets show": cli.out + cli.err,
        "/api/v1/status": api_json,
        "status page": page,
        "local ticket": ticket_text,
        "DOWN e-mail": mail.data.decode(),
        "webhook body": delivered.body.decode(),
        "outbox": "".join(repr(i) for i in items),
        "logs": captured_logs.text,
    }
    for where, text in texts.items():
        for secret in (SITE_PASS, SITE_KEY):
            try:
                assert_no_secret(secret, text, username="monitor")
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from None
