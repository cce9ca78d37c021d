"""The on-call rota: weekly handovers on the London wall clock, DST, overrides (pure)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitord.config.models import OncallConfig, OncallPerson
from monitord.oncall import last_handover, on_call, parse_handover, recipient_for
from tests.routing.conftest import utc

LONDON = ZoneInfo("Europe/London")

THREE: dict[str, Any] = {
    "rota": [
        {"name": "Sam", "email": "sam@x.example", "pagerduty_user": "P1"},
        {"name": "Alex", "email": "alex@x.example", "opsgenie_user": "alex@og"},
        {"name": "Kim", "email": "kim@x.example"},
    ],
    "handover": "mon 09:00",
    "start": "2026-11-02",  # Sam's first turn: Monday 2 Nov 2026, 09:00
    "overrides": [
        {"from": "2026-12-24T17:00", "to": "2026-12-29T09:00", "name": "Alex"},
        {"from": "2026-12-25T00:00", "to": "2026-12-25T12:00", "name": "Kim"},  # wins: later
    ],
}

ROTA_TABLE: list[tuple[str, str, str]] = [
    ("2026-11-02T09:00", "Sam", "rota"),  # the very first handover
    ("2026-11-02T08:59", "Kim", "rota"),  # the turn before it, counted backwards
    ("2026-11-09T08:59", "Sam", "rota"),
    ("2026-11-09T09:00", "Alex", "rota"),
    ("2026-11-15T23:59", "Alex", "rota"),  # Sunday night: still Alex
    ("2026-11-16T09:00", "Kim", "rota"),
    ("2026-11-23T09:00", "Sam", "rota"),  # round again
    ("2026-11-26T20:00", "Sam", "rota"),
    ("2026-12-24T16:59", "Alex", "rota"),  # week of 21 Dec: Alex by rota anyway
    ("2026-12-24T17:00", "Alex", "override"),
    ("2026-12-25T00:00", "Kim", "override"),  # the later-listed override wins
    ("2026-12-25T11:59", "Kim", "override"),
    ("2026-12-25T12:00", "Alex", "override"),
    ("2026-12-28T10:00", "Alex", "override"),  # rota says Kim this week
    ("2026-12-29T08:59", "Alex", "override"),
    ("2026-12-29T09:00", "Kim", "rota"),
    # Clocks go forward Sun 29 Mar 2026: Monday's handover is 09:00 BST = 08:00 UTC.
    ("2026-03-30T07:59", "Alex", "rota"),  # 31 turns before Sam's first: Kim from here
    ("2026-03-30T08:00", "Kim", "rota"),
    # Clocks go back Sun 25 Oct 2026: 09:00 GMT = 09:00 UTC.
    ("2026-10-26T08:59", "Alex", "rota"),
    ("2026-10-26T09:00", "Kim", "rota"),
]


@pytest.mark.parametrize(("at", "name", "reason"), ROTA_TABLE)
def test_who_is_on_call(at: str, name: str, reason: str) -> None:
    who = on_call(OncallConfig.model_validate(THREE), LONDON, utc(at))
    assert (who.person.name, who.reason) == (name, reason)
    assert who.since <= utc(at) < who.until


def test_turn_bounds_and_an_override_cutting_a_turn_short() -> None:
    cfg = OncallConfig.model_validate(THREE)
    who = on_call(cfg, LONDON, utc("2026-12-22T10:00"))
    assert who.since == utc("2026-12-21T09:00")
    assert who.until == utc("2026-12-24T17:00")  # the override takes over then
    during = on_call(cfg, LONDON, utc("2026-12-24T18:00"))
    assert (during.since, during.until) == (utc("2026-12-24T17:00"), utc("2026-12-29T09:00"))
    # A DST week is an hour shorter (spring): 30 Mar 08:00 UTC to 6 Apr 08:00 UTC.
    spring = on_call(cfg, LONDON, utc("2026-03-31T12:00"))
    assert spring.until - spring.since == utc("2026-04-06T08:00") - utc("2026-03-30T08:00")


HANDOVER_TABLE: list[tuple[str, str, str]] = [
    ("mon 09:00", "2026-11-26T12:00", "2026-11-23"),
    ("mon 09:00", "2026-11-23T08:59", "2026-11-16"),
    ("fri 17:30", "2026-11-27T17:30", "2026-11-27"),
    ("fri 17:30", "2026-11-27T17:29", "2026-11-20"),
    ("sun 00:00", "2026-11-29T00:00", "2026-11-29"),
    ("wed 09:00", "2026-07-01T07:59", "2026-06-24"),  # 08:59 BST
    ("wed 09:00", "2026-07-01T08:00", "2026-07-01"),
]


@pytest.mark.parametrize(("handover", "at", "day"), HANDOVER_TABLE)
def test_last_handover(handover: str, at: str, day: str) -> None:
    assert last_handover(utc(at), parse_handover(handover), LONDON).isoformat() == day


def test_two_people_alternate_weekly_from_the_default_start() -> None:
    cfg = OncallConfig.model_validate(
        {"rota": [{"name": "Sam"}, {"name": "Alex"}]}  # start 2024-01-01, a Monday
    )
    # 151 whole weeks from 1 Jan 2024 to 23 Nov 2026: odd, so the second person.
    assert on_call(cfg, LONDON, utc("2026-11-26T14:00")).person.name == "Alex"
    assert on_call(cfg, LONDON, utc("2026-11-30T09:00")).person.name == "Sam"
    assert on_call(cfg, LONDON, utc("2024-01-01T09:00")).person.name == "Sam"


@pytest.mark.parametrize(
    ("notifier_type", "person", "expected"),
    [
        ("pagerduty", {"name": "S", "email": "s@x.example", "pagerduty_user": "P1"}, "P1"),
        ("pagerduty", {"name": "S", "email": "s@x.example"}, "s@x.example"),
        ("opsgenie", {"name": "S", "opsgenie_user": "s@og"}, "s@og"),
        ("email", {"name": "S", "email": "s@x.example", "pagerduty_user": "P1"}, "s@x.example"),
        ("webhook", {"name": "S"}, ""),
    ],
)
def test_recipient_for(notifier_type: str, person: dict[str, str], expected: str) -> None:
    assert recipient_for(OncallPerson.model_validate(person), notifier_type) == expected


@pytest.mark.parametrize("bad", ["monday 09:00", "mon 9am", "mon 24:00", "09:00", ""])
def test_bad_handover_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="weekly handover"):
        OncallConfig.model_validate({"rota": [{"name": "Sam"}], "handover": bad})
