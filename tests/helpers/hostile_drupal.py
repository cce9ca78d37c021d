"""Hostile inputs for the Drupal advisory watcher: feeds and inventories built to be slow or deep.

Each feed builder returns bytes of about ``size`` (by default just under the fetcher's
``FEED_MAX_BYTES``, the most a server can get through to the parser). The shapes attack the
patterns a naive parser uses: ``<[^>]*>`` over a run of ``<`` (quadratic), unclosed
``<strong>``/``<a``/labels (a lazy search to the end from every start), deep nesting (recursion),
huge single fields and tens of thousands of items (work per round and log lines).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import escape

from monitord.drupal.fetch import FEED_MAX_BYTES

DEFAULT_SIZE = FEED_MAX_BYTES - 4096

FIELD_CHARS = 64 * 1024
"""The longest description field the parser accepts (``feeds.FIELD_MAX_CHARS``)."""

_HEAD = (
    '<?xml version="1.0" encoding="utf-8" ?><rss version="2.0"><channel>'
    "<title>Security advisories</title>"
)
_TAIL = "</channel></rss>"


def _field(label: str, inner: str) -> str:
    return (
        '<div class="field field-label-inline clearfix">'
        f'<div class="field-label">{label}:&nbsp;</div><div class="field-items">'
        f'<div class="field-item even">{inner}</div></div></div>'
    )


def _item(title: str, description_html: str, n: int = 1) -> str:
    return (
        f"<item><title>{escape(title)}</title>"
        f"<link>https://www.drupal.org/sa-contrib-2026-{n:03d}</link>"
        f"<description>{escape(description_html)}</description>"
        "<pubDate>Wed, 21 Oct 2026 17:00:00 +0000</pubDate></item>"
    )


def _fill(before: str, unit: str, after: str, size: int, escaped: bool = True) -> str:
    """``before + unit * k + after`` with k chosen so the RSS document is about ``size`` bytes
    once the description is XML-escaped (``<`` becomes the 4 bytes of ``&lt;``)."""
    cost = len(escape(unit).encode()) if escaped else len(unit.encode())
    budget = size - len((_HEAD + _TAIL + before + after).encode()) - 400
    return before + unit * max(budget // cost, 1) + after


def _rss_one_item(make_description: Callable[[int], str], size: int) -> bytes:
    desc = make_description(size)
    return (
        _HEAD + _item("Example - Critical - Access bypass - SA-CONTRIB-2026-001", desc) + _TAIL
    ).encode()


def project_of_lt(size: int = DEFAULT_SIZE) -> bytes:
    """The reported case: a ``Project:`` field that is one long run of ``<``."""
    return _rss_one_item(
        lambda s: _field("Project", _fill("", "<", "", s)) + _field("Vulnerability", "x"), size
    )


def unclosed_labels(size: int = DEFAULT_SIZE) -> bytes:
    """Thousands of ``<div class="field-label">`` that are never closed."""
    return _rss_one_item(lambda s: _fill("", '<div class="field-label">Project:', "", s), size)


def unclosed_strong(size: int = DEFAULT_SIZE) -> bytes:
    """A Security risk field of ``<strong>`` without ``</strong>`` and links without ``>``."""
    return _rss_one_item(
        lambda s: (
            _field("Security risk", _fill("", "<strong>", "", s // 2))
            + _field("Solution", _fill("", '<a x="', "", s // 2))
        ),
        size,
    )


def block_tags(size: int = DEFAULT_SIZE) -> bytes:
    """A run of ``</p`` with no ``>``: the block-tag pattern's worst case."""
    return _rss_one_item(lambda s: _field("Solution", _fill("", "</p ", "", s)), size)


def deep_html(size: int = DEFAULT_SIZE) -> bytes:
    """Escaped HTML nested hundreds of thousands deep inside one field."""

    def desc(s: int) -> str:
        k = s // (len(escape("<div><b></b></div>")) + 2)
        return _field("Project", "<div>" * k + "x" + "</div>" * k)

    return _rss_one_item(desc, size)


def deep_xml(size: int = DEFAULT_SIZE) -> bytes:
    """XML elements nested hundreds of thousands deep inside an item."""
    k = (size - 1000) // len("<x></x>")
    return (
        _HEAD
        + "<item><title>Example - Critical - Access bypass - SA-CONTRIB-2026-001</title>"
        + "<x>" * k
        + "</x>" * k
        + "</item>"
        + _TAIL
    ).encode()


