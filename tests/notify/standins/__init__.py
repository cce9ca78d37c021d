"""Local stand-ins for the external APIs monitord notifies, as aiohttp applications.

Each checks a request the way the real API does (auth, JSON shape, field limits) and answers
with the real API's status codes and bodies; each can be told to fail the next requests
(``standin.fail(429, retry_after="7")``) and records what it received. Serve one with
``tests.helpers.sites.serve_app(standin.app())``. Reusable by any notifier's tests:

- :class:`~.pagerduty.PagerDutyStandIn` — Events API v2 ``POST /v2/enqueue``;
- :class:`~.opsgenie.OpsgenieStandIn` — Alert API v2 create/close (and the JSM Integration
  Events paths, with ``prefix="/jsm/ops/integration"``);
- :class:`~.chat.SlackStandIn` — a Slack incoming webhook;
- :class:`~.chat.TeamsStandIn` — a Teams Workflows webhook trigger;
- :class:`~.chat.WebhookReceiver` — any JSON webhook, optionally checking a header and an HMAC.
"""
