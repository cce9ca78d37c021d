"""``monitord state forget-node ID [--config DIR]``: remove a retired node of a cluster (several
nodes on one PostgreSQL store): its heartbeat row, so ``monitord status`` stops listing it as
SILENT, and its per-check results. Refused while a daemon runs as that node."""

from __future__ import annotations

import argparse
import asyncio

from monitord.cli import add_config_argument
from monitord.errors import MonitordError

GROUP = "state"
GROUP_HELP = "the state store: copy it to PostgreSQL, forget a retired node"


def handler(args: argparse.Namespace) -> int:
    from monitord.config import load_config, resolve_config_dir
    from monitord.notify.plugins import NOTIFIER_TYPES
    from monitord.store.postgres import PostgresStore

    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    url = config.main.state.url
    if url is None:
        raise MonitordError(
            "forget-node is for several nodes on one PostgreSQL store (state.url); this "
            "configuration's store is the SQLite file, which has one node"
        )

    async def run() -> int:
        store = PostgresStore(url)
        await store.open()
        try:
            return await store.forget_node(args.node)
        finally:
            await store.close()

    removed = asyncio.run(run())
    print(f"forgot node {args.node}: its heartbeat and {removed} check results")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "forget-node",
        help="remove a retired node of a cluster (its heartbeat and results); refused while "
        "it runs",
    )
    parser.add_argument("node", metavar="ID", help="the node's id, as `monitord status` lists it")
    add_config_argument(parser)
    parser.set_defaults(func=handler)
