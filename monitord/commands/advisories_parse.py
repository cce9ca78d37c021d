"""``monitord advisories parse FILE_OR_URL [--json]``: the advisories in a feed.

RSS or psa.json, from a file or an http(s) URL. Prints a table (id, kind, project, risk and
score, affected versions) or, with ``--json``, one JSON object per line. Problems with single
items go to stderr; the exit status is 1 when there were any, or when nothing could be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from monitord.drupal.advisory import Advisory
from monitord.drupal.feeds import FeedParseResult, parse_feed
from monitord.drupal.fetch import FeedFetcher, FetchResult

GROUP = "advisories"
GROUP_HELP = "Drupal security advisories: parse feeds, match sites, check versions"

COLUMN_MAX = 40
"""Widest a table column gets; longer project names are cut with an ellipsis."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "parse",
        help="list the advisories in a drupal.org security feed (file or URL)",
        description="Parse a drupal.org security RSS feed or psa.json and list its advisories.",
    )
    p.add_argument("source", metavar="FILE_OR_URL", help="a feed file, or an http(s) URL")
    p.add_argument("--json", action="store_true", help="one JSON object per advisory and line")
    p.set_defaults(func=handler)


async def fetch_once(url: str) -> FetchResult:
    """One unconditional fetch with the daemon's limits (timeout, byte cap, content check)."""
    memory: dict[str, str] = {}

    async def get_meta(key: str) -> str | None:
        return memory.get(key)

    async def set_meta(key: str, value: str) -> None:
        memory[key] = value

    async with aiohttp.ClientSession() as session:
        return await FeedFetcher(session, get_meta, set_meta).fetch(url)


def _cut(text: str, width: int = COLUMN_MAX) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(advisories: Sequence[Advisory]) -> str:
    """Aligned plain-text table: ID, KIND, PROJECT, RISK, AFFECTED."""
    header = ("ID", "KIND", "PROJECT", "RISK", "AFFECTED")
    rows = [header]
    for a in advisories:
        affected = a.affected or (", ".join(a.insecure_versions) if a.insecure_versions else "-")
        if a.kind == "psa" and a.window_start and a.window_end:
            affected = (
                f"window {a.window_start:%Y-%m-%d %H:%M}–{a.window_end:%H:%M} UTC"
                if a.window_start.date() == a.window_end.date()
                else f"window {a.window_start:%Y-%m-%d %H:%M}–{a.window_end:%Y-%m-%d %H:%M} UTC"
            )
        project = a.project or a.machine_name or "-"
        risk = a.risk_text if a.risk_label or a.score is not None else "-"
        if a.highly_critical:
            risk += " !"
        rows.append((a.id, a.kind, _cut(project), risk, _cut(affected, 60)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(lines)


def _read(source: str) -> tuple[bytes | None, str | None]:
    if source.startswith(("http://", "https://")):
        result = asyncio.run(fetch_once(source))
        if result.status != "new" or result.body is None:
            return None, result.error or "the server answered 304 Not Modified to a plain GET"
        return result.body, None
    path = Path(source)
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}; give a feed file or a URL"


def handler(args: argparse.Namespace) -> int:
    data, problem = _read(args.source)
    if data is None:
        print(f"monitord: {problem}", file=sys.stderr)
        return 1
    result: FeedParseResult = parse_feed(data)
    if args.json:
        for a in result.advisories:
            print(json.dumps(a.to_json(), ensure_ascii=False))
    elif result.advisories:
        print(format_table(result.advisories))
    for err in result.errors:
        print(f"monitord: {err}", file=sys.stderr)
    if not args.json:
        print(
            f"{len(result.advisories)} advisories, {len(result.errors)} problems",
            file=sys.stderr,
        )
    return 1 if result.errors else 0
