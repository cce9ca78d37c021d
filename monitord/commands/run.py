"""``monitord run``: the daemon, until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from monitord.cli import add_config_argument


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon (SIGTERM stops, SIGHUP reloads)")
    add_config_argument(p)
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from monitord.config import resolve_config_dir
    from monitord.daemon import Daemon
    from monitord.logsetup import configure_logging

    configure_logging(args.log_level)
    daemon = Daemon(resolve_config_dir(args.config))
    asyncio.run(daemon.run())
    return 0
