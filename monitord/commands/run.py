"""``monitord run``: the daemon, until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from monitord.cli import add_config_argument

if TYPE_CHECKING:
    from monitord.daemon import Daemon


def node_argument(text: str) -> str:
    """argparse ``type`` for ``--node``: a valid node id as written (else a usage error)."""
    from monitord.cluster.identity import NodeIdError, resolve_node_arg

    try:
        return resolve_node_arg(text)
    except NodeIdError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--node ")) from exc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the daemon (SIGTERM stops, SIGHUP reloads)",
        description="Run the daemon until SIGTERM; SIGHUP reloads the configuration.",
        epilog=(
            "With several nodes on one PostgreSQL store (state.url), each daemon is a node; its "
            "id is --node, else $MONITORD_NODE, else node.id in monitord.yml, else the host "
            "name. See docs/high-availability.md."
        ),
    )
    add_config_argument(p)
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument(
        "--node",
        metavar="ID",
        type=node_argument,
        default=None,
        help="this node's id with several nodes on one PostgreSQL store (default: "
        "$MONITORD_NODE, else node.id in monitord.yml, else the host name)",
    )
    p.set_defaults(func=handle)


def make_daemon(args: argparse.Namespace) -> Daemon:
    """The daemon ``monitord run`` runs, from its arguments."""
    from monitord.config import resolve_config_dir
    from monitord.daemon import Daemon

    return Daemon(resolve_config_dir(args.config), node=args.node)


def handle(args: argparse.Namespace) -> int:
    from monitord.logsetup import configure_logging

    configure_logging(args.log_level)
    daemon = make_daemon(args)
    asyncio.run(daemon.run())
    return 0
