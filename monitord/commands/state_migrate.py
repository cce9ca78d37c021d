"""``monitord state migrate --to URL [--from PATH] [--config DIR]``: copy an SQLite store (check
states, results, incidents, the outbox with its sent history, advisories, decisions, the
patch-day queue, tickets with their notes and references, meta, the hours ledger, the uptime
history and the reports sent) into an empty PostgreSQL database, in one transaction. Then set ``state: {url: …}`` in monitord.yml and start the daemon."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from monitord.cli import add_config_argument
from monitord.clock import utcnow
from monitord.errors import MonitordError

GROUP = "state"
GROUP_HELP = "the state store: copy it to PostgreSQL, forget a retired node"

URL_ENV_HINT = "write the password as $PGPASSWORD in the environment, not on the command line"


def _source(args: argparse.Namespace) -> Path:
    if args.from_ is not None:
        return Path(args.from_)
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES

    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    return config.state_path()


def _url(text: str) -> str:
    """``text`` if it is a PostgreSQL database URL (without a password, the driver reads
    $PGPASSWORD or ~/.pgpass)."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise MonitordError(
            f"--to {text.split('@')[-1]!r} is not a PostgreSQL database URL; write it as "
            "postgresql://monitord@db.example/monitord (" + URL_ENV_HINT + ")"
        )
    return text


def handler(args: argparse.Namespace) -> int:
    from monitord.store.copy import copy_sqlite_to_postgres

    source = _source(args)
    url = _url(args.to)
    copied = asyncio.run(copy_sqlite_to_postgres(source, url, utcnow()))
    total = sum(copied.rows.values())
    print(f"copied {total} rows from {source} into PostgreSQL:")
    for table, n in copied.rows.items():
        print(f"  {table:18} {n}")
    print('next: set  state: {url: "postgresql://…"}  in monitord.yml, then start monitord')
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate", help="copy the SQLite store into an empty PostgreSQL database"
    )
    parser.add_argument(
        "--to",
        metavar="URL",
        required=True,
        help="the PostgreSQL database, postgresql://USER@HOST/DB (the password from $PGPASSWORD)",
    )
    parser.add_argument(
        "--from",
        dest="from_",
        metavar="PATH",
        help="the SQLite store to copy (default: state.path of the configuration)",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
