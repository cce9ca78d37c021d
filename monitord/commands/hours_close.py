"""``monitord hours close [--month YYYY-MM] [--client ID]``: issue the statements of ended
months. Months close in order, so earlier open months are closed first; an issued statement
never changes (later changes to its entries are booked into the open month)."""

from __future__ import annotations

import argparse

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.closing import close_through
from monitord.contracts.models import Month
from monitord.errors import MonitordError

GROUP = "hours"


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    with hc.open_hours(args.config) as h:
        last = Month.of(now, h.zone).prev()
        month = hc.month_arg(args.month, last)
        if month > last:
            raise MonitordError(
                f"{month} has not ended; the last month that can be closed is {last}"
            )
        ids = [args.client] if args.client else [c.client for c in h.contract_clients()]
        for cid in ids:
            _client, terms = h.client(cid)
            if month < terms.start:
                print(f"{cid}: contract starts {terms.start}, nothing to close")
                continue
            closed = h.store.closed(cid)
            if month in closed:
                print(f"{cid}: {month} was already closed {hc.local(closed[month].as_of, h.zone)}")
                continue
            for st in close_through(h.store, cid, terms, month, now, h.zone):
                f = st.figures
                charge = (
                    f", charged {hc.fmt_minutes(f.charged)}: {st.currency} {f.gross} incl. VAT"
                    if f.charged
                    else ""
                )
                print(
                    f"{cid}: closed {st.month}: used {hc.fmt_minutes(f.used)} of "
                    f"{hc.fmt_minutes(f.available)}, carried forward "
                    f"{hc.fmt_minutes(f.carried_forward)}{charge}"
                )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "close",
        help="issue the statements of ended months (they never change afterwards)",
        description=(
            "Close a month (default: last month) for every contract client, or one: its "
            "statement is issued and kept as it is. Earlier months still open are closed "
            "first, in order. Entries that arrive later for a closed month are booked into the "
            "open month as adjustments."
        ),
    )
    parser.add_argument(
        "--month", metavar="YYYY-MM", help="the month to close (default: last month)"
    )
    parser.add_argument("--client", metavar="ID", help="only this client")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
