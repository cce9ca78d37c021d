"""An ``oncall-pager`` route through PagerDuty, from the configuration to the Events API
(a local stand-in): the trigger names the affected host as ``payload.source`` even when the
event carries no URL, and carries whom monitord's rota has on call in
``custom_details.on_call`` — PagerDuty itself pages whoever the service's escalation policy
names (the Events API has no field for a user)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from monitord.events import Event
from monitord.notify.pagerduty import PagerDutyNotifier
from monitord.notify.plugins import make_context
from monitord.oncall import on_call
from monitord.routing import route
from tests.helpers.sites import serve_app
from tests.notify.standins.pagerduty import PagerDutyStandIn
from tests.routing.conftest import EXAMPLE_ROUTES, ONCALL, event, make_config

KEY = "0123456789abcdefABCDEF0123456789"


async def _send_all(ev: Event, when: str) -> tuple[list[dict[str, Any]], str]:
    standin = PagerDutyStandIn(routing_keys={KEY})
    async with serve_app(standin.app()) as site:
        options = {"type": "pagerduty", "routing_key": KEY, "base_url": site.url}
        config = make_config(routes=EXAMPLE_ROUTES, oncall=ONCALL, notifiers={"pagerduty": options})
        assert config.main.oncall is not None
        who = on_call(config.main.oncall, ZoneInfo("Europe/London"), ev.at).person.name
        pages = [n for n in route(ev, config) if n.notifier == "pagerduty"]
        assert pages, f"no page for {ev.kind} at {when}"
        notifier = PagerDutyNotifier(
            "pagerduty",
            PagerDutyNotifier.Options.model_validate({"routing_key": KEY, "base_url": site.url}),
            make_context(config),
        )
        try:
            for n in pages:
                await notifier.send(n)
        finally:
            await notifier.aclose()
    return [r.json() for r in standin.requests], who


async def test_a_security_page_names_the_host_and_who_the_rota_has_on_call() -> None:
    # security-now events carry no `url` detail: the host comes from the site's configuration.
    ev = event("security-now", at="2026-11-26T22:00", severity="critical")
    assert "url" not in ev.details
    (body,), who = await _send_all(ev, "22:00")
    payload = body["payload"]
    assert isinstance(payload, dict)
    assert payload["source"] == "www.acme.example"
    on_call_person = payload["custom_details"]["on_call"]
    assert on_call_person == {"name": who, "pagerduty_user": {"Sam": "P123", "Alex": "P456"}[who]}


async def test_over_christmas_the_override_is_who_the_trigger_names() -> None:
    ev = event("security-now", at="2026-12-25T10:00", severity="critical")
    (body,), who = await _send_all(ev, "Christmas Day")
    assert who == "Alex"  # the override, 24 Dec 17:00 to 29 Dec 09:00
    assert body["payload"]["custom_details"]["on_call"] == {
        "name": "Alex",
        "pagerduty_user": "P456",
    }
