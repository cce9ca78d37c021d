"""Parse cost of a drupal.org-sized security feed: feedparser vs monitord.drupal.feeds.parse_rss.

Builds a 50-item, ~260 KB RSS feed from the test fixtures (items repeated with fresh ids and a
realistic description paragraph block, as drupal.org's items carry), then times, in CPU time:

* feedparser.parse (its default, HTML sanitising on) and with sanitize_html=False;
* xml.etree.ElementTree.fromstring alone (the floor for any XML-based parser);
* monitord's parse_rss (defusedxml + regex field extraction).

Run: .venv/bin/python bench/bench_feed_parse.py [--items 50] [--runs 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser

from monitord.drupal.feeds import parse_rss

FIXTURE = Path(__file__).resolve().parents[1] / "tests/drupal/fixtures/feeds/security-all.rss.xml"

PARAGRAPH = (
    "<p>This module enables site builders to configure widgets. The module doesn't "
    "sufficiently check access for the routes it provides, under the scenario where a user "
    "with a role that has the &quot;administer widgets&quot; permission visits a crafted "
    "link. This vulnerability is mitigated by the fact that an attacker must have a role "
    "with the permission &quot;access widget overview&quot;.</p>\n"
)


def build_feed(items: int) -> bytes:
    text = FIXTURE.read_text()
    head, rest = text.split("<item>", 1)
    good = [
        "<item>" + chunk.split("</item>", 1)[0] + "</item>"
        for chunk in ("<item>" + rest).split("<item>")[1:]
        if "not-an-id" not in chunk and "Broken Score" not in chunk
    ]
    # ~2.5 KB of description per item, the way drupal.org's items carry it (escaped once more)
    description = (
        '<div class="field field-name-field-sa-description field-type-text-long '
        'field-label-above"><div class="field-label">Description:&nbsp;</div>'
        '<div class="field-items"><div class="field-item even">'
        + PARAGRAPH * 5
        + "</div></div></div>"
    )
    extra = escape(description, {'"': "&quot;"})
    out = []
    for n in range(items):
        item = good[n % len(good)]
        item = re.sub(r"(SA-(?:CORE|CONTRIB)-\d{4}-)\d+", rf"\g<1>{500 + n}", item)
        item = item.replace("</description>", extra + "</description>", 1)
        out.append(item)
    return (head + "\n".join(out) + "\n  </channel>\n</rss>\n").encode()


def cpu_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    data = build_feed(args.items)
    result = parse_rss(data)
    assert len(result.advisories) == args.items and not result.errors, result.errors
    print(f"feed: {args.items} items, {len(data) / 1024:.0f} KiB; CPU ms, median (min)")
    slow_runs = max(3, args.runs // 5)
    rows = [
        ("feedparser (sanitising on)", lambda: feedparser.parse(data), slow_runs),
        (
            "feedparser (sanitize_html=False)",
            lambda: feedparser.parse(data, sanitize_html=False),
            slow_runs,
        ),
        ("ElementTree.fromstring only", lambda: ET.fromstring(data), args.runs),
        ("monitord parse_rss", lambda: parse_rss(data), args.runs),
    ]
    for name, fn, runs in rows:
        med, low = cpu_ms(fn, runs)
        print(f"  {name:34s} {med:8.1f} ({low:.1f})")


if __name__ == "__main__":
    main()
