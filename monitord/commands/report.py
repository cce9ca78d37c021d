"""``monitord report CLIENT --month YYYY-MM [--out DIR] [--json] [--send [--resend]]``: the
monthly client report, previewed or sent.

Without ``--send`` nothing leaves the machine: the report is printed as text (``--json``: as
JSON), and ``--out DIR`` writes ``report.html``, ``report.txt`` and the charts' PNG files
there, the HTML referring to the PNGs beside it. ``--send`` mails it to the client's contacts
with ``notify: [report]`` not yet sent this month's report (``--resend``: to all of them again),
through the e-mail notifier's SMTP path, and records it as the daemon does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitord.cli import add_config_argument, moment_argument
from monitord.contracts.cli import month_arg
from monitord.contracts.models import Month
from monitord.errors import MonitordError
from monitord.timeinput import in_zone

if TYPE_CHECKING:
    from monitord.config.models import ClientConfig, Config


def _load(config_arg: str | None) -> Config:
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES

    config = load_config(resolve_config_dir(config_arg), notifier_types=NOTIFIER_TYPES)
    if not config.state_path().exists():
        raise MonitordError(
            f"there is no state store at {config.state_path()}: the report is made from what "
            "the daemon recorded; start it (monitord run), or check state.path in monitord.yml"
        )
    return config


def handler(args: argparse.Namespace) -> int:
    from monitord.report.data import find_client, gather
    from monitord.report.model import build_report, report_json
    from monitord.report.render import CHARTS, chart_pngs, render

    config = _load(args.config)
    zone = ZoneInfo(config.main.agency.timezone)
    now = in_zone(args.at, zone).astimezone(UTC) if args.at else datetime.now(UTC)
    this = Month.of(now, zone)
    month = month_arg(args.month, this.prev())
    if month > this:
        raise MonitordError(f"{month} has not begun; the current month is {this}")
    client = find_client(config, args.client)
    if args.send:
        return _send(config, client, month, now, resend=args.resend)
    report = build_report(gather(config, client.client, month, now), now)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        rendered = render(report, {n: f"{n}.png" for n in CHARTS})
        (out / "report.html").write_text(rendered.html, encoding="utf-8")
        (out / "report.txt").write_text(rendered.text, encoding="utf-8")
        for name, png in chart_pngs(report).items():
            (out / f"{name}.png").write_bytes(png)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    elif args.out:
        print(
            f"wrote report.html, report.txt, {', '.join(f'{n}.png' for n in CHARTS)} to {args.out}"
        )
    else:
        print(render(report, {n: f"{n}.png" for n in CHARTS}).text, end="")
    return 0


def _send(
    config: Config, client: ClientConfig, month: Month, now: datetime, *, resend: bool
) -> int:
    from monitord.notify.email import EmailNotifier
    from monitord.report.service import recipients, send_report
    from monitord.store.side import open_report_store

    if config.main.smtp is None:
        raise MonitordError("there is no smtp section in monitord.yml: add one to send reports")
    if not recipients(client):
        raise MonitordError(
            f"{client.client} has no contact with `notify: [report]`; add `report` to a "
            "contact's notify list in its client file"
        )
    email = EmailNotifier("email", config.main.smtp, config.main.agency)

    async def go() -> list[str]:
        with open_report_store(config) as store:
            return await send_report(config, email, store, client, month, now, resend=resend)

    sent = asyncio.run(go())
    if sent:
        print(f"sent the {month} report of {client.client} to {', '.join(sent)}")
    else:
        print(
            f"the {month} report of {client.client} was already sent to every report "
            "contact; --resend to send it again"
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="a client's monthly report: preview it (text, --json, --out DIR) or --send it",
        description=(
            "The monthly client report (uptime, incidents, response times, security, "
            "certificates, support hours). Previews by default; --send mails it to the "
            "contacts with notify: [report]."
        ),
    )
    parser.add_argument("client", metavar="CLIENT", help="the client's id")
    parser.add_argument("--month", metavar="YYYY-MM", help="the month (default: last month)")
    parser.add_argument(
        "--out", metavar="DIR", help="write report.html, report.txt and the PNG charts here"
    )
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument("--send", action="store_true", help="mail it to the report contacts")
    parser.add_argument(
        "--resend", action="store_true", help="with --send: also to those already sent it"
    )
    parser.add_argument(
        "--at",
        type=moment_argument,
        metavar="WHEN",
        help="make it as of this moment (default: now)",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
