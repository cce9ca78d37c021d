"""``monitord hours statement CLIENT [--month YYYY-MM] [--json|--csv]``: a month's statement.

The open month shows running figures (``closed: false``): what the month would carry forward
and charge if it ended now. ``--csv`` is the invoice lines of the month's charges, for an
accounting package (docs/contracts.md, "Invoice export").
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal
from zoneinfo import ZoneInfo

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.ledger import Statement, money, percent, statement_json, to_pence
from monitord.contracts.models import Month
from monitord.errors import MonitordError

GROUP = "hours"

CSV_COLUMNS = (
    "invoice_date",
    "client",
    "client_name",
    "month",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "net",
    "vat_rate",
    "currency",
)


def invoice_lines(st: Statement, client_name: str) -> list[dict[str, str]]:
    """The statement's charges as invoice lines: whole days at the day rate, then the rest at
    the hourly rate (capped at a day rate). Their nets add up to the statement's net; VAT is
    the statement's rate, worked out on the invoice by the accounting package."""
    f = st.figures
    if not f.charged:
        return []
    base = {
        "invoice_date": st.month.next().first_day().isoformat(),
        "client": st.client,
        "client_name": client_name,
        "month": str(st.month),
        "vat_rate": percent(st.vat_rate),
        "currency": st.currency,
    }
    lines: list[dict[str, str]] = []
    rest_net = f.net - f.full_days * st.day_rate
    if f.full_days:
        lines.append(
            base
            | {
                "description": f"Support beyond the allowance in {st.month}: whole days",
                "quantity": str(f.full_days),
                "unit": "day",
                "unit_price": money(st.day_rate),
                "net": money(f.full_days * st.day_rate),
            }
        )
    if rest_net:
        rest = f.rest
        capped = rest_net == to_pence(st.day_rate) and rest_net < to_pence(
            Decimal(rest) * st.hourly_rate / 60
        )
        lines.append(
            base
            | {
                "description": (
                    f"Support beyond the allowance in {st.month}: {hc.fmt_minutes(rest)} at "
                    f"{money(st.hourly_rate)}/h" + (", capped at the day rate" if capped else "")
                ),
                "quantity": "1",
                "unit": "item",
                "unit_price": money(rest_net),
                "net": money(rest_net),
            }
        )
    return lines


def text(st: Statement, client_name: str, zone: ZoneInfo) -> str:
    f = st.figures
    state = (
        f"closed {hc.local(st.as_of, zone)}"
        if st.closed
        else f"open: running figures as of {hc.local(st.as_of, zone)}"
    )
    rows = [
        ("allowance", f.allowance),
        ("brought forward", f.brought_forward),
        ("available", f.available),
        ("used", f.used),
        ("remaining", f.remaining),
        ("carried forward", f.carried_forward),
        ("charged", f.charged),
    ]
    out = [f"{client_name} ({st.client}), {st.month}, {state}"]
    out += [f"  {label:<16}{hc.fmt_minutes(v):>10}" for label, v in rows]
    if f.charged:
        out.append(
            f"  {st.currency} {money(f.net)} + VAT {money(f.vat)} = {money(f.gross)}"
            f" ({f.full_days} day(s) at {money(st.day_rate)}, the rest at "
            f"{money(st.hourly_rate)}/h)"
        )
    elif f.overuse:
        out.append(f"  {hc.fmt_minutes(f.overuse)} over: deducted from next month, not charged")
    out.append("")
    if not st.lines:
        out.append("no entries")
    for ln in st.lines:
        day = ln.at.astimezone(zone).date().isoformat()
        what = " ".join(x for x in (ln.ticket or "", ln.note) if x)
        if ln.adjustment:
            what = f"adjustment ({ln.adjustment} entry of {day}) {what}".rstrip()
        out.append(
            f"  {day}  {hc.fmt_minutes(ln.minutes):>9}  {ln.person or '-':<12}  {what}  "
            f"[{ln.source}:{ln.source_id}]"
        )
    return "\n".join(out)


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    with hc.open_hours(args.config) as h:
        client, _terms = h.client(args.client)
        month = hc.month_arg(args.month, Month.of(now, h.zone))
        if month > Month.of(now, h.zone):
            raise MonitordError(
                f"{month} has not begun; the current month is {Month.of(now, h.zone)}"
            )
        st = h.statement(args.client, month, now)
        if args.json:
            print(json.dumps(statement_json(st, h.zone), indent=2))
        elif args.csv:
            writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(invoice_lines(st, client.name))
        else:
            print(text(st, client.name, h.zone))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "statement",
        help="a client's month: allowance, used, remaining, carried forward, charges, entries",
        description=(
            "A client's statement for a month (default: this month). An open month shows "
            "running figures; a closed one, the statement as issued."
        ),
    )
    parser.add_argument("client", metavar="CLIENT", help="the client's id")
    parser.add_argument("--month", metavar="YYYY-MM", help="the month (default: this month)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (amounts as strings)")
    fmt.add_argument("--csv", action="store_true", help="invoice lines of the charges, as CSV")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
