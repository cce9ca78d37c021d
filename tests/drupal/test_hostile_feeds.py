"""Hostile feeds cost linear time: a 5 MiB body of any shape parses in well under a second of CPU.

The parse runs in a thread that holds the GIL, so a slow parse stalls the whole daemon (a
``Project:`` field of 400,000 ``<`` once froze it for ~48 s). The bounds below are generous
(1 s for 5 MiB; these take 1–80 ms) — they check the complexity class, not the machine: a
quadratic step over 5 MiB needs minutes.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from monitord.drupal.description import (
    _first_href,
    _strip_tags,
    _text,
    description_fields,
    parse_risk,
    psa_window,
)
from monitord.drupal.feeds import (
    DESCRIPTION_MAX_CHARS,
    ERRORS_MAX,
    FEED_MAX_ITEMS,
    FEED_MAX_TAGS,
    FIELD_MAX_CHARS,
    SHORT_FIELD_MAX_CHARS,
    parse_feed,
    parse_psa_json,
    parse_rss,
)
from monitord.drupal.fetch import FEED_MAX_BYTES, content_problem
from tests.helpers.hostile_drupal import FEEDS, many_items

CPU_BOUND_SECONDS = 1.0
"""CPU allowed for 5 MiB of hostile input: linear code takes ~0.1 s, quadratic code minutes."""

FIVE_MIB = 5 * 1024 * 1024

MOST_LT = FEED_MAX_BYTES // 4
"""The most ``<`` a feed body can carry into its description text: each is ``&lt;`` in XML."""

T = TypeVar("T")


def cpu(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


@pytest.mark.parametrize("shape", sorted(FEEDS))
def test_hostile_feed_of_5_mib_parses_in_well_under_a_second(shape: str) -> None:
    data = FEEDS[shape](FEED_MAX_BYTES - 4096)
    assert len(data) > 0.9 * FIVE_MIB or shape == "deep-html"
    result, spent = cpu(lambda: parse_feed(data))
    assert spent < CPU_BOUND_SECONDS, f"{shape}: {spent:.2f} s of CPU"
    assert len(result.advisories) <= FEED_MAX_ITEMS
    assert len(result.errors) <= ERRORS_MAX


# ------------------------------------------------ each scanner alone, without the size limits


def test_run_of_lt_is_text_and_linear() -> None:
    fragment = "<p>a</p>" + "<" * MOST_LT
    text, spent = cpu(lambda: _text(fragment))
    assert spent < CPU_BOUND_SECONDS
    assert text == "a\n" + "<" * MOST_LT


def test_unclosed_tags_labels_strong_and_links_are_linear() -> None:
    labels = '<div class="field-label">Project:' * (MOST_LT // 2)
    fields, spent = cpu(lambda: description_fields(labels))
    assert spent < CPU_BOUND_SECONDS and fields == {}

    strong = "<strong>" * MOST_LT
    start = time.process_time()
    with pytest.raises(ValueError, match="security risk"):
        parse_risk(strong)
    assert time.process_time() - start < CPU_BOUND_SECONDS

    links = "<a x=" * MOST_LT + ">"
    href, spent = cpu(lambda: _first_href(links))
    assert spent < CPU_BOUND_SECONDS and href is None

    open_links = "<a " * MOST_LT
    href, spent = cpu(lambda: _first_href(open_links))
    assert spent < CPU_BOUND_SECONDS and href is None

    block = "</p " * MOST_LT
    text, spent = cpu(lambda: _strip_tags(block, "\n"))
    assert spent < CPU_BOUND_SECONDS and text == block


def test_a_text_of_many_dates_is_linear() -> None:
    text = "February 30, 2026 and " * (FIVE_MIB // 22)  # plain text: 5 MiB of it
    window, spent = cpu(lambda: psa_window(text))
    assert spent < CPU_BOUND_SECONDS and window is None


# ------------------------------------------------ the scanner reads what the regexes read


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>One</p><p>Two <b>bold</b></p>", "One\nTwo bold"),
        ("a<br/>b<BR>c", "a\nb\nc"),
        ("x < y and y > z", "x z"),  # a tag is "<" to the next ">", as before
        ("3 < 4", "3 < 4"),  # a "<" never closed is text
        ("<div class='a'>x</div><span>y</span>", "x\ny"),
        ("<pre>x</pre>y", "xy"),  # <pre> is not a block tag here
        ("<h2>T</h2>body", "T\nbody"),
        ("&lt;script&gt; &amp;", "<script> &"),
    ],
)
def test_text_of_fragments(fragment: str, expected: str) -> None:
    assert _text(fragment) == expected


def test_first_href_finds_the_link_of_the_first_anchor_that_has_one() -> None:
    assert _first_href('<a name="x">no</a> <A class="b" HREF="/r/1.2.3">1.2.3</a>') == "/r/1.2.3"
    assert _first_href('<a\nhref="/x">') == "/x"
    assert _first_href("<abbr href='/x'>") is None
    assert _first_href('<a <a <a href="/y">') == "/y"


# ------------------------------------------------ named limits, each reported


def _item(title: str, desc: str, n: int = 1) -> str:
    return (
        f"<item><title>{html.escape(title)}</title>"
        f"<link>https://www.drupal.org/sa-contrib-2026-{n:03d}</link>"
        f"<description>{html.escape(desc)}</description>"
        "<pubDate>Wed, 21 Oct 2026 17:00:00 +0000</pubDate></item>"
    )


def _rss(*items: str) -> bytes:
    return ('<?xml version="1.0"?><rss version="2.0"><channel>' + "".join(items)).encode() + (
        b"</channel></rss>"
    )


def _field(label: str, inner: str) -> str:
    return f'<div class="field-label">{label}:&nbsp;</div><div class="field-items">{inner}</div>'


GOOD = _item(
    "Example - Critical - Access bypass - SA-CONTRIB-2026-001",
    _field("Project machine name", "example"),
)


@pytest.mark.parametrize(
    ("desc", "title", "what"),
    [
        (_field("Project", "&lt;" * (SHORT_FIELD_MAX_CHARS + 1)), None, "'project' field"),
        (_field("Solution", "x" * (FIELD_MAX_CHARS + 1)), None, "'solution' field"),
        ("x" * (DESCRIPTION_MAX_CHARS + 1), None, "<description>"),
        ("", "Example - " * 200 + "SA-CONTRIB-2026-002", "<title>"),
    ],
)
def test_an_item_with_an_oversized_field_is_skipped_and_named(
    desc: str, title: str | None, what: str
) -> None:
    bad = _item(title or "Example - Critical - Access bypass - SA-CONTRIB-2026-002", desc, 2)
    result = parse_rss(_rss(GOOD, bad))
    assert [a.id for a in result.advisories] == ["SA-CONTRIB-2026-001"]
    (error,) = result.errors
    assert error.startswith("item 2 (")
    assert f"its {what} is " in error and "characters long" in error and "limit" in error


def test_items_past_the_limit_are_reported_not_parsed() -> None:
    items = [
        _item(f"E - Critical - Access bypass - SA-CONTRIB-2026-{n:04d}", "", n)
        for n in range(1, FEED_MAX_ITEMS + 11)
    ]
    result = parse_rss(_rss(*items))
    assert len(result.advisories) == FEED_MAX_ITEMS
    assert result.advisories[-1].id == f"SA-CONTRIB-2026-{FEED_MAX_ITEMS:04d}"
    assert f"lists {FEED_MAX_ITEMS + 10} items" in result.errors[0]
    assert "FEED_MAX_ITEMS" in result.errors[0]


def test_a_feed_of_too_many_tags_is_refused_unparsed() -> None:
    data = many_items()
    assert data.count(b"<") > FEED_MAX_TAGS
    result = parse_rss(data)
    assert result.advisories == ()
    (error,) = result.errors
    assert error.startswith("refused: the feed holds") and "FEED_MAX_TAGS" in error


def test_errors_are_capped_with_a_count_of_the_rest() -> None:
    items = [f"<item><title>no id {n}</title></item>" for n in range(100)]
    result = parse_rss(_rss(*items))
    assert len(result.errors) == ERRORS_MAX
    assert result.errors[-1] == f"… and {100 - ERRORS_MAX + 1} more problems like these"


# ------------------------------------------------ psa.json


def test_deeply_nested_psa_json_is_an_error_result_not_a_recursion_error() -> None:
    result = parse_psa_json(b"[" * 200_000)
    assert result.advisories == ()
    assert "nests deeper" in result.errors[0]
    assert content_problem(b"[" * 200_000) is not None  # the fetcher's sniff survives it too


def test_psa_json_fields_of_the_wrong_type_or_size_skip_their_item() -> None:
    good = {
        "title": "Example - Critical - Access bypass - SA-CONTRIB-2026-001",
        "project": "example",
        "insecure": ["1.0.0"],
        "pubDate": "Wed, 21 Oct 2026 17:00:00 +0000",
    }
    data = json.dumps(
        [
            good,
            {**good, "title": ["not", "text"]},
            {**good, "project": "x" * (SHORT_FIELD_MAX_CHARS + 1)},
            {**good, "insecure": ["1.0.0"] * 5000},
        ]
    ).encode()
    result = parse_psa_json(data)
    assert len(result.advisories) == 1
    assert [e.split(" ", 2)[1] for e in result.errors] == ["2", "3", "4"]
    assert "'title' is a JSON list, not a string" in result.errors[0]