def huge_title(size: int = DEFAULT_SIZE) -> bytes:
    """One item whose title is the whole feed."""
    title = _fill("Example - ", "- Critical ", " - SA-CONTRIB-2026-001", size, escaped=False)
    return (_HEAD + _item(title, _field("Project", "Example")) + _TAIL).encode()


def many_psa_dates(size: int = DEFAULT_SIZE) -> bytes:
    """A PSA whose text names a date (and no times) hundreds of thousands of times."""
    desc = _field("Description", _fill("", "February 30, 2026 and ", "", size))
    return (_HEAD + _item("Drupal core - Highly critical - PSA-2026-10-19", desc) + _TAIL).encode()


def many_items(size: int = DEFAULT_SIZE) -> bytes:
    """Tens of thousands of small, valid, distinct advisories."""
    out: list[str] = [_HEAD]
    used = len(_HEAD) + len(_TAIL)
    n = 0
    while True:
        n += 1
        item = _item(
            f"Example - Critical - Access bypass - SA-CONTRIB-2026-{n:06d}",
            _field("Project machine name", "example"),
            n,
        )
        if used + len(item) > size:
            break
        out.append(item)
        used += len(item)
    out.append(_TAIL)
    return "".join(out).encode()


def fields_at_the_limits(size: int = DEFAULT_SIZE) -> bytes:
    """Valid items whose long fields are as long as the parser accepts, full of unclosed
    ``<``, ``<strong>``, ``<a`` and dates: the slow paths, without tripping a size limit."""
    room = FIELD_CHARS - 200
    solution = ("<strong><a x=" + "<" * 40 + " ")[:64] * (room // 64)
    words = ("February 30, 2026 " * (room // 18))[:room]
    out: list[str] = [_HEAD]
    used = len(_HEAD) + len(_TAIL)
    n = 0
    while True:
        n += 1
        desc = (
            _field("Project", '<a href="/project/example">Example</a>')
            + _field("Project machine name", "example")
            + _field("Description", words)
            + _field("Solution", solution)
        )
        item = _item(f"Example - Critical - Access bypass - SA-CONTRIB-2026-{n:03d}", desc, n)
        if used + len(item) > size and n > 1:
            break
        out.append(item)
        used += len(item)
    out.append(_TAIL)
    return "".join(out).encode()


def json_deep(size: int = DEFAULT_SIZE) -> bytes:
    """psa.json that is ``[`` nested to the end (RecursionError in a naive json.loads)."""
    return b"[" * size


def json_many_items(size: int = DEFAULT_SIZE) -> bytes:
    """psa.json with tens of thousands of items."""
    item = {
        "title": "Example - Critical - Access bypass - SA-CONTRIB-2026-001",
        "project": "example",
        "type": "module",
        "is_psa": "0",
        "insecure": ["1.0.0"],
        "pubDate": "Wed, 21 Oct 2026 17:00:00 +0000",
        "link": "https://www.drupal.org/sa-contrib-2026-001",
    }
    one = json.dumps(item)
    k = size // (len(one) + 1)
    return ("[" + ",".join([one] * k) + "]").encode()


def json_huge_fields(size: int = DEFAULT_SIZE) -> bytes:
    """psa.json with one item whose title and insecure list fill the document."""
    item = {
        "title": "<" * (size // 2) + " - SA-CONTRIB-2026-001",
        "project": "example",
        "insecure": ["1.0.0"] * (size // 20),
        "pubDate": "Wed, 21 Oct 2026 17:00:00 +0000",
    }
    return json.dumps([item]).encode()


FEEDS: dict[str, Callable[[int], bytes]] = {
    "project-of-lt": project_of_lt,
    "unclosed-labels": unclosed_labels,
    "unclosed-strong-and-links": unclosed_strong,
    "block-tags": block_tags,
    "deep-html": deep_html,
    "deep-xml": deep_xml,
    "huge-title": huge_title,
    "many-psa-dates": many_psa_dates,
    "many-items": many_items,
    "fields-at-the-limits": fields_at_the_limits,
    "json-deep": json_deep,
    "json-many-items": json_many_items,
    "json-huge-fields": json_huge_fields,
}
"""Every hostile feed shape, by name (for parametrized tests and the benchmark)."""


def composer_lock_of_brackets(count: int = 200_000) -> bytes:
    """A composer.lock that is ``count`` opening brackets (RecursionError in json.loads)."""
    return b"[" * count
