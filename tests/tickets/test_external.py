"""Jira, Zendesk, Freshdesk and Redmine against their stand-ins on 127.0.0.1, with a real
SQLite store and the real outbox: one ticket per thread, comments, resolve on recovery, no
second ticket on a re-send (even when the store lost the record, for APIs with an
idempotency field), 429 honoured through the outbox, 400/422 and 401 permanent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog.testing

from monitord.errors import PermanentError
from monitord.events import EventKind
from monitord.notify.base import Notification
from monitord.notify.freshdesk import FreshdeskNotifier
from monitord.notify.freshdesk import build_ticket as freshdesk_body
from monitord.notify.jira import JiraNotifier, adf, build_issue
from monitord.notify.plugins import NotifierContext
from monitord.notify.redmine import RedmineNotifier
from monitord.notify.redmine import build_issue as redmine_body
from monitord.notify.zendesk import ZendeskNotifier
from monitord.notify.zendesk import build_ticket as zendesk_body
from monitord.outbox import OutboxSender
from monitord.store.sqlite import SqliteStore
from monitord.tickets import thread_label, ticket_for
from tests.helpers.clock import Clock
from tests.helpers.sites import serve_app
from tests.notify.standins.kit import AGENCY, NOW, THREAD, make_ctx, note
from tests.notify.standins.tickets import (
    FreshdeskStandIn,
    JiraStandIn,
    RedmineStandIn,
    TicketStandIn,
    ZendeskStandIn,
)

GOLDEN = Path(__file__).parent / "golden_api"


@dataclass
class Api:
    name: str
    standin: Callable[[], TicketStandIn]
    build: Callable[[str, dict[str, Any], NotifierContext], Any]
    options: Callable[[TicketStandIn, str], dict[str, Any]]
    bad_credential: dict[str, Any]
    credential_words: tuple[str, ...]
    invalid: dict[str, Any]
    """Options the stand-in refuses as invalid (400/422)."""
    invalid_status: int
    remote_lookup: bool
    resolved_status: str


def _jira(name: str, o: dict[str, Any], ctx: NotifierContext) -> Any:
    return JiraNotifier(name, JiraNotifier.Options.model_validate(o), ctx)


def _zendesk(name: str, o: dict[str, Any], ctx: NotifierContext) -> Any:
    return ZendeskNotifier(name, ZendeskNotifier.Options.model_validate(o), ctx)


def _freshdesk(name: str, o: dict[str, Any], ctx: NotifierContext) -> Any:
    return FreshdeskNotifier(name, FreshdeskNotifier.Options.model_validate(o), ctx)


def _redmine(name: str, o: dict[str, Any], ctx: NotifierContext) -> Any:
    return RedmineNotifier(name, RedmineNotifier.Options.model_validate(o), ctx)


APIS = [
    Api(
        "jira",
        JiraStandIn,
        _jira,
        lambda s, url: {
            "base_url": url,
            "email": "ops@collective.example",
            "api_token": "jira-token",
            "project": "OPS",
            "done_transition": "Done",
        },
        {"api_token": "wrong-token"},
        ("401", "email and api_token", "id.atlassian.com"),
        {"issue_type": "Epic"},
        400,
        True,
        "done",
    ),
    Api(
        "zendesk",
        ZendeskStandIn,
        _zendesk,
        lambda s, url: {
            "base_url": url,
            "email": "ops@collective.example",
            "api_token": "zd-token",
        },
        {"api_token": "wrong-token"},
        ("401", "Couldn't authenticate you", "email and api_token"),
        {"email": "someone-else@collective.example"},  # 401 too; replaced below by a 422
        422,
        True,
        "solved",
    ),
    Api(
        "freshdesk",
        FreshdeskStandIn,
        _freshdesk,
        lambda s, url: {
            "base_url": url,
            "api_key": "fd-key",
            "email": "support@collective.example",
        },
        {"api_key": "wrong-key"},
        ("401", "You have to be logged in", "api_key"),
        {"email": None, "requester_id": 0},
        400,
        True,
        "resolved",
    ),
    Api(
        "redmine",
        RedmineStandIn,
        _redmine,
        lambda s, url: {"base_url": url, "api_key": "rm-key", "project_id": "ops"},
        {"api_key": "wrong-key"},
        ("401", "api_key", "REST API"),
        {"priority_ids": {"high": 99}},
        422,
        False,
        "resolved",
    ),
]


@dataclass
class Rig:
    api: Api
    standin: TicketStandIn
    url: str
    store: SqliteStore
    clock: Clock

    def notifier(self, **override: Any) -> Any:
        options = {**self.api.options(self.standin, self.url), **override}
        options = {k: v for k, v in options.items() if v is not None}
        n = self.api.build("tickets", options, make_ctx(clock=self.clock))
        n.attach_store(self.store)
        return n


@pytest.fixture(params=APIS, ids=[a.name for a in APIS])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    api: Api = request.param
    standin = api.standin()
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open()
    async with serve_app(standin.app()) as site:
        yield Rig(api, standin, site.url.rstrip("/"), store, Clock(NOW))
    await store.close()


def n(kind: EventKind, **kw: Any) -> Notification:
    return note(kind, "tickets", **kw)


# ---------------------------------------------------------------- the life of one ticket


async def test_open_comment_resend_and_resolve_make_one_ticket(rig: Rig) -> None:
    notifier = rig.notifier()
    try:
        first = await notifier.send(n("site-down"))
        assert first
        assert rig.standin.creates() == 1
        requests = len(rig.standin.requests)
        assert await notifier.send(n("site-down")) == first  # outbox re-send: nothing at all
        assert len(rig.standin.requests) == requests
        assert await notifier.send(n("site-reminder")) == first
        (ticket,) = rig.standin.tickets.values()
        assert len(ticket.comments) == 1
        assert ticket.status == "open"
        assert await notifier.send(n("site-recovered")) == first
        assert rig.standin.creates() == 1
        assert ticket.status == rig.api.resolved_status
        assert len(ticket.comments) == 2
        assert "BACK UP" in ticket.comments[-1]
        ref = await rig.store.ticket_ref("tickets", THREAD)
        assert ref is not None and ref.external_id == first and ref.resolved_at is not None
    finally:
        await notifier.aclose()


SENT_LOG = {
    "jira": ("jira.sent", "issue"),
    "zendesk": ("zendesk.sent", "ticket"),
    "freshdesk": ("freshdesk.sent", "ticket"),
    "redmine": ("redmine.sent", "issue"),
}
"""Each notifier's log line for a delivered notification: its event, the field of the id."""


