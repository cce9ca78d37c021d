"""``monitord demo``: a self-contained, offline run for a newcomer."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the daemon for a minute on local demo sites and a local SMTP catcher (offline)",
    )
    p.add_argument("--out", default="demo-out", help="where mail, config, state and log go")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from monitord.demo import run_demo

    summary = asyncio.run(run_demo(Path(args.out), duration=args.duration))
    return 0 if summary["messages"] else 1
