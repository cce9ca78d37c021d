"""The plugin protocol: what makes a class a notifier, and how the configuration names them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from monitord.config import loader
from monitord.config.models import Config
from monitord.errors import ConfigError
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.email import EmailNotifier
from monitord.notify.opsgenie import OpsgenieNotifier
from monitord.notify.pagerduty import PagerDutyNotifier
from monitord.notify.plugins import (
    NOTIFIER_TYPES,
    TICKETS,
    TICKETS_LOCAL,
    available_types,
    build_notifiers,
    configured_types,
    load_plugin_class,
    protocol_problems,
)
from monitord.notify.tickets_local import LocalTicketsNotifier
from monitord.notify.webhook import SlackNotifier, TeamsNotifier, WebhookNotifier


def load_config(directory: Path, **kwargs: Any) -> Config:
    """As the daemon and every command load it: each notifier's type loaded, its options checked."""
    return loader.load_config(directory, notifier_types=NOTIFIER_TYPES, **kwargs)


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Good:
    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    Options = _Opts

    def __init__(self, name: str, options: _Opts, ctx: Any) -> None:
        self.name = name

    async def send(self, notification: Notification) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


class WrongVersion(Good):
    api_version: ClassVar[int] = NOTIFIER_API_VERSION + 1


class NoVersion:
    Options = _Opts

    async def send(self, notification: Notification) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


class SyncSend(Good):
    def send(self, notification: Notification) -> str | None:  # type: ignore[override]
        return None


class NoAclose:
    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    Options = _Opts

    async def send(self, notification: Notification) -> str | None:
        return None


class NoOptions:
    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    async def send(self, notification: Notification) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


class _Loose(BaseModel):
    pass


class LooseOptions(Good):
    Options = _Loose  # type: ignore[assignment]


def _make_instance() -> object:
    return Good("x", _Opts(), None)


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (Good, []),
        (WrongVersion, [f"api_version is {NOTIFIER_API_VERSION + 1}"]),
        (NoVersion, ["no api_version"]),
        (SyncSend, ["send() is not an async def"]),
        (NoAclose, ["no aclose() method"]),
        (NoOptions, ["no Options"]),
        (LooseOptions, ["extra='forbid', frozen=True"]),
        (_make_instance(), ["not a class"]),
        (PagerDutyNotifier, []),
        (OpsgenieNotifier, []),
        (WebhookNotifier, []),
        (SlackNotifier, []),
        (TeamsNotifier, []),
        (EmailNotifier, []),  # adapted: it predates the plugin constructor
    ],
)
def test_protocol_problems(cls: Any, words: list[str]) -> None:
    problems = protocol_problems(cls)
    if not words:
        assert problems == []
    for word in words:
        assert any(word in p for p in problems), problems


def test_builtins_are_registered_entry_points() -> None:
    types = available_types()
    for name in ("email", "pagerduty", "opsgenie", "webhook", "slack", "teams"):
        assert name in types
        assert load_plugin_class(name) is not None


def _write(tmp_path: Path, notifiers: str, smtp: bool = True) -> Path:
    text = "agency: {name: Collective, support_email: support@collective.example}\n"
    if smtp:
        text += 'smtp: {host: 127.0.0.1, port: 2525, from: "M <monitor@collective.example>"}\n'
    text += notifiers
    (tmp_path / "monitord.yml").write_text(text)
    return tmp_path


PD = "0123456789abcdef0123456789abcdef"


def test_only_named_notifiers_are_built_and_email_comes_with_smtp(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "notifiers:\n"
            f"  oncall-pager: {{type: pagerduty, routing_key: {PD}}}\n"
            "  ops-chat: {type: slack, url: 'https://hooks.slack.com/services/T/B/abc'}\n",
        )
    )
    # `tickets` (tickets-local) is built in: every problem becomes a ticket.
    assert configured_types(config) == {
        "email": "email",
        "oncall-pager": "pagerduty",
        "ops-chat": "slack",
        "tickets": "tickets-local",
    }
    built = build_notifiers(config)
    assert sorted(built) == ["email", "oncall-pager", "ops-chat", "tickets"]
    assert isinstance(built["email"], EmailNotifier)
    assert isinstance(built["oncall-pager"], PagerDutyNotifier)
    assert isinstance(built["tickets"], LocalTicketsNotifier)
    assert [n.name for n in built.values()] == list(built)
    assert sorted(build_notifiers(config, only={"ops-chat"})) == ["ops-chat"]


def test_no_smtp_no_email(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "", smtp=False))
    built = build_notifiers(config)
    # Only the built-in ticket notifier: no e-mail without smtp.
    assert list(built) == ["tickets"]
    assert isinstance(built["tickets"], LocalTicketsNotifier)


