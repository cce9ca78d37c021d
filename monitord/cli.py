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
import os
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
    """The ``--config DIR`` option every command shares (resolved by :func:`choose_config_dir`)."""
    parser.add_argument(
        "--config",
        metavar="DIR",
        default=None,
        help="configuration directory (default: $MONITORD_CONFIG, else /etc/monitord if it "
        "exists, else ./config)",
    )


def choose_config_dir(args: argparse.Namespace) -> None:
    """Resolve ``--config`` once for every command, the same way (the flag, then
    ``$MONITORD_CONFIG``, then /etc/monitord, then ./config), and say on stderr which
    directory was taken when the flag was not given: a command that quietly fell back to
    built-in defaults (a calendar without the agency's closure days) gives wrong answers.

    Sets ``args.config`` to the directory and ``args.config_implicit`` to whether it was
    chosen here. When nothing is found, ``args.config`` stays None and the command decides
    (most report the error; the calendar commands use the built-in calendar and say so).
    """
    from monitord.config.loader import CONFIG_DIR_ENV, resolve_config_dir

    if not hasattr(args, "config"):
        return
    args.config_implicit = not args.config
    if args.config:
        return
    try:
        directory = resolve_config_dir(None)
    except MonitordError:
        return
    how = (
        f"from ${CONFIG_DIR_ENV}"
        if os.environ.get(CONFIG_DIR_ENV)
        else "the first of /etc/monitord and ./config that exists"
    )
    print(f"monitord: configuration {directory} ({how}; --config DIR to choose)", file=sys.stderr)
    args.config = str(directory)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        choose_config_dir(args)
        return int(func(args))
    except MonitordError as exc:
        print(f"monitord: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
