"""No credential of any notifier reaches an error, a log line or the outbox's ``last_error``.

For every notifier a failing send runs through the real outbox (SQLite store, OutboxSender) to
a local server that refuses it — and, where it can, repeats the credential back in its answer,
as careless or hostile servers do. Then the secret, in every form it could leak in
(``tests.helpers.secrets.secret_forms``), must be in none of: the raised error (message and
traceback), the captured logs, the outbox item's ``last_error``.

To add a notifier (the ticket notifiers), add a ``Case`` to :data:`CASES`: a function that
starts its stand-in on the given stack and returns the notifier, its secrets and the failures
to try.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from monitord.cli import main
from monitord.notify.base import Notifier
from monitord.notify.email import EmailNotifier
from monitord.notify.freshdesk import FreshdeskNotifier
from monitord.notify.helpdesk_email import HelpdeskEmailNotifier
from monitord.notify.jira import JiraNotifier
from monitord.notify.opsgenie import OpsgenieNotifier
from monitord.notify.pagerduty import PagerDutyNotifier
from monitord.notify.redmine import RedmineNotifier
from monitord.notify.webhook import SlackNotifier, TeamsNotifier, WebhookNotifier
from monitord.notify.zendesk import ZendeskNotifier
from monitord.outbox import OutboxSender
from monitord.store.sqlite import SqliteStore
from tests.helpers.secrets import CapturedLogs, assert_no_secret, exception_text
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer, SmtpServerFactory
from tests.notify.standins.chat import SlackStandIn, TeamsStandIn, WebhookReceiver
from tests.notify.standins.common import StandIn
from tests.notify.standins.kit import AGENCY, NOW, make_ctx, note
from tests.notify.standins.opsgenie import OpsgenieStandIn
from tests.notify.standins.pagerduty import PagerDutyStandIn
from tests.notify.standins.tickets import (
    FreshdeskStandIn,
    JiraStandIn,
    RedmineStandIn,
    ZendeskStandIn,
)

PD_KEY = "S3cretRoutingKey0123456789abcdef"
OG_KEY = "og-S3cret-api-key-0123456789"
SLACK_TOKEN = "T0AAA/B0BBB/S3cretSlackToken0123456789"
TEAMS_SIG = "S3cretTeamsSignature0123456789abcdef"
HOOK_TOKEN = "S3cretPathToken0123456789"
HOOK_BEARER = "S3cret-bearer-0123456789"
HOOK_HMAC = "S3cret-hmac-0123456789"
HOOK_PASS = "S3cret-userinfo-pass-0123"
SMTP_PASSWORD = "S3cret-Pa55-wrong-0123"
SMTP_RIGHT = "S3cret-Pa55-right-0123"
JIRA_TOKEN = "S3cret-jira-token-0123456789"
ZENDESK_TOKEN = "S3cret-zendesk-token-0123456789"
FRESHDESK_KEY = "S3cretFreshdeskKey0123456789"
REDMINE_KEY = "S3cretRedmineKey0123456789abcdef"


@dataclass
class Setup:
    notifier: Notifier
    secrets: list[str]
    username: str | None = None


Failure = tuple[str, Callable[[StandIn | SmtpServer], None], bool]
"""(label, inject the failure, whether it is permanent)."""


def _http(status: int, body: str = "", echo: str | None = None) -> Callable[[Any], None]:
    def inject(standin: Any) -> None:
        standin.fail(status, body, echo_header=echo, retry_after="1" if status == 429 else None)

    return inject


async def _pagerduty(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = PagerDutyStandIn()
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = PagerDutyNotifier.Options.model_validate({"routing_key": PD_KEY, "base_url": site.url})
    return Setup(PagerDutyNotifier("pager", opts, make_ctx()), [PD_KEY])


async def _opsgenie(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = OpsgenieStandIn(api_keys={OG_KEY})
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = OpsgenieNotifier.Options.model_validate({"api_key": OG_KEY, "base_url": site.url})
    return Setup(OpsgenieNotifier("genie", opts, make_ctx()), [OG_KEY])


async def _webhook(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = WebhookReceiver(hmac_secret=HOOK_HMAC)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = WebhookNotifier.Options.model_validate(
        {
            "url": site.url_for(f"hook?token={HOOK_TOKEN}"),
            "headers": {"Authorization": f"Bearer {HOOK_BEARER}"},
            "hmac_secret": HOOK_HMAC,
        }
    )
    return Setup(WebhookNotifier("hook", opts, make_ctx()), [HOOK_TOKEN, HOOK_BEARER, HOOK_HMAC])


async def _webhook_userinfo(
    stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]
) -> Setup:
    """A webhook URL with a user-info password: the client sends it as an HTTP Basic header."""
    standin = WebhookReceiver()
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    url = site.url_for("hook").replace("http://", f"http://hook:{HOOK_PASS}@")
    opts = WebhookNotifier.Options.model_validate({"url": url})
    return Setup(WebhookNotifier("hook", opts, make_ctx()), [HOOK_PASS], username="hook")


async def _slack(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = SlackStandIn(token=SLACK_TOKEN)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = SlackNotifier.Options.model_validate({"url": site.url_for(f"services/{SLACK_TOKEN}")})
    return Setup(SlackNotifier("chat", opts, make_ctx()), [SLACK_TOKEN])


async def _teams(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = TeamsStandIn(sig=TEAMS_SIG)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    url = site.url_for(
        f"workflows/abc123/triggers/manual/paths/invoke?api-version=1&sig={TEAMS_SIG}"
    )
    opts = TeamsNotifier.Options.model_validate({"url": url})
    return Setup(TeamsNotifier("teams", opts, make_ctx()), [TEAMS_SIG])


async def _email(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    server = stack.enter_context(SmtpServer(username="monitor", password="right-password-123"))
    failure(server)
    smtp = server.smtp_config(username="monitor", password=SecretStr(SMTP_PASSWORD))
    return Setup(
        EmailNotifier("email", smtp, AGENCY, None, clock=lambda: NOW),
        [SMTP_PASSWORD],
        username="monitor",
    )


async def _email_right_password(
    stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]
) -> Setup:
    server = stack.enter_context(SmtpServer(username="monitor", password=SMTP_RIGHT))
    failure(server)
    smtp = server.smtp_config(username="monitor", password=SecretStr(SMTP_RIGHT))
    return Setup(
        EmailNotifier("email", smtp, AGENCY, None, clock=lambda: NOW),
        [SMTP_RIGHT],
        username="monitor",
    )


async def _jira(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = JiraStandIn(token=JIRA_TOKEN)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = JiraNotifier.Options.model_validate(
        {"base_url": site.url, "email": standin.email, "api_token": JIRA_TOKEN, "project": "OPS"}
    )
    return Setup(JiraNotifier("jira", opts, make_ctx()), [JIRA_TOKEN], username=standin.email)


async def _zendesk(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = ZendeskStandIn(token=ZENDESK_TOKEN)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = ZendeskNotifier.Options.model_validate(
        {"base_url": site.url, "email": standin.email, "api_token": ZENDESK_TOKEN}
    )
    return Setup(
        ZendeskNotifier("zendesk", opts, make_ctx()),
        [ZENDESK_TOKEN],
        username=f"{standin.email}/token",
    )


async def _freshdesk(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = FreshdeskStandIn(api_key=FRESHDESK_KEY)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = FreshdeskNotifier.Options.model_validate(
        {"base_url": site.url, "api_key": FRESHDESK_KEY, "email": "support@collective.example"}
    )
    return Setup(FreshdeskNotifier("freshdesk", opts, make_ctx()), [FRESHDESK_KEY])


async def _redmine(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    standin = RedmineStandIn(api_key=REDMINE_KEY)
    failure(standin)
    site = await stack.enter_async_context(serve_app(standin.app()))
    opts = RedmineNotifier.Options.model_validate(
        {"base_url": site.url, "api_key": REDMINE_KEY, "project_id": "ops"}
    )
    return Setup(RedmineNotifier("redmine", opts, make_ctx()), [REDMINE_KEY])


async def _helpdesk(stack: contextlib.AsyncExitStack, failure: Callable[[Any], None]) -> Setup:
    server = stack.enter_context(SmtpServer(username="monitor", password="right-password-123"))
    failure(server)
    ctx = replace(
        make_ctx(),
        smtp=server.smtp_config(username="monitor", password=SecretStr(SMTP_PASSWORD)),
        clock=lambda: NOW,
    )
    opts = HelpdeskEmailNotifier.Options(address="support@acme.zendesk.example")
    return Setup(HelpdeskEmailNotifier("helpdesk", opts, ctx), [SMTP_PASSWORD], username="monitor")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _nothing(_: Any) -> None:
    """The wrong password is the failure."""


def _smtp(stage: str, reply: str) -> Callable[[Any], None]:
    def inject(server: Any) -> None:
        server.fail(stage, reply)

    return inject


Builder = Callable[[contextlib.AsyncExitStack, Callable[[Any], None]], Awaitable[Setup]]

CASES: list[tuple[str, Builder, Callable[[Any], None], bool]] = [
    ("pagerduty-400-echo", _pagerduty, _http(400, f'{{"message":"bad key {PD_KEY}"}}'), True),
    ("pagerduty-500", _pagerduty, _http(500), False),
    ("pagerduty-429", _pagerduty, _http(429), False),
    ("opsgenie-401-echo", _opsgenie, _http(401, "denied", echo="Authorization"), True),
    ("opsgenie-403", _opsgenie, _http(403, '{"message":"forbidden"}'), True),
    ("opsgenie-500-echo", _opsgenie, _http(500, "oops", echo="Authorization"), False),
    ("webhook-403-echo", _webhook, _http(403, "no", echo="Authorization"), True),
    ("webhook-401-echo-sig", _webhook, _http(401, "no", echo="X-Monitord-Signature"), True),
    ("webhook-500", _webhook, _http(500, "down"), False),
    # The credential inside the header (the token of "Bearer …"), echoed alone.
    (
        "webhook-500-echo-token",
        _webhook,
        _http(500, f'{{"message":"token {HOOK_BEARER} is revoked"}}', echo="Authorization"),
        False,
    ),
    ("webhook-500-echo-userinfo", _webhook_userinfo, _http(500, "no", echo="Authorization"), False),
    ("webhook-401-echo-userinfo", _webhook_userinfo, _http(401, "no", echo="Authorization"), True),
    ("slack-403-echo", _slack, _http(403, "invalid_token", echo="Host"), True),
    ("slack-404", _slack, _http(404, "no_service"), True),
    ("teams-401-echo", _teams, _http(401, "bad sig", echo="Host"), True),
    ("teams-500", _teams, _http(500), False),
    ("email-535-wrong-password", _email, _nothing, True),
    # A server repeating the AUTH exchange it got: the PLAIN blob, the password in base64.
    (
        "email-550-echo-auth-plain",
        _email_right_password,
        _smtp("mail", "550 5.7.1 not for " + _b64("\0monitor\0" + SMTP_RIGHT)),
        True,
    ),
    (
        "email-451-echo-auth-login",
        _email_right_password,
        _smtp("rcpt", f"451 4.7.1 try later, {_b64(SMTP_RIGHT)}"),
        False,
    ),
    ("jira-401-echo", _jira, _http(401, "no", echo="Authorization"), True),
    ("jira-400-echo", _jira, _http(400, '{"errorMessages":["bad"]}', echo="Authorization"), True),
    ("jira-429", _jira, _http(429), False),
    ("zendesk-401-echo", _zendesk, _http(401, "no", echo="Authorization"), True),
    ("zendesk-422", _zendesk, _http(422, '{"error":"RecordInvalid"}'), True),
    ("zendesk-503-echo", _zendesk, _http(503, "oops", echo="Authorization"), False),
    ("freshdesk-401-echo", _freshdesk, _http(401, "no", echo="Authorization"), True),
    ("freshdesk-429", _freshdesk, _http(429), False),
    ("redmine-401-echo", _redmine, _http(401, "no", echo="X-Redmine-API-Key"), True),
    ("redmine-422-echo", _redmine, _http(422, '{"errors":["x"]}', echo="X-Redmine-API-Key"), True),
    ("redmine-500", _redmine, _http(500), False),
    ("helpdesk-535-wrong-password", _helpdesk, _nothing, True),
]


@pytest.mark.parametrize(
    ("build", "failure", "permanent"),
    [pytest.param(b, f, p, id=label) for label, b, f, p in CASES],
)
async def test_no_secret_in_error_log_or_outbox(
    tmp_path: Path,
    captured_logs: CapturedLogs,
    build: Builder,
    failure: Callable[[Any], None],
    permanent: bool,
) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open()
    async with contextlib.AsyncExitStack() as stack:
        setup = await build(stack, failure)
        stack.push_async_callback(setup.notifier.aclose)
        stack.push_async_callback(store.close)
        n = note("site-down", setup.notifier.name, recipient="jo@acme.example")
        await store.enqueue([n], NOW)
        sender = OutboxSender(store, {setup.notifier.name: setup.notifier}, lambda: NOW)
        assert await sender.run_once() == 1
        (item,) = await store.outbox_items()
        assert item.status == ("failed" if permanent else "pending"), item.last_error
        assert item.last_error
        # The error raised by a direct send, with its traceback.
        raised = ""
        try:
            await setup.notifier.send(n)
        except Exception as exc:  # the stand-in may or may not fail twice; either is fine
            raised = exception_text(exc)
        for secret in setup.secrets:
            assert_no_secret(
                secret,
                item.last_error,
                captured_logs.text,
                raised or "(sent)",
                username=setup.username,
            )


def test_every_builtin_notifier_has_a_case() -> None:
    from monitord.notify.plugins import available_types

    covered = {label.split("-")[0] for label, *_ in CASES}
    builtin = {"email", "pagerduty", "opsgenie", "webhook", "slack", "teams"}
    # The ticket notifiers ("helpdesk" is helpdesk-email; tickets-local holds no credential).
    builtin |= {"jira", "zendesk", "freshdesk", "redmine", "helpdesk"}
    assert builtin - {"helpdesk"} | {"helpdesk-email", "tickets-local"} <= set(available_types())
    assert builtin <= covered


@pytest.mark.parametrize(
    ("options", "secret", "username"),
    [
        pytest.param(
            'url: "http://hook:${HOOK_PASS}@127.0.0.1:{port}/hook"',
            HOOK_PASS,
            "hook",
            id="userinfo",
        ),
        pytest.param(
            'url: "http://127.0.0.1:{port}/hook", headers: {Authorization: "Bearer ${HOOK_TOKEN}"}',
            HOOK_BEARER,
            None,
            id="bearer",
        ),
    ],
)
async def test_notify_test_prints_no_credential_a_webhook_echoes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    captured_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
    options: str,
    secret: str,
    username: str | None,
) -> None:
    monkeypatch.setenv("HOOK_PASS", HOOK_PASS)
    monkeypatch.setenv("HOOK_TOKEN", HOOK_BEARER)
    standin = WebhookReceiver()
    # A careless receiver: its error repeats the Authorization header and the token in it.
    standin.fail(
        500, f'{{"message":"token {HOOK_BEARER} is revoked"}}', echo_header="Authorization"
    )
    async with serve_app(standin.app()) as site:
        (tmp_path / "monitord.yml").write_text(
            "agency: {name: Collective}\n"
            f"notifiers:\n  hook: {{type: webhook, {options.replace('{port}', str(site.port))}}}\n"
        )
        argv = ["notify", "test", "hook", "--config", str(tmp_path)]
        code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    assert code == 1
    assert "failed, retryable" in err and "500" in err
    (got,) = standin.requests
    basic = "Basic " + _b64(f"hook:{HOOK_PASS}")
    assert got.headers["authorization"] == (basic if username else f"Bearer {HOOK_BEARER}")
    assert_no_secret(secret, out, err, captured_logs.text, username=username)


async def test_notify_test_shows_no_value_the_configuration_got_from_a_reference(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    captured_logs: CapturedLogs,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server_factory: SmtpServerFactory,
) -> None:
    """The last line: whatever a notifier's error quotes, no ``${NAME}`` value is printed
    (here the SMTP user name, which the e-mail notifier names in a refused login)."""
    user = "monitor-user-from-env"
    monkeypatch.setenv("SMTP_USER", user)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    server = smtp_server_factory(security="starttls", username=user, password=SMTP_RIGHT)
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective, support_email: support@collective.example}\n"
        "smtp:\n"
        f"  host: 127.0.0.1\n  port: {server.port}\n  security: starttls\n"
        f"  ca_file: {server.ca_file}\n"
        '  from: "Collective monitoring <monitor@collective.example>"\n'
        "  username: ${SMTP_USER}\n  password: ${SMTP_PASSWORD}\n"
    )
    argv = ["notify", "test", "email", "--config", str(tmp_path)]
    assert await asyncio.to_thread(main, argv) == 1
    out, err = capsys.readouterr()
    assert "failed, permanent" in err and "refused login for user '***'" in err
    assert_no_secret(user, out, err)
    assert_no_secret(SMTP_PASSWORD, out, err, captured_logs.text, username=user)
