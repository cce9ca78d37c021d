"""The ``monitord`` command line.

Every module in :mod:`monitord.commands` adds its own sub-command: it defines
``register(subparsers) -> None`` and sets ``func=handler`` on its parser, where
``handler(args) -> int`` returns the exit code. A module that sets ``GROUP = "name"``
registers under ``monitord name …`` instead (``monitord advisories parse``), and may set
``GROUP_HELP``. Nothing here needs editing to add a command.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from monitord import __version__, commands
from monitord.errors import MonitordError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitord",
        description="Site monitoring, Drupal security advisories and on-call routing.",
    )
    parser.add_argument("--version", action="version", version=f"monitord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        group = getattr(module, "GROUP", None)
        if group is None:
            module.register(sub)
            continue
        if group not in groups:
            gp = sub.add_parser(group, help=getattr(module, "GROUP_HELP", None))
            gp.set_defaults(func=lambda _a, _gp=gp: (_gp.print_help(), 2)[1])
            groups[group] = gp.add_subparsers(dest=f"{group}_command", metavar="COMMAND")
        module.register(groups[group])
    return parser


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--config DIR`` option every command shares (default /etc/monitord, then ./config)."""
    parser.add_argument(
        "--config",
        metavar="DIR",
        default=None,
        help="configuration directory (default: /etc/monitord if it exists, else ./config)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except MonitordError as exc:
        print(f"monitord: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
