"""Opsgenie / JSM: alert bodies (pure, golden, limits) and create/close against the stand-in."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.errors import PermanentError, RetryableError
from monitord.notify.opsgenie import (
    DEFAULT_PRIORITIES,
    OpsgenieNotifier,
    alias_for,
    build_create,
    close_path,
)
from tests.helpers.sites import serve_app
from tests.notify.standins.kit import THREAD, check_golden, make_ctx, note
from tests.notify.standins.opsgenie import OpsgenieStandIn, validate_create

KEY = "og-api-key-0123456789abcdef"
LONDON = ZoneInfo("Europe/London")


def create(n: Any, **kw: Any) -> dict[str, Any]:
    return build_create(
        n, agency_name="Collective", tz=LONDON, priorities=dict(DEFAULT_PRIORITIES), **kw
    )


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", "P1"), ("error", "P2"), ("warning", "P3"), ("info", "P5")],
)
def test_priority_from_severity(severity: str, priority: str) -> None:
    assert create(note("site-down", severity=severity))["priority"] == priority


def test_priority_override() -> None:
    opts = OpsgenieNotifier.Options.model_validate(
        {"api_key": KEY, "priorities": {"warning": "P4"}}
    )
    n = OpsgenieNotifier("g", opts, make_ctx())
    assert n._priorities["warning"] == "P4"
    assert n._priorities["critical"] == "P1"


def test_create_golden() -> None:
    from monitord.notify.opsgenie import Responder

    body = create(
        note("site-down"),
        responders=(Responder(type="team", name="Ops"),),
        tags=("drupal",),
    )
    check_golden("opsgenie-create.json", body)


def test_the_person_on_call_is_a_user_responder() -> None:
    from monitord.notify.opsgenie import Responder

    team = (Responder(type="team", name="Ops"),)
    # A route straight to the notifier: only the configured responders.
    assert create(note("security-now"), responders=team)["responders"] == [
        {"type": "team", "name": "Ops"}
    ]
    # oncall-pager: the rota's person (their opsgenie_user) is added, once.
    paged = create(note("security-now", recipient="sam@collective.example"), responders=team)
    assert paged["responders"] == [
        {"type": "team", "name": "Ops"},
        {"type": "user", "username": "sam@collective.example"},
    ]
    assert validate_create(paged) == {}


@settings(max_examples=60, deadline=None)
@given(
    summary=st.text(max_size=400),
    thread=st.text(min_size=1, max_size=900),
    site=st.text(max_size=700),
    details=st.dictionaries(st.text(max_size=60), st.text(max_size=3000), max_size=8),
)
def test_every_alert_fits_opsgenie_limits(
    summary: str, thread: str, site: str, details: dict[str, str]
) -> None:
    body = create(note("site-down", summary=summary, thread=thread, site=site, details=details))
    assert validate_create(body) == {}


def test_long_alias_is_hashed_stably() -> None:
    long = "x" * 600
    assert alias_for(long) == alias_for(long)
    assert len(alias_for(long)) <= 512
    assert close_path("a/b c") == "/v2/alerts/a%2Fb%20c/close?identifierType=alias"


@pytest.mark.parametrize("prefix", ["", "/jsm/ops/integration"])
async def test_create_resend_and_close_one_alert(prefix: str) -> None:
    standin = OpsgenieStandIn(api_keys={KEY}, prefix=prefix)
    async with serve_app(standin.app()) as site:
        base = site.url.rstrip("/") + prefix
        opts = OpsgenieNotifier.Options.model_validate({"api_key": KEY, "base_url": base})
        n = OpsgenieNotifier("genie", opts, make_ctx())
        try:
            first = await n.send(note("site-down"))
            await n.send(note("site-down"))
            await n.send(note("site-reminder"))
            assert list(standin.alerts) == [THREAD]
            assert standin.alerts[THREAD].creates == 3
            assert standin.alerts[THREAD].status == "open"
            await n.send(note("site-recovered"))
            assert standin.alerts[THREAD].status == "closed"
        finally:
            await n.aclose()
    assert first and len(first) == 36  # the request id
    assert standin.requests[0].headers["authorization"] == f"GenieKey {KEY}"
    assert standin.requests[-1].query == {"identifierType": "alias"}


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, PermanentError, ["401", "API integration"]),
        (403, PermanentError, ["403", "access rights"]),
        (404, PermanentError, ["404", "api.eu.opsgenie.com", "jsm/ops/integration"]),
        (422, PermanentError, ["422", "monitord bug"]),
        (429, RetryableError, ["429", "will retry"]),
        (503, RetryableError, ["503"]),
    ],
)
async def test_failures(status: int, kind: type[Exception], words: list[str]) -> None:
    standin = OpsgenieStandIn(api_keys={KEY})
    standin.fail(status, '{"message":"nope"}')
    async with serve_app(standin.app()) as site:
        opts = OpsgenieNotifier.Options.model_validate({"api_key": KEY, "base_url": site.url})
        n = OpsgenieNotifier("genie", opts, make_ctx())
        try:
            with pytest.raises(kind) as err:
                await n.send(note("site-down"))
        finally:
            await n.aclose()
    for word in words:
        assert word in str(err.value)


async def test_wrong_key_is_refused_by_the_stand_in() -> None:
    standin = OpsgenieStandIn(api_keys={KEY})
    async with serve_app(standin.app()) as site:
        opts = OpsgenieNotifier.Options.model_validate(
            {"api_key": "another-key-000000", "base_url": site.url}
        )
        n = OpsgenieNotifier("genie", opts, make_ctx())
        try:
            with pytest.raises(PermanentError, match="Could not authenticate"):
                await n.send(note("site-down"))
        finally:
            await n.aclose()
