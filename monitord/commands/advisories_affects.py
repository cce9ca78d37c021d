"""``monitord advisories affects VERSION CONSTRAINT``: does a version fall in a constraint?

Prints ``affected`` or ``not affected`` (exit 0 either way); a bad version or constraint is
``error: …`` on stderr with exit 2. With ``--batch`` it reads ``VERSION<TAB>CONSTRAINT`` lines
on stdin and prints one answer per line, ``error: …`` for a bad line, and goes on (exit 0).
Versions may be written the Composer way (``10.3.1``) or the drupal.org way (``8.x-1.5``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from monitord.drupal.versions import affects
from monitord.errors import VersionError

GROUP = "advisories"
GROUP_HELP = "Drupal security advisories: parse feeds, match sites, check versions"

MAX_BATCH_LINE = 10_000
"""Characters of one --batch line we read; a real line is under 400 (version, tab, constraint)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "affects",
        help="does VERSION satisfy a Composer CONSTRAINT? (affected / not affected)",
        description=(
            "Print 'affected' when VERSION satisfies the Composer CONSTRAINT drupal.org wrote "
            "(e.g. '<10.2.11 || >=10.3.0 <10.3.9'), else 'not affected'."
        ),
    )
    p.add_argument("version", nargs="?", metavar="VERSION", help="e.g. 10.3.1 or 8.x-1.5")
    p.add_argument("constraint", nargs="?", metavar="CONSTRAINT", help="e.g. '^10.2 <10.2.11'")
    p.add_argument(
        "--batch",
        action="store_true",
        help="read VERSION<TAB>CONSTRAINT lines on stdin, print one answer per line",
    )
    p.set_defaults(func=handle)


def answer(version: str, constraint: str) -> str:
    """``affected`` or ``not affected``; raises VersionError for a bad input."""
    return "affected" if affects(version, constraint) else "not affected"


def run_batch(lines: TextIO, out: TextIO) -> None:
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if len(line) > MAX_BATCH_LINE:
            print(f"error: line {number}: longer than {MAX_BATCH_LINE} characters", file=out)
            continue
        version, tab, constraint = line.partition("\t")
        if not tab:
            print(f"error: line {number}: expected VERSION<TAB>CONSTRAINT", file=out)
            continue
        try:
            print(answer(version, constraint), file=out)
        except VersionError as exc:
            print(f"error: line {number}: {exc}", file=out)
        out.flush()


def handle(args: argparse.Namespace) -> int:
    if args.batch:
        if args.version is not None:
            print("error: --batch reads stdin; give no VERSION or CONSTRAINT", file=sys.stderr)
            return 2
        run_batch(sys.stdin, sys.stdout)
        return 0
    if args.version is None or args.constraint is None:
        print(
            "error: give VERSION and CONSTRAINT, e.g. monitord advisories affects 10.3.1 "
            "'<10.3.9', or use --batch",
            file=sys.stderr,
        )
        return 2
    try:
        print(answer(args.version, args.constraint))
    except VersionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
