"""What the search index costs a write, and a search its catch-up: the same measurements run, in
the same run and interleaved round by round, against other source trees of aio_tim (e.g. main
before the index was deferred, and the commit before search existed) and this one.

Each tree is measured in a subprocess with that tree first on PYTHONPATH (the `--worker` mode):

- save: `--saves` one-message `LocalStore.save` calls on a file store (WAL, synchronous NORMAL),
  one at a time, CPU (process time) per save and WAL frames per commit;
- import: `insert_many` of `--rows` messages in batches of 10,000, µs per row (wall);
- search (only where the tree has `search_messages`): the first keyword search after that import
  (on this tree it indexes the whole backlog), then the p50 of `--calls` more, one conversation's
  first page of 20, random keywords.

    python benchmarks/bench_search_write.py --tree before=/path/a --tree main=/path/b [--rounds 3]

The current tree is added as "this". Make the other trees with `git archive <commit> | tar -x -C dir`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
T0 = 1_600_000_000
WORDS = [f"w{n:04d}x" for n in range(2000)]


def message(conv_index: int, i: int, rng: random.Random) -> Any:
    from aio_tim.types import Message, TextElem

    content = " ".join(rng.choice(WORDS) for _ in range(8))
    return Message(
        elem_array=[TextElem(content=content)],
        sender="alice",
        server_time=T0 + i // 20,
        seq=i + 1,
        rand=(i * 2654435761 + conv_index) % 2**32,
        msg_id=f"{conv_index}-{i}",
    )


def wal_frames(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return max(0, (wal.stat().st_size - 32) // (4096 + 24)) if wal.exists() else 0


async def measure(folder: Path, saves: int, rows: int, calls: int) -> dict[str, Any]:
    from aio_tim.store import LocalStore

    rng = random.Random(5)
    out: dict[str, Any] = {"module": __import__("aio_tim").__file__}
    async with LocalStore(folder / "save.db") as store:
        msgs = [message(1, i, rng) for i in range(saves)]
        await store.save((1, "warm"), message(2, 0, rng), status=2)
        frames = wal_frames(folder / "save.db")
        for m in msgs[:100]:  # fewer than the writer's checkpoint interval: the WAL only grows
            await store.save((1, "peer"), m, status=2)
        out["frames_per_commit"] = (wal_frames(folder / "save.db") - frames) / 100
        cpu = time.process_time()
        for m in msgs[100:]:
            await store.save((1, "peer"), m, status=2)
        out["save_cpu_us"] = (time.process_time() - cpu) / (saves - 100) * 1e6
    async with LocalStore(folder / "import.db") as store:
        batches = [[message(c, i, rng) for i in range(10_000)] for c in range(rows // 10_000)]
        took = 0.0
        for c, batch in enumerate(batches):
            started = time.perf_counter()
            await store.insert_many((1, f"conv{c}"), batch, status=2)
            took += time.perf_counter() - started
        out["import_us_row"] = took / rows * 1e6
        if hasattr(store, "search_messages"):
            out.update(await measure_search(store, calls, rng))
    return out


async def measure_search(store: Any, calls: int, rng: random.Random) -> dict[str, Any]:
    from aio_tim.seams import SearchQuery

    started = time.perf_counter()
    await store.search_messages(SearchQuery(keywords=(rng.choice(WORDS),), conv=(1, "conv0"), limit=20))
    first = time.perf_counter() - started
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await store.search_messages(SearchQuery(keywords=(rng.choice(WORDS),), conv=(1, "conv0"), limit=20))
        samples.append(time.perf_counter() - started)
    return {"first_search_ms": first * 1000, "search_p50_ms": statistics.median(samples) * 1000}


def run_worker(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, __file__, "--worker", "--saves", str(args.saves), "--rows", str(args.rows)]
    command += ["--calls", str(args.calls)] + (["--dir", args.dir] if args.dir else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["module"].startswith(str(tree)):
        raise SystemExit(f"{tree}: imported {result['module']} instead")
    return result


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def report(trees: dict[str, Path], runs: dict[str, list[dict[str, Any]]]) -> None:
    keys = [
        ("save_cpu_us", "save, CPU µs per message"),
        ("frames_per_commit", "save, WAL frames per commit"),
        ("import_us_row", "insert_many, µs per row"),
        ("first_search_ms", "first search after the import, ms"),
        ("search_p50_ms", "search p50 (then), ms"),
    ]
    print(f"{'':38}" + "".join(f"{name:>12}" for name in trees) + "   this / each other")
    for key, label in keys:
        values = {name: median_of(runs[name], key) for name in trees}
        cells = "".join(f"{v:12.2f}" if v is not None else f"{'-':>12}" for v in values.values())
        mine = values["this"]
        ratios = ", ".join(
            f"{mine / v:.2f}x vs {name}"
            for name, v in values.items()
            if name != "this" and v and mine is not None
        )
        print(f"{label:<38}{cells}   {ratios}")


def main(args: argparse.Namespace) -> None:
    if args.worker:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            print(json.dumps(asyncio.run(measure(Path(tmp), args.saves, args.rows, args.calls))))
        return
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {platform.machine()}, "
        f"{os.cpu_count()} cpus; {shlex.join(sys.argv)}"
    )
    trees = {name: Path(path).resolve() for name, path in (t.split("=", 1) for t in args.tree)}
    trees["this"] = HERE
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.rounds):  # interleaved: machine load hits every tree alike
        for name, tree in trees.items():
            runs[name].append(run_worker(tree, args))
    report(trees, runs)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of another source tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--saves", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--dir", default=None, help="where the temporary stores go (default: the system's)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
