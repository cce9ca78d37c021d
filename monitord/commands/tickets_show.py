"""``monitord tickets show ID [--json] [--config DIR]``: one local ticket with its history."""

from __future__ import annotations

import argparse
import json
from zoneinfo import ZoneInfo

from monitord.cli import add_config_argument
from monitord.commands.tickets_list import local, note_json, ticket_json, with_store
from monitord.errors import MonitordError
from monitord.store.base import LocalTicketRow, TicketNoteRow, TicketStore

GROUP = "tickets"


def not_found(ticket_id: int) -> MonitordError:
    return MonitordError(
        f"there is no ticket {ticket_id} — `monitord tickets list` shows the tickets and ids"
    )


def render_ticket(t: LocalTicketRow, notes: list[TicketNoteRow], tz: ZoneInfo) -> str:
    """A ticket as text: a header of facts, its body, then its history (pure)."""
    facts = [
        ("Ticket", f"#{t.id} {t.title}"),
        ("Status", t.status + (f" by {t.acked_by}" if t.status == "acked" and t.acked_by else "")),
        ("Priority", t.priority),
        ("Client", t.client),
        ("Site", t.site or "-"),
        ("Kind", t.kind),
        ("Opened", local(t.opened_at, tz)),
        ("Respond by", local(t.respond_by, tz)),
    ]
    if t.acked_at:
        facts.append(("Acknowledged", local(t.acked_at, tz)))
    if t.resolved_at:
        facts.append(("Resolved", local(t.resolved_at, tz)))
    if t.reminded_at:
        facts.append(("Reminded", local(t.reminded_at, tz)))
    width = max(len(k) for k, _ in facts) + 1
    out = [f"{(k + ':').ljust(width)} {v}" for k, v in facts]
    out += ["", t.body.rstrip(), "", "History:"]
    for n in notes:
        by = f" ({n.by})" if n.by else ""
        first, *rest = n.text.strip().splitlines() or [""]
        out.append(f"  {local(n.at, tz)}  {n.kind}{by}: {first}")
        out += [f"      {line}" for line in rest]
    return "\n".join(out)


def handler(args: argparse.Namespace) -> int:
    async def work(store: TicketStore, tz: ZoneInfo) -> int:
        found = await store.local_ticket(args.id)
        if found is None:
            raise not_found(args.id)
        ticket, notes = found
        if args.json:
            print(json.dumps({**ticket_json(ticket), "body": ticket.body,
                              "notes": [note_json(n) for n in notes]}, indent=2))  # fmt: skip
        else:
            print(render_ticket(ticket, notes, tz))
        return 0

    return with_store(args.config, work)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("show", help="show one local ticket with its history")
    parser.add_argument("id", metavar="ID", type=int, help="the ticket's number")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