async def test_a_send_logs_the_api_and_the_ticket_id(rig: Rig) -> None:
    notifier = rig.notifier()
    try:
        with structlog.testing.capture_logs() as logs:
            external = await notifier.send(n("site-down"))
    finally:
        await notifier.aclose()
    event, id_field = SENT_LOG[rig.api.name]
    assert [entry for entry in logs if entry["event"].endswith(".sent")] == [
        {
            "event": event,
            "log_level": "info",
            "notifier": "tickets",
            id_field: external,
            "kind": "site-down",
            "client": "acme",
            "site": "acme-www",
        }
    ]


async def test_another_thread_is_another_ticket(rig: Rig) -> None:
    notifier = rig.notifier()
    try:
        a = await notifier.send(n("site-down"))
        b = await notifier.send(n("site-down", thread="acme/acme-shop/http@2026-11-26T14:04:00Z"))
        assert a != b and rig.standin.creates() == 2
    finally:
        await notifier.aclose()


async def test_a_recovery_without_a_ticket_opens_nothing(rig: Rig) -> None:
    notifier = rig.notifier()
    try:
        assert await notifier.send(n("site-recovered")) is None
        assert rig.standin.creates() == 0
    finally:
        await notifier.aclose()


async def test_resend_after_losing_the_record_finds_the_ticket(rig: Rig, tmp_path: Path) -> None:
    """A crash between the API's answer and the store's record: the thread's ticket is found
    by the API's own idempotency field (Redmine has none: documented)."""
    notifier = rig.notifier()
    try:
        first = await notifier.send(n("site-down"))
        fresh = SqliteStore(tmp_path / "fresh.sqlite3")
        await fresh.open()
        try:
            notifier.attach_store(fresh)
            again = await notifier.send(n("site-down"))
        finally:
            await fresh.close()
        if rig.api.remote_lookup:
            assert again == first
            assert rig.standin.creates() == 1
            (ticket,) = rig.standin.tickets.values()
            assert len(ticket.comments) == 1  # the re-send became a comment, not a ticket
        else:
            assert rig.standin.creates() == 2
    finally:
        await notifier.aclose()


