"""``monitord hours import FILE.csv [--source NAME]``: time entries from a CSV file.

Columns (a header line names them, in any order): ``date, client, duration, ticket, note,
person, id``; ``date``, ``client``, ``duration`` and ``id`` are required in every row. Each row
is keyed by (source, id), so importing the same file again changes nothing and a row whose
values changed updates its entry. Every problem is reported with its line; then nothing is
imported.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.ledger import Terms, TimeEntry
from monitord.contracts.models import Month
from monitord.errors import MonitordError

GROUP = "hours"

COLUMNS = ("date", "client", "duration", "ticket", "note", "person", "id")
REQUIRED = ("date", "client", "duration", "id")

_T = TypeVar("_T")

MAX_IMPORT_ROWS = 100_000
"""Rows in one file at most: years of an agency's time; a bigger file is not a time sheet."""


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitordError(f"cannot read {path}: {exc}; give a UTF-8 CSV file") from None
    with hc.open_hours(args.config) as h:
        entries: list[TimeEntry] = []
        problems: list[str] = []
        reader = csv.DictReader(text.splitlines())
        header = [c.strip().lower() for c in reader.fieldnames or []]
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            what = "; ".join(
                part
                for part in (
                    f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                    f"missing column(s) {', '.join(missing)}" if missing else "",
                )
                if part
            )
            raise MonitordError(
                f"{path}:1: {what} — the header must name the columns {', '.join(COLUMNS)} "
                f"(required: {', '.join(REQUIRED)})"
            )
        reader.fieldnames = header
        terms: dict[str, Terms] = {}
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if len(entries) + len(problems) >= MAX_IMPORT_ROWS:
                raise MonitordError(f"{path}: more than {MAX_IMPORT_ROWS} rows; split the file")
            values = {k: (v or "").strip() for k, v in row.items() if k is not None}
            if not any(values.values()):
                continue
            try:
                entries.append(_entry(h, values, terms, seen, line, args.source, now))
            except MonitordError as exc:
                problems.append(f"{path}:{line}: {exc}")
        if problems:
            for p in problems:
                print(p, file=sys.stderr)
            print(
                f"{len(problems)} problem(s) in {path}; nothing imported — fix them and import "
                "again",
                file=sys.stderr,
            )
            return 1
        counts = h.store.upsert_many(entries, now)
        print(
            f"{path}: {counts['added']} added, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged"
        )
        late = sorted(
            {
                str(Month.of(e.at, h.zone))
                for e in entries
                if Month.of(e.at, h.zone) in h.store.closed(e.client)
            }
        )
        if late:
            print(
                f"entries dated in closed months ({', '.join(late)}) are booked into the open "
                "month as adjustments where they changed anything"
            )
    return 0


def _entry(
    h: hc.Hours,
    values: dict[str, str],
    terms: dict[str, Terms],
    seen: dict[str, int],
    line: int,
    source: str,
    now: datetime,
) -> TimeEntry:
    for col in REQUIRED:
        if not values.get(col):
            raise MonitordError(f"{col}: empty — every row needs {', '.join(REQUIRED)}")

    def column(name: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(values[name])
        except MonitordError as exc:
            raise MonitordError(f"{name}: {exc}") from None

    client = values["client"]
    if client not in terms:
        terms[client] = column("client", lambda c: h.client(c)[1])

    sid = values["id"]
    if sid in seen:
        raise MonitordError(f"id: {sid!r} is also on line {seen[sid]} — give every row its own id")
    seen[sid] = line
    at = column("date", lambda d: hc.parse_at(d, h.zone))
    column("date", lambda _d: hc.check_when(at, terms[client], h.zone, now))
    return TimeEntry(
        source=source,
        source_id=sid,
        client=client,
        at=at,
        seconds=column("duration", hc.parse_entry_duration),
        ticket=values.get("ticket") or None,
        note=values.get("note", ""),
        person=values.get("person") or None,
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import time entries from a CSV file (again: only changes are applied)",
        description=(
            "Import time entries from a CSV file with the columns date, client, duration, "
            "ticket, note, person, id. A row is keyed by its id (within --source): importing "
            "the same file again changes nothing; changed rows update their entries. Prints "
            "how many entries were added, updated and unchanged. Any problem: every one is "
            "printed with its line, and nothing is imported."
        ),
    )
    parser.add_argument("file", metavar="FILE.csv", help="the CSV file (UTF-8, header line first)")
    parser.add_argument(
        "--source",
        metavar="NAME",
        default="csv",
        help="where the ids come from, e.g. the time tracker's name (default: csv); ids are "
        "unique within it",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
