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
from datetime import datetime
from typing import NoReturn

from monitord import __version__, commands
from monitord.errors import ConfigError, MonitordError


class Parser(argparse.ArgumentParser):
    """argparse with monitord's one way of reporting a usage error: the usage line, then
    ``monitord: error: …`` naming the command, exit status 2 (sub-commands use this class
    too: argparse builds them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        command = self.prog.removeprefix("monitord").strip()
        where = f"{command}: " if command else ""
        help_hint = f"monitord {command} --help" if command else "monitord --help"
        self.exit(2, f"monitord: error: {where}{message} (see {help_hint})\n")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="monitord",
        description="Site monitoring, Drupal security advisories and on-call routing.",
    )
    parser.add_argument("--version", action="version", version=f"monitord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    modules = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name)
    ]
    # A group's help may be set by any of its modules (the first one that sets it).
    group_help: dict[str, str] = {}
    for module in modules:
        group = getattr(module, "GROUP", None)
        text = getattr(module, "GROUP_HELP", None)
        if group is not None and text and group not in group_help:
            group_help[group] = text
    for module in modules:
        group = getattr(module, "GROUP", None)
        if group is None:
            module.register(sub)
            continue
        if group not in groups:
            gp: argparse.ArgumentParser = sub.add_parser(group, help=group_help.get(group))
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


def moment_argument(text: str) -> datetime:
    """argparse ``type`` for a moment (``--at``, ``calendar respond-by``): the forms of
    :mod:`monitord.timeinput`, a naive result being agency time (settle it with
    :func:`monitord.timeinput.in_zone` once the configuration is loaded). A malformed value
    is a usage error (exit 2) with the same wording in every command."""
    from monitord.timeinput import read_moment

    try:
        return read_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def moment_or_date_argument(text: str) -> datetime:
    """As :func:`moment_argument`, and a bare date means its noon (time entries)."""
    from monitord.timeinput import read_moment

    try:
        return read_moment(text, dates=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        where = f" {args.config}" if getattr(args, "config", None) else ""
        print(
            f"monitord: error: {_plural(len(exc.issues), 'problem')} in the configuration"
            f"{where}; fix them (monitord check-config lists them) and run this again",
            file=sys.stderr,
        )
        return 1
    except MonitordError as exc:
        print(f"monitord: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped to `head` (or a closed pager): stop quietly, as other tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
