"""Webhook, Slack and Teams: pure bodies (golden), signatures, and sends to the stand-ins."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from monitord.errors import PermanentError, RetryableError
from monitord.events import EventKind
from monitord.notify.webhook import (
    SlackNotifier,
    TeamsNotifier,
    WebhookNotifier,
    encode_body,
    signature,
    slack_body,
    slack_escape,
    teams_body,
    url_secrets,
    webhook_body,
)
from tests.helpers.sites import serve_app
from tests.notify.standins.chat import (
    SlackStandIn,
    TeamsStandIn,
    WebhookReceiver,
    validate_slack,
    validate_teams,
)
from tests.notify.standins.kit import check_golden, make_ctx, note

LONDON = ZoneInfo("Europe/London")
HOSTILE = "<!channel> & <https://evil.example|click> *bold* \n second line"


KINDS: list[EventKind] = ["site-down", "site-recovered", "certificate", "test"]


@pytest.mark.parametrize("kind", KINDS)
def test_goldens(kind: EventKind) -> None:
    n = note(kind)
    check_golden(f"webhook-{kind}.json", webhook_body(n))
    check_golden(f"slack-{kind}.json", slack_body(n, "Collective", LONDON))
    check_golden(f"teams-{kind}.json", teams_body(n, "Collective", LONDON))


def test_every_external_golden_file_is_checked() -> None:
    from tests.notify.standins.kit import GOLDEN

    used = {"opsgenie-create.json", "pagerduty-trigger.json", "pagerduty-resolve.json"}
    used |= {f"{p}-{k}.json" for p in ("webhook", "slack", "teams") for k in KINDS}
    assert {p.name for p in GOLDEN.iterdir()} == used


def test_webhook_body_has_the_documented_keys() -> None:
    body = webhook_body(note("site-down"))
    assert list(body) == [
        "version", "kind", "client", "site", "check", "at", "severity", "summary",
        "thread", "key", "details",
    ]  # fmt: skip
    assert body["version"] == 1


def test_slack_cannot_be_made_to_mention_or_link() -> None:
    body = slack_body(note("site-down", summary=HOSTILE), "Collective", LONDON)
    text = json.dumps(body)
    assert "<!channel>" not in text
    assert "<https://evil" not in text
    assert "&lt;!channel&gt; &amp;" in body["text"]
    assert slack_escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert validate_slack(body) is None


def test_long_values_fit_slack_and_teams_limits() -> None:
    n = note("site-down", summary="y" * 10_000, site="s" * 400)
    assert validate_slack(slack_body(n, "Collective", LONDON)) is None
    assert validate_teams(teams_body(n, "Collective", LONDON)) is None


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        ("https://hooks.slack.com/services/T0/B0/abcdefghijklmnop", "abcdefghijklmnop", "services"),
        ("https://x.example/wf/invoke?api-version=1&sig=abcdefghijklmn", "abcdefghijklmn", "1"),
        ("https://user:pa55word@x.example/hook", "pa55word", "hook"),
    ],
)
def test_url_secrets(url: str, secret: str, kept: str) -> None:
    parts = url_secrets(url)
    assert secret in parts
    assert kept not in parts


async def test_webhook_signed_with_headers_and_idempotency_key() -> None:
    receiver = WebhookReceiver(required_header=("Authorization", "Bearer tok-1"), hmac_secret="k3y")
    async with serve_app(receiver.app()) as site:
        opts = WebhookNotifier.Options.model_validate(
            {
                "url": site.url_for("hook"),
                "headers": {"Authorization": "Bearer tok-1"},
                "hmac_secret": "k3y",
            }
        )
        n = WebhookNotifier("hook", opts, make_ctx())
        try:
            first = note("site-down")
            assert await n.send(first) == "evt-1"
            assert await n.send(first) == "evt-2"
        finally:
            await n.aclose()
    a, b = receiver.accepted
    assert a.body == b.body == encode_body(webhook_body(first))  # same bytes on a resend
    assert a.headers["x-monitord-key"] == first.key
    assert a.headers["x-monitord-event"] == "site-down"
    assert a.headers["x-monitord-signature"] == signature("k3y", a.body)
    assert a.json()["summary"] == first.event.summary


async def test_webhook_wrong_secret_is_permanent() -> None:
    receiver = WebhookReceiver(hmac_secret="right")
    async with serve_app(receiver.app()) as site:
        opts = WebhookNotifier.Options.model_validate(
            {"url": site.url_for("hook"), "hmac_secret": "wrong"}
        )
        n = WebhookNotifier("hook", opts, make_ctx())
        try:
            with pytest.raises(PermanentError, match=r"403.*hmac_secret"):
                await n.send(note("site-down"))
        finally:
            await n.aclose()
    assert receiver.accepted == []


async def test_slack_posts_and_classifies() -> None:
    standin = SlackStandIn()
    async with serve_app(standin.app()) as site:
        opts = SlackNotifier.Options.model_validate(
            {"url": site.url_for(f"services/{standin.token}")}
        )
        n = SlackNotifier("chat", opts, make_ctx())
        try:
            assert await n.send(note("site-down")) is None
            assert len(standin.posted) == 1
            standin.fail(429, "rate_limited", retry_after="12", content_type="text/plain")
            with pytest.raises(RetryableError) as err:
                await n.send(note("site-down"))
            assert err.value.retry_after == 12.0
            standin.fail(410, "channel_is_archived", content_type="text/plain")
            with pytest.raises(PermanentError, match=r"channel_is_archived.*unarchive"):
                await n.send(note("site-down"))
        finally:
            await n.aclose()
        wrong = SlackNotifier(
            "chat",
            SlackNotifier.Options.model_validate({"url": site.url_for("services/T1/B1/nope")}),
            make_ctx(),
        )
        try:
            with pytest.raises(PermanentError, match=r"403 \(invalid_token\).*revoked"):
                await wrong.send(note("site-down"))
        finally:
            await wrong.aclose()


async def test_teams_posts_an_adaptive_card() -> None:
    standin = TeamsStandIn()
    async with serve_app(standin.app()) as site:
        path = "workflows/f1/triggers/manual/paths/invoke?api-version=1&sig="
        ok = TeamsNotifier(
            "teams",
            TeamsNotifier.Options.model_validate({"url": site.url_for(path + standin.sig)}),
            make_ctx(),
        )
        bad = TeamsNotifier(
            "teams",
            TeamsNotifier.Options.model_validate({"url": site.url_for(path + "x" * 20)}),
            make_ctx(),
        )
        try:
            assert await ok.send(note("site-recovered")) is None
            card = standin.posted[0]["attachments"][0]["content"]
            assert card["body"][0]["color"] == "Good"
            with pytest.raises(PermanentError, match=r"401.*sig="):
                await bad.send(note("site-down"))
        finally:
            await ok.aclose()
            await bad.aclose()


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"url": "ftp://x.example/"}, "not an http"),
        ({"url": "https://x.example/", "headers": {"Bad Name": "x"}}, "not a valid header"),
        ({"url": "https://x.example/", "headers": {"X-A": "a\r\nX-B: b"}}, "line break"),
        ({"url": "https://x.example/", "timeout": "0s"}, "above 0s"),
        ({"url": "https://x.example/", "method": "PUT"}, "Extra inputs"),
    ],
)
def test_webhook_options_are_checked(options: dict[str, object], word: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=word):
        WebhookNotifier.Options.model_validate(options)