async def test_an_uncertain_send_whose_ticket_was_made_is_not_repeated(
    rig: Rig, tmp_path: Path
) -> None:
    """A run killed after the API made the ticket, before anything was recorded: the next run
    finds the ticket by the API's idempotency field and records the item as sent, with no
    second ticket and no comment (Redmine has no such field: it opens a second one)."""
    down = n("site-down")
    await rig.store.enqueue([down], rig.clock.now)
    (claimed,) = await rig.store.claim_due(rig.clock.now, 10, "killed-run")
    await rig.store.mark_attempt([claimed.id], rig.clock.now, "killed-run")
    notifier = rig.notifier()
    lost = SqliteStore(tmp_path / "lost.sqlite3")  # where the killed run's record "went"
    await lost.open()
    try:
        notifier.attach_store(lost)
        first = await notifier.send(down)
        notifier.attach_store(rig.store)
        sender = OutboxSender(rig.store, {"tickets": notifier}, rig.clock)
        assert await sender.run_once() == 1
    finally:
        await lost.close()
        await notifier.aclose()
    (item,) = await rig.store.outbox_items()
    assert item.status == "sent"
    if rig.api.remote_lookup:
        assert item.external_id == first
        assert rig.standin.creates() == 1
        (ticket,) = rig.standin.tickets.values()
        assert ticket.comments == []
        assert await rig.store.ticket_applied("tickets", down.key) == first
    else:
        assert rig.standin.creates() == 2


# ---------------------------------------------------------------- failures through the outbox


async def test_429_is_retried_no_sooner_than_retry_after(rig: Rig) -> None:
    notifier = rig.notifier()
    rig.standin.fail(429, '{"error": "slow down"}', retry_after="120")
    down = n("site-down")
    await rig.store.enqueue([down], rig.clock.now)
    sender = OutboxSender(rig.store, {"tickets": notifier}, rig.clock)
    try:
        assert await sender.run_once() == 1
        (item,) = await rig.store.outbox_items()
        assert item.status == "pending"
        assert "429" in (item.last_error or "") and "120s" in (item.last_error or "")
        assert item.due_at == rig.clock.now + timedelta(seconds=120)
        rig.clock.now += timedelta(seconds=119)
        assert await sender.run_once() == 0
        rig.clock.now += timedelta(seconds=1)
        assert await sender.run_once() == 1
        (item,) = await rig.store.outbox_items()
        assert item.status == "sent" and item.external_id
        assert rig.standin.creates() == 1
    finally:
        await notifier.aclose()


async def test_5xx_is_retried(rig: Rig) -> None:
    notifier = rig.notifier()
    rig.standin.fail(503, "upstream down")
    await rig.store.enqueue([n("site-down")], rig.clock.now)
    sender = OutboxSender(rig.store, {"tickets": notifier}, rig.clock)
    try:
        await sender.run_once()
        (item,) = await rig.store.outbox_items()
        assert item.status == "pending" and "503" in (item.last_error or "")
        rig.clock.now = item.due_at
        await sender.run_once()
        (item,) = await rig.store.outbox_items()
        assert item.status == "sent"
        assert rig.standin.creates() == 1
    finally:
        await notifier.aclose()


async def test_invalid_ticket_is_permanent(rig: Rig) -> None:
    invalid = dict(rig.api.invalid)
    if rig.api.name == "zendesk":
        invalid = {"type": "incident"}
        rig.standin.fail(
            422,
            json.dumps(
                {"error": "RecordInvalid", "description": "Record validation errors",
                 "details": {"priority": [{"description": "Priority: is invalid"}]}}
            ),
        )  # fmt: skip
    notifier = rig.notifier(**invalid)
    await rig.store.enqueue([n("site-down")], rig.clock.now)
    sender = OutboxSender(rig.store, {"tickets": notifier}, rig.clock)
    try:
        await sender.run_once()
        (item,) = await rig.store.outbox_items()
        assert item.status == "failed", item.last_error
        assert str(rig.api.invalid_status) in (item.last_error or "")
        assert "'tickets'" in (item.last_error or "")
        assert rig.standin.creates() == 0
    finally:
        await notifier.aclose()


