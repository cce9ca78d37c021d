"""Rendering is pure and golden-tested: subject, plain text and HTML for every event kind.

Golden files live in tests/notify/golden/<case>.txt (``Subject: …``, a blank line, the text)
and <case>.html. After an intended change, rewrite them with::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/notify/test_notify_render.py

and review the diff before committing.
"""

from __future__ import annotations

import os
import typing
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.events import Event, EventKind
from monitord.notify.render import (
    SUBJECT_MAX_CHARS,
    TEXT_WIDTH,
    format_time,
    render,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
LONDON = ZoneInfo("Europe/London")
AGENCY = "Collective"


def _site_details(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "check_type": "http",
        "url": "https://www.acme.example/",
        "client_name": "ACME Charity",
        "site_name": "ACME main site",
        "message": "HTTP 503",
        "started": "2026-11-26T14:03:00Z",
        "failures": 3,
    }
    base.update(extra)
    return base


def ev(kind: EventKind, at: str = "2026-11-26T14:05:00Z", **kw: Any) -> Event:
    fields: dict[str, Any] = {
        "client": "acme",
        "site": "acme-www",
        "check": "http",
        "key": f"acme/acme-www/http@2026-11-26T14:03:00Z/{kind}",
        "thread": "acme/acme-www/http@2026-11-26T14:03:00Z",
        "summary": f"acme-www {kind}",
        "severity": "error",
        "details": {},
    }
    fields.update(kw)
    return Event(kind=kind, at=datetime.fromisoformat(at), **fields)


PATCH_ITEMS = [
    {
        "advisory": "SA-CONTRIB-2026-191",
        "project": "drupal/webform",
        "installed": "6.2.3",
        "fixed": "6.2.4",
        "link": "https://www.drupal.org/sa-contrib-2026-191",
    },
    {
        "advisory": "SA-CORE-2026-004",
        "project": "drupal/core",
        "installed": "10.3.1",
        "fixed": "10.3.9",
        "link": "https://www.drupal.org/sa-core-2026-004",
    },
]

# case name -> (event, recipient name, zone)
HTTP_503 = "http https://www.acme.example/: HTTP 503"
SOLR_REFUSED = "tcp solr.acme.example:8983: connection refused"


def site_ev(kind: EventKind, at: str = "2026-11-26T14:05:00Z", **kw: Any) -> Event:
    """An event of a site incident (monitord.site_incident.site_step): no single check; the
    failing checks named with their targets."""
    details: dict[str, Any] = {
        "url": "https://www.acme.example/",
        "client_name": "ACME Charity",
        "site_name": "ACME main site",
        "failing": [HTTP_503, SOLR_REFUSED],
        "message": f"{HTTP_503}; {SOLR_REFUSED}",
        "started": "2026-11-26T14:03:00Z",
        "check": "tcp",
    }
    details.update(kw.pop("details", {}))
    fields: dict[str, Any] = {
        "check": None,
        "key": f"acme/acme-www@2026-11-26T14:03:00Z/{kind}",
        "thread": "acme/acme-www@2026-11-26T14:03:00Z",
        "summary": f"acme-www is down: {details['message']}",
        "details": details,
    }
    fields.update(kw)
    return ev(kind, at, **fields)


CASES: dict[str, tuple[Event, str, ZoneInfo]] = {
    "site-down": (
        site_ev("site-down", details={"failing": [HTTP_503], "message": HTTP_503, "failures": 3}),
        "Jo Bloggs",
        LONDON,
    ),
    "site-down-per-check": (
        ev(
            "site-down",
            summary=f"acme-www is down: {SOLR_REFUSED}",
            check="solr",
            details=_site_details(
                check_type="tcp", target="solr.acme.example:8983", message=SOLR_REFUSED
            ),
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "site-update": (
        site_ev(
            "site-update",
            at="2026-11-26T14:07:00Z",
            summary=f"acme-www: tcp solr.acme.example:8983 fails too: connection refused; "
            f"failing now: {HTTP_503}; {SOLR_REFUSED}",
            details={"message": "tcp solr.acme.example:8983 fails too: connection refused"},
        ),
        "",
        LONDON,
    ),
    "site-down-summer-time": (
        ev(
            "site-down",
            at="2026-07-01T08:05:00Z",
            details=_site_details(started="2026-07-01T08:03:00Z", message="timed out after 10s"),
        ),
        "Zoë Ångström",
        LONDON,
    ),
    "site-down-no-name": (
        ev("site-down", details=_site_details(site_name=None)),
        "",
        LONDON,
    ),
    "site-reminder": (
        site_ev("site-reminder", at="2026-11-26T18:03:00Z", details={"down_for_seconds": 14400}),
        "Jo Bloggs",
        LONDON,
    ),
    "site-recovered": (
        site_ev(
            "site-recovered",
            at="2026-11-26T16:08:00Z",
            severity="info",
            summary="acme-www is back up after 2h 5m",
            details={
                "failing": [],
                "failed": [HTTP_503, SOLR_REFUSED],
                "ended": "2026-11-26T16:08:00Z",
                "down_for_seconds": 7500,
            },
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "site-flapping": (
        ev(
            "site-flapping",
            details=_site_details(
                transitions=4, window_seconds=3600, started="2026-11-26T13:20:00Z"
            ),
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "certificate-warning": (
        ev(
            "certificate",
            check="tls",
            severity="warning",
            details={
                "client_name": "ACME Charity",
                "site_name": "ACME main site",
                "days_left": 10,
                "not_after": "2026-12-06T15:00:00Z",
                "host": "www.acme.example",
                "warning": "certificate expires in 10 days",
            },
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "certificate-expired": (
        ev(
            "certificate",
            check="tls",
            details={
                "client_name": "ACME Charity",
                "days_left": -2,
                "not_after": "2026-11-24T12:00:00Z",
                "host": "www.acme.example",
            },
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "security-now": (
        ev(
            "security-now",
            check=None,
            severity="critical",
            summary="Drupal core - Highly critical - Remote code execution - SA-CORE-2026-004",
            details={
                "client_name": "ACME Charity",
                "advisory": "SA-CORE-2026-004",
                "risk": "Highly critical 20 ∕ 25",
                "project": "drupal/core",
                "installed": "10.3.1",
                "link": "https://www.drupal.org/sa-core-2026-004",
                "published": "2026-11-18T17:05:00Z",
            },
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "patch-day": (
        ev(
            "patch-day",
            at="2026-11-19T09:00:00Z",
            check=None,
            severity="info",
            summary="Patch day maintenance: 2 security updates for acme-www",
            details={"client_name": "ACME Charity", "items": PATCH_ITEMS},
        ),
        "Jo Bloggs",
        LONDON,
    ),
    "connectivity": (
        ev(
            "connectivity",
            client="",
            site=None,
            check=None,
            severity="critical",
            summary="62 of 100 sites failed at once; the monitoring node may be offline",
            details={"failing": 62, "total": 100, "canaries_ok": False},
        ),
        "",
        LONDON,
    ),
    "test": (
        ev(
            "test",
            client="",
            site=None,
            check=None,
            severity="info",
            summary="Test message from monitord",
        ),
        "Sam",
        LONDON,
    ),
    "hostile-values": (
        ev(
            "site-down",
            details=_site_details(
                client_name='<script>alert("x")</script> & Co',
                site_name="<b>bold</b>",
                message="HTTP 503\r\nBcc: evil@example.org",
                url='https://www.acme.example/?a=1&b="2"',
            ),
        ),
        "Jo <jo@evil> Bloggs",
        LONDON,
    ),
    "new-york": (
        ev(
            "site-down",
            at="2026-11-27T02:35:00Z",
            details=_site_details(started="2026-11-27T02:30:00Z"),
        ),
        "Jo Bloggs",
        ZoneInfo("America/New_York"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    event, recipient, tz = CASES[case]
    rendered = render(event, AGENCY, tz, recipient)
    actual = {
        ".txt": f"Subject: {rendered.subject}\n\n{rendered.text}",
        ".html": rendered.html,
    }
    for suffix, text in actual.items():
        path = GOLDEN / f"{case}{suffix}"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            continue
        if not path.exists():
            pytest.fail(f"{path} is missing — run with UPDATE_GOLDEN=1 and review it")
        assert text == path.read_text(encoding="utf-8"), (
            f"{case}{suffix} differs from its golden file; if intended, "
            "rerun with UPDATE_GOLDEN=1 and review the diff"
        )


def test_every_golden_file_belongs_to_a_case() -> None:
    stale = {p.stem for p in GOLDEN.iterdir()} - set(CASES)
    assert not stale, f"golden files without a case: {sorted(stale)}"


# ---------------------------------------------------------------- subjects

INCIDENT_STARTS = [
    ("2026-11-26T14:03:00Z", LONDON, "26 Nov 14:03"),
    ("2026-07-01T08:03:00Z", LONDON, "1 Jul 09:03"),
    ("2026-03-29T01:30:00Z", LONDON, "29 Mar 02:30"),  # first minutes of BST
    ("2026-10-25T00:30:00Z", LONDON, "25 Oct 01:30"),  # the repeated hour, BST side
    ("2026-10-25T01:30:00Z", LONDON, "25 Oct 01:30"),  # the repeated hour, GMT side
    ("2026-11-27T02:30:00Z", ZoneInfo("America/New_York"), "26 Nov 21:30"),
    ("2026-12-31T23:59:00Z", ZoneInfo("Asia/Tokyo"), "1 Jan 08:59"),
]


@pytest.mark.parametrize(("started", "tz", "shown"), INCIDENT_STARTS)
def test_subject_is_stable_across_one_incident(started: str, tz: ZoneInfo, shown: str) -> None:
    details = _site_details(started=started)
    events = [
        ev("site-down", at=started, details=details),
        ev("site-reminder", at=started, details={**details, "down_for_seconds": 14400}),
        ev(
            "site-recovered",
            at=started,
            details={**details, "ended": started, "down_for_seconds": 600},
        ),
    ]
    subjects = {render(e, AGENCY, tz, "Jo").subject for e in events}
    assert subjects == {f"[ACME Charity] acme-www: site problem since {shown}"}
    headlines = [render(e, AGENCY, tz, "Jo").text.split("\n", 1)[0] for e in events]
    assert headlines == ["DOWN — HTTP 503", "STILL DOWN — HTTP 503", "BACK UP — after 10m"]


def test_a_new_incident_gets_a_new_subject() -> None:
    first = ev("site-down", details=_site_details(started="2026-11-26T14:03:00Z"))
    second = ev("site-down", details=_site_details(started="2026-11-26T15:40:00Z"))
    assert render(first, AGENCY, LONDON, "").subject != render(second, AGENCY, LONDON, "").subject


@pytest.mark.parametrize(
    ("client", "details", "prefix"),
    [
        ("acme", {"client_name": "ACME Charity"}, "[ACME Charity] acme-www: "),
        ("acme", {}, "[acme] acme-www: "),
        ("acme", {"client_name": "  "}, "[acme] acme-www: "),
        ("", {}, "[Collective] acme-www: "),
    ],
)
def test_subject_prefix(client: str, details: dict[str, Any], prefix: str) -> None:
    event = ev("test", client=client, details=details, summary="hello")
    assert render(event, AGENCY, LONDON, "").subject == prefix + "hello"


def test_long_summary_is_cut_to_the_subject_limit() -> None:
    event = ev("security-now", summary="word " * 100)
    subject = render(event, AGENCY, LONDON, "").subject
    assert len(subject) == SUBJECT_MAX_CHARS
    assert subject.endswith("…")


# ---------------------------------------------------------------- times and robustness

TIMES = [
    ("2026-11-26T14:03:00Z", "Europe/London", "Thu 26 Nov 2026 14:03 GMT"),
    ("2026-11-26T14:03:00+00:00", "Europe/London", "Thu 26 Nov 2026 14:03 GMT"),
    ("2026-11-26T14:03:00", "Europe/London", "Thu 26 Nov 2026 14:03 GMT"),  # naive = UTC
    ("2026-03-29T00:59:00Z", "Europe/London", "Sun 29 Mar 2026 00:59 GMT"),
    ("2026-03-29T01:00:00Z", "Europe/London", "Sun 29 Mar 2026 02:00 BST"),
    ("2026-10-25T00:30:00Z", "Europe/London", "Sun 25 Oct 2026 01:30 BST"),
    ("2026-10-25T01:30:00Z", "Europe/London", "Sun 25 Oct 2026 01:30 GMT"),
    ("2026-02-28T23:30:00Z", "Europe/Berlin", "Sun 1 Mar 2026 00:30 CET"),
    ("2026-11-26T14:03:00Z", "UTC", "Thu 26 Nov 2026 14:03 UTC"),
    ("not a time", "Europe/London", "not a time"),
]


@pytest.mark.parametrize(("value", "zone", "shown"), TIMES)
def test_format_time(value: str, zone: str, shown: str) -> None:
    assert format_time(value, ZoneInfo(zone)) == shown


ALL_KINDS: tuple[str, ...] = typing.get_args(EventKind)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_renders_even_without_details(kind: EventKind) -> None:
    event = ev(kind, summary=f"something about {kind}")
    rendered = render(event, AGENCY, LONDON, "Jo")
    assert rendered.subject.startswith("[acme] acme-www: ")
    first_line = rendered.text.split("\n", 1)[0]
    state = first_line.split(" — ")[0]
    assert state and state == state.upper()  # the state first, in capitals
    assert "Hello Jo," in rendered.text and "Hello Jo," in rendered.html
    assert "Europe/London" in rendered.text


def test_generic_details_are_a_sorted_list_with_times_in_the_zone() -> None:
    event = ev(
        "security-unknown",
        details={"zeta": 1, "alpha": "a", "published": "2026-07-01T12:00:00Z", "flag": True},
    )
    text = render(event, AGENCY, LONDON, "").text
    positions = [text.index(label + ":") for label in ("Alpha", "Flag", "Published", "Zeta")]
    assert positions == sorted(positions)
    assert "Wed 1 Jul 2026 13:00 BST" in text
    assert "Flag:" in text and "yes" in text


def test_patch_day_items_are_a_table_in_both_parts() -> None:
    event, recipient, tz = CASES["patch-day"]
    rendered = render(event, AGENCY, tz, recipient)
    for item in PATCH_ITEMS:
        row = next(line for line in rendered.text.splitlines() if item["advisory"] in line)
        for key in ("project", "installed", "fixed", "link"):
            assert item[key] in row
        assert f'<a href="{item["link"]}"' in rendered.html
        assert f'">{item["advisory"]}</td>' in rendered.html
    assert rendered.html.count('scope="col"') == 5  # advisory, project, installed, fixed, link


def test_text_paragraphs_are_wrapped() -> None:
    event = ev("site-flapping", details=_site_details(transitions=5, window_seconds=3600))
    text = render(event, AGENCY, LONDON, "Jo").text
    prose = [line for line in text.splitlines() if ":" not in line]
    assert all(len(line) <= TEXT_WIDTH for line in prose)


# ---------------------------------------------------------------- escaping, as a property

ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "div", "p", "table", "tr", "th", "td", "a"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


hostile = st.lists(
    st.sampled_from([*"<>&\"'/=abc \r\n\t;:ü€", "<script>", "</p>", "&amp;", "<a href=x>"]),
    min_size=1,
    max_size=20,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(client_name=hostile, message=hostile, recipient=hostile, summary=hostile)
def test_no_value_can_inject_markup_or_break_the_subject(
    client_name: str, message: str, recipient: str, summary: str
) -> None:
    for kind in ("site-down", "patch-day"):
        event = ev(
            kind,
            summary=summary,
            details=_site_details(
                client_name=client_name, message=message, items=[{"advisory": message}]
            ),
        )
        rendered = render(event, AGENCY, LONDON, recipient)
        parser = _Tags()
        parser.feed(rendered.html)
        assert parser.tags <= ALLOWED_TAGS
        assert "\n" not in rendered.subject and "\r" not in rendered.subject
        assert rendered.text.split("\n", 1)[0].strip()  # a headline, whatever the input


def test_render_is_pure() -> None:
    event, recipient, tz = CASES["site-down"]
    assert render(event, AGENCY, tz, recipient) == render(event, AGENCY, tz, recipient)
