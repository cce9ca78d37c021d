"""``monitord check-config [--config DIR]``: validate the configuration, print every problem."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monitord.cli import add_config_argument
from monitord.cluster.config_warnings import cluster_warnings
from monitord.config.loader import load_config, resolve_config_dir, summary
from monitord.config.models import Config
from monitord.errors import ConfigError
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.routing import paging_warnings


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def handler(args: argparse.Namespace) -> int:
    directory = resolve_config_dir(args.config)
    try:
        config = load_config(directory, notifier_types=NOTIFIER_TYPES)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(f"{_plural(len(exc.issues), 'problem')} in {directory}", file=sys.stderr)
        return 1
    clients, sites, checks = summary(config)
    for warning in paging_warnings(config):
        print(f"warning: monitord.yml: {warning}", file=sys.stderr)
    for warning in cluster_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"config OK: {_plural(clients, 'client')}, {_plural(sites, 'site')}, "
        f"{_plural(checks, 'check')} ({directory})"
    )
    if config.main.state.url is not None:
        # Several nodes on PostgreSQL: which node a daemon started here would be.
        import os
        import socket

        from monitord.cluster.identity import resolve_node

        node = resolve_node(None, os.environ, config.main, socket.gethostname())
        source = f", probes from {node.source_address}" if node.source_address else ""
        print(f"node here: {node.id} (from {node.chosen_by}){source}")
    _warn_fd_limit(config)
    return 0


def _warn_fd_limit(config: Config) -> None:
    """Say when the open-file limit the daemon could reach here is below what it needs."""
    from monitord.daemon import MAX_CONCURRENT_PROBES
    from monitord.fds import current_fd_limit, limit_warning, needed_fds, probe_checks

    checks = probe_checks(config)
    need = needed_fds(checks, config.main.http.max_connections, MAX_CONCURRENT_PROBES)
    warning = limit_warning(*current_fd_limit(), checks, need)
    if warning is not None:
        print(warning, file=sys.stderr)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate the configuration and list every problem",
        description=(
            "Read monitord.yml and clients/*.yml, print every problem as "
            "FILE:LINE:COL: path: problem — fix, and exit 1; or print a one-line summary."
        ),
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