async def test_401_is_permanent_and_says_which_credential(rig: Rig) -> None:
    notifier = rig.notifier(**rig.api.bad_credential)
    try:
        with pytest.raises(PermanentError) as err:
            await notifier.send(n("site-down"))
        for word in rig.api.credential_words:
            assert word in str(err.value)
        secret = next(iter(rig.api.bad_credential.values()))
        assert secret not in str(err.value)
        assert rig.standin.creates() == 0
    finally:
        await notifier.aclose()


# ---------------------------------------------------------------- request bodies (golden)


def _golden(name: str, data: Any) -> None:
    import os

    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}"


def test_golden_create_bodies() -> None:
    from monitord.calendar.hours import BusinessCalendar
    from monitord.notify.jira import DEFAULT_PRIORITIES
    from monitord.notify.redmine import DEFAULT_PRIORITY_IDS

    t = ticket_for(note("site-down").event, BusinessCalendar.from_agency(AGENCY), AGENCY.name)
    _golden("jira-create.json", build_issue(t, "OPS", "Task", dict(DEFAULT_PRIORITIES)))
    _golden("zendesk-create.json", zendesk_body(t, "incident", ("web",)))
    _golden("freshdesk-create.json", freshdesk_body(t, "support@collective.example", None, None))
    _golden("redmine-create.json", redmine_body(t, "ops", None, dict(DEFAULT_PRIORITY_IDS)))
    assert {p.name for p in GOLDEN.iterdir()} == {
        "jira-create.json", "zendesk-create.json", "freshdesk-create.json", "redmine-create.json",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "paragraphs", "breaks"),
    [("a", 1, 0), ("a\nb", 1, 1), ("a\n\nb", 2, 0), ("\n\n\n", 1, 0), ("a\n\nb\nc\n", 2, 2)],
)
def test_adf_has_no_empty_text_nodes(text: str, paragraphs: int, breaks: int) -> None:
    doc = adf(text)
    assert doc["type"] == "doc" and doc["version"] == 1
    assert len(doc["content"]) == paragraphs
    nodes = [node for p in doc["content"] for node in p["content"]]
    assert all(node.get("text") for node in nodes if node["type"] == "text")
    assert sum(node["type"] == "hardBreak" for node in nodes) == breaks


def test_the_thread_label_is_in_every_create_body() -> None:
    from monitord.calendar.hours import BusinessCalendar

    t = ticket_for(note("site-down").event, BusinessCalendar.from_agency(AGENCY), AGENCY.name)
    label = thread_label(THREAD)
    assert label in build_issue(t, "OPS", "Task", {"high": "High"})["fields"]["labels"]
    assert zendesk_body(t, "incident", ())["ticket"]["external_id"] == label
    assert label in freshdesk_body(t, "a@b.example", None, None)["tags"]


async def test_jira_unknown_transition_name_is_permanent_and_lists_the_choices(
    tmp_path: Path,
) -> None:
    standin = JiraStandIn()
    async with serve_app(standin.app()) as site:
        opts = {
            "base_url": site.url, "email": standin.email, "api_token": standin.token,
            "project": "OPS", "done_transition": "Closed",
        }  # fmt: skip
        notifier = _jira("tickets", opts, make_ctx())
        try:
            await notifier.send(n("site-down"))
            with pytest.raises(PermanentError, match=r"no transition named 'Closed'.*Done"):
                await notifier.send(n("site-recovered"))
        finally:
            await notifier.aclose()


async def test_jira_transition_by_id_skips_the_lookup() -> None:
    standin = JiraStandIn()
    async with serve_app(standin.app()) as site:
        opts = {
            "base_url": site.url, "email": standin.email, "api_token": standin.token,
            "project": "OPS", "done_transition": "31",
        }  # fmt: skip
        notifier = _jira("tickets", opts, make_ctx())
        try:
            await notifier.send(n("site-down"))
            await notifier.send(n("site-recovered"))
            assert [t.status for t in standin.tickets.values()] == ["done"]
            assert not any(r.method == "GET" and "transitions" in r.path for r in standin.requests)
        finally:
            await notifier.aclose()


def test_freshdesk_needs_a_requester() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs a requester"):
        FreshdeskNotifier.Options.model_validate(
            {"base_url": "https://x.freshdesk.com", "api_key": "k"}
        )