BUILTIN_TICKETS: list[tuple[str, str, dict[str, str]]] = [
    ("nothing configured", "", {"email": "email", TICKETS: TICKETS_LOCAL}),
    (
        "a ticket system named tickets replaces it",
        "notifiers:\n  tickets: {type: webhook, url: 'https://desk.example/hook'}\n",
        {"email": "email", TICKETS: "webhook"},
    ),
    (
        "the config's own tickets-local under another name replaces it",
        "notifiers:\n  local: {type: tickets-local}\n",
        {"email": "email", "local": TICKETS_LOCAL},
    ),
    (
        "the config's own tickets-local named tickets is the one",
        "notifiers:\n  tickets: {type: tickets-local, path: other.sqlite3}\n",
        {"email": "email", TICKETS: TICKETS_LOCAL},
    ),
    (
        "a webhook under another name is no ticket system: the built-in stays",
        "notifiers:\n  desk: {type: webhook, url: 'https://desk.example/hook'}\n",
        {"email": "email", "desk": "webhook", TICKETS: TICKETS_LOCAL},
    ),
    (
        "a built-in ticket system under another name replaces it",
        "notifiers:\n  desk: {type: helpdesk-email, address: help@desk.example}\n",
        {"email": "email", "desk": "helpdesk-email"},
    ),
]


@pytest.mark.parametrize(
    ("notifiers", "expected"), [r[1:] for r in BUILTIN_TICKETS], ids=[r[0] for r in BUILTIN_TICKETS]
)
def test_tickets_local_is_built_in_unless_the_config_has_its_own(
    tmp_path: Path, notifiers: str, expected: dict[str, str]
) -> None:
    config = load_config(_write(tmp_path, notifiers))
    assert configured_types(config) == expected
    built = build_notifiers(config)
    assert sorted(built) == sorted(expected)
    local = [n for n, t in expected.items() if t == TICKETS_LOCAL]
    assert [n for n, b in built.items() if isinstance(b, LocalTicketsNotifier)] == local


def test_secrets_stay_out_of_the_config_repr(tmp_path: Path) -> None:
    secret = "s3cret-routing-key-0123456789abc"[:32]
    config = load_config(
        _write(tmp_path, "notifiers:\n  p: {type: pagerduty, routing_key: '${PD_KEY}'}\n"),
        environ={"PD_KEY": secret},
    )
    assert secret not in repr(config)
    assert secret not in str(config.main.notifiers)


@pytest.mark.parametrize(
    ("notifiers", "smtp", "expected"),
    [
        (
            "notifiers:\n  p: {type: pagerdooty, routing_key: x}\n",
            True,
            [
                "monitord.yml:4:13: notifiers.p.type: unknown notifier type 'pagerdooty' — did you "
                "mean `pagerduty`?"
            ],
        ),
        (
            "notifiers:\n  p: {type: pagerduty}\n",
            True,
            ["monitord.yml:4:3: notifiers.p.routing_key: required key `routing_key` is missing"],
        ),
        (
            "notifiers:\n  p: {type: pagerduty, routing_key: " + PD + ", region: eu}\n",
            True,
            [
                "monitord.yml:4:71: notifiers.p.region: unknown key `region` — allowed keys: "
                "routing_key, base_url, client_url, timeout"
            ],
        ),
        (
            "notifiers:\n  o:\n    type: opsgenie\n    api_key: k\n    priorities: {warning: P7}\n",
            True,
            [
                "monitord.yml:7:27: notifiers.o.priorities.warning: unknown value 'P7' — use one "
                "of: P1, P2, P3, P4, P5"
            ],
        ),
        (
            "notifiers:\n  email: {type: slack, url: 'https://x.example/'}\n",
            True,
            ["monitord.yml:4:3: notifiers.email: the name `email` is the built-in e-mail notifier"],
        ),
        (
            "notifiers:\n  mail2: {type: email}\n",
            False,
            [
                "monitord.yml:3:17: notifiers.mail2.type: notifier `mail2` sends e-mail, but there "
                "is no `smtp` section"
            ],
        ),
        (
            "notifiers:\n  w: {url: 'https://x.example/'}\n",
            True,
            ["monitord.yml:4:3: notifiers.w.type: required key `type` is missing"],
        ),
        (
            "notifiers:\n  Bad Name: {type: slack, url: 'https://x.example/'}\n",
            True,
            ["notifiers.Bad Name: 'Bad Name' is not a valid id"],
        ),
        (
            "notifiers:\n  w: {type: webhook, url: 'https://x.example/', timeout: 10m}\n",
            True,
            ["notifiers.w.timeout: timeout must be above 0s and at most 2m"],
        ),
    ],
)
def test_config_errors_are_located(
    tmp_path: Path, notifiers: str, smtp: bool, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, notifiers, smtp=smtp))
    lines = [str(i).replace(str(tmp_path) + "/", "") for i in err.value.issues]
    for want in expected:
        assert any(line.startswith(want) or want in line for line in lines), lines


def test_a_secret_in_a_bad_option_is_not_echoed(tmp_path: Path) -> None:
    secret = "too-short-but-secret-value"
    with pytest.raises(ConfigError) as err:
        load_config(
            _write(tmp_path, "notifiers:\n  p: {type: pagerduty, routing_key: '${PD_KEY}'}\n"),
            environ={"PD_KEY": secret},
        )
    text = str(err.value)
    assert "routing_key must be 32 characters" in text
    assert secret not in text
