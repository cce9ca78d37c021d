"""PagerDuty: the Events API v2 body (pure, golden), and sends against the local stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.errors import PermanentError, RetryableError
from monitord.events import EventKind
from monitord.notify.pagerduty import (
    DEDUP_KEY_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    PagerDutyNotifier,
    build_event,
    dedup_key_for,
    source_of,
)
from tests.helpers.clock import Clock
from tests.helpers.sites import LoopbackSite, closed_port, hanging_server, serve_app
from tests.helpers.tls import TestCA
from tests.notify.standins.kit import NOW, THREAD, event, make_ctx, note
from tests.notify.standins.pagerduty import PagerDutyStandIn, validate_event

KEY = "0123456789abcdefABCDEF0123456789"


def options(base_url: str, **kw: Any) -> PagerDutyNotifier.Options:
    return PagerDutyNotifier.Options.model_validate(
        {"routing_key": KEY, "base_url": base_url, **kw}
    )


@pytest.fixture
async def pd() -> AsyncIterator[tuple[PagerDutyStandIn, LoopbackSite]]:
    standin = PagerDutyStandIn(routing_keys={KEY})
    async with serve_app(standin.app()) as site:
        yield standin, site


# ---------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        ("site-down", "trigger"),
        ("site-reminder", "trigger"),
        ("site-flapping", "trigger"),
        ("certificate", "trigger"),
        ("security-now", "trigger"),
        ("test", "trigger"),
        ("site-recovered", "resolve"),
    ],
)
def test_action_by_kind(kind: EventKind, action: str) -> None:
    body = build_event(note(kind), KEY)
    assert body["event_action"] == action
    assert body["dedup_key"] == THREAD
    assert validate_event(body, {KEY}) == []


@pytest.mark.parametrize(
    ("severity"),
    ["critical", "error", "warning", "info"],
)
def test_severity_is_passed_through(severity: str) -> None:
    body = build_event(note("site-down", severity=severity), KEY)
    assert body["payload"]["severity"] == severity


def test_trigger_golden() -> None:
    from tests.notify.standins.kit import check_golden

    body = build_event(note("site-down"), "<routing key>", client_url="https://status.example/")
    check_golden("pagerduty-trigger.json", body)
    check_golden("pagerduty-resolve.json", build_event(note("site-recovered"), "<routing key>"))


def test_long_summary_is_cut_to_the_limit_with_an_ellipsis() -> None:
    body = build_event(note("site-down", summary="x" * 5000), KEY)
    summary = body["payload"]["summary"]
    assert len(summary) == SUMMARY_MAX_CHARS
    assert summary.endswith("…")


def test_long_thread_gets_a_stable_short_dedup_key() -> None:
    long = "t" * 400
    assert dedup_key_for(long) == dedup_key_for(long)
    assert len(dedup_key_for(long)) <= DEDUP_KEY_MAX_CHARS
    assert dedup_key_for(long) != dedup_key_for(long + "x")
    assert dedup_key_for("short") == "short"


@pytest.mark.parametrize(
    ("details", "site", "client", "want"),
    [
        ({"url": "https://www.acme.example/x"}, "acme-www", "acme", "www.acme.example"),
        ({}, "acme-www", "acme", "acme-www"),
        ({"url": "not a url"}, None, "acme", "acme"),
        ({}, None, "", "monitord"),
    ],
)
def test_source(details: dict[str, Any], site: str | None, client: str, want: str) -> None:
    assert source_of(event(details=details, site=site, client=client)) == want


HOSTS = {("acme", "acme-www"): "www.acme.example", ("acme", "acme-shop"): "shop.acme.example"}


@pytest.mark.parametrize(
    ("kind", "details", "site", "want"),
    [
        # Incident events: the failing check's URL.
        ("site-down", {"url": "https://api.acme.example/health"}, "acme-www", "api.acme.example"),
        # Security events carrying the site's URL (or a host) instead.
        ("security-now", {"site_url": "https://www.acme.example/"}, "acme-www", "www.acme.example"),
        ("certificate", {"host": "cdn.acme.example"}, "acme-www", "cdn.acme.example"),
        # No URL at all (patch-day, ticket-overdue, security-unknown): the configured site's.
        ("patch-day", {}, "acme-shop", "shop.acme.example"),
        ("ticket-overdue", {"ticket": 4}, "acme-www", "www.acme.example"),
        (
            "security-now",
            {"url": "https://user:***@www.acme.example/"},
            "acme-www",
            "www.acme.example",
        ),
        # A masked host is never shown: the configured host, else the site id.
        ("site-down", {"url": "https://${HOST}/"}, "acme-www", "www.acme.example"),
        ("site-down", {"url": "https://***/"}, "acme-blog", "acme-blog"),
        # An event about no site names the client.
        ("connectivity", {}, None, "acme"),
    ],
)
def test_source_is_the_host_whenever_the_event_concerns_a_site(
    kind: EventKind, details: dict[str, Any], site: str | None, want: str
) -> None:
    ev = event(kind, details=details, site=site, client="acme")
    assert source_of(ev, HOSTS) == want
    assert (
        build_event(note(kind, details=details, site=site), KEY, site_hosts=HOSTS)["payload"][
            "source"
        ]
        == want
    )


def test_on_call_is_who_the_rota_names_and_only_on_a_page() -> None:
    fixed = build_event(note("security-now"), KEY)  # a route straight to the notifier
    assert "on_call" not in fixed["payload"]["custom_details"]
    page = build_event(note("security-now", recipient="P123"), KEY)
    assert page["payload"]["custom_details"]["on_call"] == {"name": "", "pagerduty_user": "P123"}
    by_mail = build_event(note("security-now", recipient="sam@collective.example"), KEY)
    assert by_mail["payload"]["custom_details"]["on_call"] == {
        "name": "",
        "email": "sam@collective.example",
    }


@settings(max_examples=60, deadline=None)
@given(
    summary=st.text(max_size=3000),
    thread=st.text(min_size=1, max_size=600),
    severity=st.sampled_from(["critical", "error", "warning", "info"]),
    kind=st.sampled_from(["site-down", "site-recovered", "security-now", "test"]),
)
def test_every_event_is_one_pagerduty_accepts(
    summary: str, thread: str, severity: str, kind: EventKind
) -> None:
    body = build_event(note(kind, summary=summary, thread=thread, severity=severity), KEY)
    assert validate_event(body, {KEY}) == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [(KEY, True), ("short", False), (KEY + "x", False), ("", False)],
)
def test_routing_key_must_be_32_characters(value: str, ok: bool) -> None:
    from pydantic import ValidationError

    if ok:
        PagerDutyNotifier.Options(routing_key=value)
        return
    with pytest.raises(ValidationError) as err:
        PagerDutyNotifier.Options(routing_key=value)
    assert "32 characters" in str(err.value)


# ---------------------------------------------------------------- against the stand-in


async def test_trigger_reminder_resend_and_resolve_are_one_alert(
    pd: tuple[PagerDutyStandIn, LoopbackSite],
) -> None:
    standin, site = pd
    n = PagerDutyNotifier("pager", options(site.url), make_ctx())
    try:
        down = note("site-down")
        assert await n.send(down) == THREAD
        assert await n.send(down) == THREAD  # a resend after a crash
        await n.send(note("site-reminder"))
        assert list(standin.alerts) == [THREAD]
        assert standin.alerts[THREAD].status == "triggered"
        await n.send(note("site-recovered"))
        assert standin.alerts[THREAD].status == "resolved"
        assert len(standin.alerts[THREAD].events) == 4
        sent = standin.requests[0]
        assert sent.headers["content-type"].startswith("application/json")
        assert sent.json()["payload"]["custom_details"]["client_name"] == "ACME Charity"
    finally:
        await n.aclose()


async def test_another_thread_is_another_alert(pd: tuple[PagerDutyStandIn, LoopbackSite]) -> None:
    standin, site = pd
    n = PagerDutyNotifier("pager", options(site.url), make_ctx())
    try:
        await n.send(note("site-down"))
        await n.send(note("site-down", thread="acme/acme-shop/http@2026-11-26T14:04:00Z"))
        assert len(standin.alerts) == 2
    finally:
        await n.aclose()


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "kind", "want_wait", "words"),
    [
        (429, "", "7", RetryableError, 7.0, ["429", "will retry"]),
        (429, "", "Thu, 26 Nov 2026 14:06:00 GMT", RetryableError, 60.0, ["429"]),
        (500, "", None, RetryableError, None, ["500", "will retry"]),
        (502, "<html>bad gateway</html>", None, RetryableError, None, ["502"]),
        (503, "", "30", RetryableError, 30.0, ["503"]),
        (
            400,
            '{"status":"invalid event","message":"Event object is invalid","errors":["boom"]}',
            None,
            PermanentError,
            None,
            ["400", "Event object is invalid", "boom", "Integration Key"],
        ),
        (403, "", None, PermanentError, None, ["403", "routing_key"]),
        (404, "", None, PermanentError, None, ["404", "base_url"]),
        (301, "", None, PermanentError, None, ["301", "redirect"]),
    ],
)
async def test_failures_are_classified(
    pd: tuple[PagerDutyStandIn, LoopbackSite],
    status: int,
    body: str,
    retry_after: str | None,
    kind: type[Exception],
    want_wait: float | None,
    words: list[str],
) -> None:
    standin, site = pd
    standin.fail(status, body, retry_after=retry_after)
    n = PagerDutyNotifier("pager", options(site.url), make_ctx(clock=Clock(NOW)))
    try:
        with pytest.raises(kind) as err:
            await n.send(note("site-down"))
        for word in words:
            assert word in str(err.value)
        assert "'pager'" in str(err.value)
        if isinstance(err.value, RetryableError):
            assert err.value.retry_after == want_wait
        # the next try goes through
        assert await n.send(note("site-down")) == THREAD
    finally:
        await n.aclose()


async def test_the_stand_in_refuses_what_pagerduty_refuses(
    pd: tuple[PagerDutyStandIn, LoopbackSite],
) -> None:
    _, site = pd
    unknown = "f" * 32
    n = PagerDutyNotifier(
        "pager",
        PagerDutyNotifier.Options.model_validate({"routing_key": unknown, "base_url": site.url}),
        make_ctx(),
    )
    try:
        with pytest.raises(PermanentError, match="Invalid routing key"):
            await n.send(note("site-down"))
    finally:
        await n.aclose()


async def test_timeout_and_refused_connection_are_retryable() -> None:
    async with hanging_server() as site:
        n = PagerDutyNotifier("pager", options(site.url, timeout="0.3s"), make_ctx())
        try:
            with pytest.raises(RetryableError, match=r"did not answer within 0\.3s"):
                await n.send(note("site-down"))
        finally:
            await n.aclose()
    with closed_port() as port:
        n = PagerDutyNotifier("pager", options(f"http://127.0.0.1:{port}/"), make_ctx())
        try:
            with pytest.raises(RetryableError, match="could not connect"):
                await n.send(note("site-down"))
        finally:
            await n.aclose()


async def test_https_with_a_trusted_and_an_untrusted_certificate(test_ca: TestCA) -> None:
    standin = PagerDutyStandIn()
    async with serve_app(standin.app(), ssl_context=test_ca.server_context()) as site:
        ok = PagerDutyNotifier("pager", options(site.url), make_ctx(test_ca.client_context()))
        other = TestCA()
        bad = PagerDutyNotifier("pager", options(site.url), make_ctx(other.client_context()))
        try:
            assert await ok.send(note("site-down")) == THREAD
            with pytest.raises(PermanentError, match="TLS certificate"):
                await bad.send(note("site-down"))
        finally:
            await ok.aclose()
            await bad.aclose()
