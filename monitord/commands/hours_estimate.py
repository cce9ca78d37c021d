"""``monitord hours estimate TICKET DURATION [--client ID]``: how long a ticket's work will
take, before it starts; over the time left this month, the client is asked to approve."""

from __future__ import annotations

import argparse
from datetime import timedelta

from monitord.cli import add_config_argument
from monitord.contracts import cli as hc
from monitord.contracts.models import MAX_MONTHLY_ALLOWANCE, Month
from monitord.durations import parse_duration
from monitord.errors import MonitordError

GROUP = "hours"


def _client_of(h: hc.Hours, ticket: str, given: str | None) -> str:
    """The client a ticket is for: ``--client``, else the client whose entries name it, else
    (Jira) the client linked to the key's project."""
    if given is not None:
        return given
    notifier, _, external = ticket.partition(":")
    for c in h.contract_clients():
        if any(e.ticket == ticket for e in h.store.entries(c.client)):
            return c.client
    configured = h.config.main.notifiers.get(notifier)
    if configured is not None and configured.type == "jira":
        project = external.rsplit("-", 1)[0]
        for c in h.contract_clients():
            if c.contract is not None and c.contract.helpdesk.jira_project == project:
                return c.client
    raise MonitordError(f"no client is known for ticket {ticket}; name it with --client CLIENT")


def _estimate(text: str) -> int:
    """Seconds of an estimate: a duration in whole minutes, up to a month's allowance."""
    try:
        td = parse_duration(text.strip())
    except ValueError:
        td = timedelta(0)
    if td <= timedelta(0) or td.total_seconds() % 60 or td > MAX_MONTHLY_ALLOWANCE:
        raise MonitordError(
            f"{text!r} is not an estimate; write whole minutes up to 744h, such as 3h or 1h30m"
        )
    return int(td.total_seconds())


def handler(args: argparse.Namespace) -> int:
    now = hc.utcnow()
    ticket = args.ticket.strip()
    notifier, sep, external = ticket.partition(":")
    if not sep or not notifier or not external:
        raise MonitordError(
            f"{args.ticket!r} is not a ticket reference; write it as NOTIFIER:ID, such as "
            "jira:ACME-12 (the notifier's name in monitord.yml and the helpdesk's ticket id), "
            "or local:7 for a local ticket"
        )
    seconds = _estimate(args.duration)
    with hc.open_hours(args.config) as h:
        if notifier != "local" and notifier not in h.config.main.notifiers:
            known = ", ".join(sorted(h.config.main.notifiers)) or "none"
            raise MonitordError(
                f"there is no notifier {notifier!r}; name the helpdesk as in monitord.yml "
                f"(notifiers: {known}), or local for a local ticket"
            )
        client = _client_of(h, ticket, args.client)
        _c, terms = h.client(client)
        changed = h.store.set_estimate(ticket, client, seconds, "cli", now)
        this = Month.of(now, h.zone)
        estimate = hc.fmt_minutes(-(-seconds // 60))
        print(f"{ticket} ({client}): estimated at {estimate}" + ("" if changed else " (unchanged)"))
        if this >= terms.start:
            left = h.statement(client, this, now).figures.remaining
            shown = hc.fmt_minutes(max(left, 0))
            if -(-seconds // 60) > left:
                print(
                    f"over the {shown} left in {this}: the running daemon asks the client to "
                    "approve (a comment on the ticket and an e-mail to the hours contacts) "
                    "within a minute, once for this estimate"
                )
            else:
                print(f"within the {shown} left in {this}: no approval needed")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="give a ticket's estimate; over the balance, ask the client to approve",
        description=(
            "Record how long a ticket's work will take, before it starts. TICKET is "
            "NOTIFIER:ID (jira:ACME-12, fd:501, rm:301) or local:N; DURATION is 3h, 1h30m or "
            "1:30. When the estimate exceeds the time the client has left this month, the "
            "daemon comments on the ticket asking the client to approve and e-mails the "
            "contacts with notify: [hours] — once per ticket and estimate."
        ),
    )
    parser.add_argument("ticket", metavar="TICKET", help="NOTIFIER:ID, such as jira:ACME-12")
    parser.add_argument("duration", metavar="DURATION", help="the estimate, e.g. 3h")
    parser.add_argument(
        "--client", metavar="ID", help="the client (found from the ticket if not given)"
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
