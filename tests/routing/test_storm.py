"""Storm grouping and the connectivity rule (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from monitord.config.models import ConnectivityConfig
from monitord.notify.base import Notification
from monitord.storm import (
    CANARY_RECHECK,
    ConnectivityState,
    OpenGroup,
    assign_groups,
    connectivity_step,
    share_exceeded,
)
from tests.routing.conftest import event, utc

T0 = utc("2026-11-26T14:00")
W = timedelta(seconds=30)


def note(client: str, site: str, notifier: str = "email", to: str = "jo@x.example") -> Notification:
    ev = event("site-down", client, site)
    return Notification(f"{ev.key}|{notifier}|{to}", notifier, to, "Jo", ev)


def mergeable(name: str) -> bool:
    return name == "email"


def test_five_sites_of_one_client_join_one_group_due_at_its_end() -> None:
    groups: dict[tuple[str, str, str], OpenGroup] = {}
    out: list[Notification] = []
    for i in range(5):
        now = T0 + timedelta(seconds=6 * i)  # 0..24 s: all inside the window
        batch, groups = assign_groups([note("acme", f"s{i}")], groups, now, W, mergeable)
        out += batch
    assert len({n.group for n in out}) == 1
    assert {n.due_at for n in out} == {T0 + W}
    # After the group's end a new one opens.
    late, groups = assign_groups([note("acme", "s5")], groups, T0 + W, W, mergeable)
    assert late[0].group not in {n.group for n in out}
    assert late[0].due_at == T0 + 2 * W


GROUP_TABLE: list[tuple[str, list[Notification], int]] = [
    ("two clients: two groups", [note("acme", "a"), note("beta", "b")], 2),
    (
        "two recipients of one client: two groups",
        [note("acme", "a"), note("acme", "b", to="ann@x.example")],
        2,
    ),
    ("recipients differ only in case: one", [note("acme", "a"), note("acme", "b", to="JO@x.example")], 1),
    ("one client, one recipient, three sites: one", [note("acme", s) for s in "abc"], 1),
]  # fmt: skip


@pytest.mark.parametrize(("why", "notes", "groups"), GROUP_TABLE, ids=[r[0] for r in GROUP_TABLE])
def test_grouping_keys(why: str, notes: list[Notification], groups: int) -> None:
    out, _ = assign_groups(notes, {}, T0, W, mergeable)
    assert len({n.group for n in out}) == groups, why
    assert all(n.due_at == T0 + W for n in out)


def test_not_grouped_paging_agency_only_or_off() -> None:
    paged = note("acme", "a", notifier="pagerduty", to="")
    agency = replace(note("acme", "a"), event=replace(note("acme", "a").event, client=""))
    out, groups = assign_groups([paged, agency], {}, T0, W, mergeable)
    assert out == [paged, agency] and groups == {}
    out, _ = assign_groups([note("acme", "a")], {}, T0, timedelta(0), mergeable)
    assert out[0].group is None and out[0].due_at is None


def test_a_page_or_a_security_now_is_never_delayed_by_a_group() -> None:
    """The on-call person reached by e-mail (mergeable) is paged at once, not at the group's
    end; so is a highly critical advisory. Others to the same person still group."""
    page = replace(note("acme", "a", to="sam@x.example"), page=True)
    sec = note("acme", "b", to="sam@x.example")
    sec = replace(sec, event=replace(sec.event, kind="security-now"))
    other = note("acme", "c", to="sam@x.example")
    out, groups = assign_groups([page, sec, other], {}, T0, W, mergeable)
    assert out[:2] == [page, sec]  # untouched: no group, due at once
    assert out[2].group is not None and out[2].due_at == T0 + W
    assert list(groups) == [("acme", "email", "sam@x.example")]


def test_held_items_group_by_their_due_time() -> None:
    morning = utc("2026-11-27T09:00")
    held = [replace(note("acme", s), due_at=morning) for s in "abc"]
    out, groups = assign_groups(held, {}, T0, W, mergeable)
    assert len({n.group for n in out}) == 1 and "held" in (out[0].group or "")
    assert {n.due_at for n in out} == {morning}  # not brought forward
    assert groups == {}


# ---------------------------------------------------------------- connectivity

RULE = ConnectivityConfig(canaries=("https://canary.example/",))
NO_CANARY = ConnectivityConfig()

SHARE_TABLE: list[tuple[int, int, bool]] = [
    (12, 20, True),
    (10, 20, False),  # exactly half is not over half
    (11, 20, True),
    (9, 10, False),  # fewer than 10 failing
    (10, 10, True),
    (10, 19, True),
    (0, 0, False),
    (500, 1000, False),
    (501, 1000, True),
]


@pytest.mark.parametrize(("failing", "total", "exceeded"), SHARE_TABLE)
def test_share_rule(failing: int, total: int, exceeded: bool) -> None:
    assert share_exceeded(failing, total, RULE) is exceeded


def test_share_rule_configurable() -> None:
    rule = ConnectivityConfig(threshold=0.25, min_checks=3)
    assert share_exceeded(3, 10, rule) and not share_exceeded(2, 4, rule)


def test_canaries_failing_isolate_once_then_restore_once() -> None:
    s = ConnectivityState()
    step = connectivity_step(s, 12, 20, None, T0, RULE)
    assert step.probe_canaries and step.announce is None and not step.state.isolated
    step = connectivity_step(step.state, 12, 20, False, T0, RULE)
    assert step.announce == "isolated" and step.state.isolated and step.state.since == T0
    step = connectivity_step(step.state, 15, 20, None, T0 + W, RULE)  # still bad: quiet
    assert step.announce is None and step.state.isolated and not step.probe_canaries
    step = connectivity_step(step.state, 3, 20, None, T0 + 2 * W, RULE)
    assert step.announce == "restored" and not step.state.isolated
    step = connectivity_step(step.state, 2, 20, None, T0 + 3 * W, RULE)
    assert step.announce is None


def test_canaries_answering_mean_the_sites_really_are_down() -> None:
    step = connectivity_step(ConnectivityState(), 12, 20, True, T0, RULE)
    assert not step.state.isolated and step.announce is None and step.state.canaries_ok_at == T0
    # Not probed again until CANARY_RECHECK has passed.
    soon = connectivity_step(step.state, 13, 20, None, T0 + CANARY_RECHECK / 2, RULE)
    assert not soon.probe_canaries
    later = connectivity_step(step.state, 13, 20, None, T0 + CANARY_RECHECK, RULE)
    assert later.probe_canaries


def test_without_canaries_the_share_alone_decides() -> None:
    step = connectivity_step(ConnectivityState(), 12, 20, None, T0, NO_CANARY)
    assert step.announce == "isolated" and not step.probe_canaries
