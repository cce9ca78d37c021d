"""CPU cost of parsing hostile security feeds (tests/helpers/hostile_drupal.py shapes).

Each shape is built at ``--size`` bytes (default: just under the fetcher's FEED_MAX_BYTES, the
largest body a server can get to the parser) and parsed with ``parse_feed`` in a child process,
timed in CPU seconds with ``time.process_time()``. A child that needs more than ``--limit``
CPU seconds is stopped and shown as ``> limit``.

Run: .venv/bin/python bench/bench_hostile_feed.py [--size BYTES] [--limit SECONDS] [SHAPE ...]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.hostile_drupal import DEFAULT_SIZE, FEEDS


def _child(shape: str, size: int, limit: float, out: mp.SimpleQueue[object]) -> None:
    from monitord.drupal.feeds import parse_feed

    data = FEEDS[shape](size)
    resource.setrlimit(resource.RLIMIT_CPU, (int(limit) + 2, int(limit) + 2))
    start = time.process_time()
    try:
        result = parse_feed(data)
        outcome = f"{len(result.advisories)} advisories, {len(result.errors)} errors"
    except BaseException as exc:  # the benchmark reports whatever happens
        outcome = f"raised {type(exc).__name__}"
    out.put((len(data), time.process_time() - start, outcome))


def run(shape: str, size: int, limit: float) -> str:
    out: mp.SimpleQueue[object] = mp.SimpleQueue()
    proc = mp.Process(target=_child, args=(shape, size, limit, out))
    proc.start()
    proc.join(limit * 4 + 30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if out.empty():
        return f"| {shape} | {size:,} | > {limit:g} (stopped) | - |"
    length, cpu, outcome = out.get()  # type: ignore[misc]
    return f"| {shape} | {length:,} | {cpu:.3f} | {outcome} |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--size", type=int, default=DEFAULT_SIZE)
    p.add_argument("--limit", type=float, default=60.0, help="CPU seconds before a case stops")
    p.add_argument("shapes", nargs="*", default=sorted(FEEDS))
    args = p.parse_args()
    print("| shape | bytes | CPU s | result |")
    print("|---|---|---|---|")
    for shape in args.shapes:
        print(run(shape, args.size, args.limit), flush=True)


if __name__ == "__main__":
    main()
