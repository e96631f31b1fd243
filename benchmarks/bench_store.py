"""LocalStore benchmark: bulk import throughput and page latency on a realistic history.

Fills a file store with `--rows` messages over `--convs` conversations, one of them hot (half the rows),
and compares against raw `sqlite3` on a same-shape table (same schema, pragmas and batches) measured in
the same run. The two are interleaved batch by batch and call by call, so that load from other
processes on the machine hits both alike.

- import: `insert_many` (Message Structs in, JSON encoding included) vs `executemany` of pre-encoded rows;
- paging: `--calls` `page(count=20)` calls from random anchors in the hot conversation, each direction,
  vs one raw indexed lookup by locator (and, for reference, the same page query through raw sqlite3).

    python benchmarks/bench_store.py [--rows 1000000] [--convs 100] [--batch 10000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aio_tim.store import LocalStore, locator_key
from aio_tim.store import sql as store_sql
from aio_tim.store.rows import row_of, stamp
from aio_tim.store.schema import MIGRATIONS, statements
from aio_tim.types import ConvType, Message, MsgStatus, TextElem

STATUS = int(MsgStatus.LOCAL_IMPORTED)
T0 = 1_600_000_000
PAGE = 20
LOOKUP = "SELECT json FROM messages WHERE conv_type = ? AND conv_id = ? AND time = ? AND seq = ? AND rand = ?"
Key = tuple[int, int, int]


def conv_of(index: int) -> tuple[int, str]:
    return (int(ConvType.C2C), f"user{index:03d}")


def key_of(conv_index: int, i: int) -> Key:
    """Message i of a conversation: 20 per second, seq = i, a scrambled 32-bit rand."""
    return (T0 + i // 20, i, (i * 2654435761 + conv_index * 40503) % 2**32)


def message(conv_index: int, i: int) -> Message:
    time_, seq, rand = key_of(conv_index, i)
    return Message(
        elem_array=[
            TextElem(content=f"message {i} in conversation {conv_index}: lorem ipsum dolor sit amet")
        ],
        sender="alice" if i % 3 else f"user{conv_index:03d}",
        is_from_self=i % 3 != 0,
        server_time=time_,
        client_time=time_,
        seq=seq,
        rand=rand,
        msg_id=f"{conv_index}-{i}",
    )


def plan(rows: int, convs: int, batch: int) -> Iterator[tuple[int, int, int]]:
    """(conversation, first message, count) batches: conversation 0 is hot with half the rows."""
    hot, cold = rows // 2, rows - rows // 2
    sizes = [hot] + [cold // (convs - 1) + (c < cold % (convs - 1)) for c in range(convs - 1)]
    for conv_index, size in enumerate(sizes):
        for start in range(0, size, batch):
            yield conv_index, start, min(batch, size - start)


# --- the raw baseline ------------------------------------------------------------------------------


def raw_open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for script in MIGRATIONS:
        for statement in statements(script):
            db.execute(statement)
    return db


def raw_insert(db: sqlite3.Connection, rows: list[Any]) -> int:
    db.execute("BEGIN IMMEDIATE")
    inserted = db.executemany(store_sql.INSERT_IGNORE, rows).rowcount
    db.execute("COMMIT")
    return inserted


# --- measuring -------------------------------------------------------------------------------------


def clocked(call: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """(nanoseconds, result) of `call(*args)`."""
    t = time.perf_counter_ns()
    result = call(*args)
    return time.perf_counter_ns() - t, result


async def clocked_async(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """(nanoseconds, result) of `await call(*args, **kwargs)`."""
    t = time.perf_counter_ns()
    result = await call(*args, **kwargs)
    return time.perf_counter_ns() - t, result


def fetch(db: sqlite3.Connection, query: str, params: tuple[Any, ...]) -> list[Any]:
    return db.execute(query, params).fetchall()


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return statistics.median(samples_ns) / 1000, cuts[98] / 1000


def latency_line(label: str, samples_ns: list[int], suffix: str = "") -> float:
    med, p99 = percentiles(samples_ns)
    print(f"  {label:<44} median {med:7.1f} µs  p99 {p99:7.1f} µs{suffix}")
    return med


# --- stages ----------------------------------------------------------------------------------------


async def bench_import(args: argparse.Namespace, store: LocalStore, raw: sqlite3.Connection) -> None:
    print("import (interleaved batch by batch)")
    store_ns = raw_ns = store_n = raw_n = 0
    for conv_index, start, n in plan(args.rows, args.convs, args.batch):
        conv = conv_of(conv_index)
        msgs = [message(conv_index, i) for i in range(start, start + n)]  # the caller's cost: not timed
        rows = [row_of(conv, stamp(m, conv, STATUS, 0), None) for m in msgs]  # pre-encoded: not timed
        took, added = await clocked_async(store.insert_many, conv, msgs, status=STATUS)
        store_ns, store_n = store_ns + took, store_n + added
        took, added = clocked(raw_insert, raw, rows)
        raw_ns, raw_n = raw_ns + took, raw_n + added
    assert raw_n == store_n == args.rows, (raw_n, store_n)
    store_rate, raw_rate = store_n / store_ns * 1e9, raw_n / raw_ns * 1e9
    print(f"  raw sqlite3 executemany (pre-encoded)  {raw_rate:>10,.0f} rows/s  ({raw_ns / 1e9:.2f} s)")
    print(f"  LocalStore.insert_many (encodes JSON)  {store_rate:>10,.0f} rows/s  ({store_ns / 1e9:.2f} s)")
    print(f"  store throughput / raw throughput      {store_rate / raw_rate:10.2f}x   (goal >= 0.9x)")
    again = [message(0, i) for i in range(args.batch)]
    took, added = await clocked_async(store.insert_many, conv_of(0), again, status=STATUS)
    rate = args.batch / took * 1e9
    print(f"  re-import of {args.batch:,} stored rows: {added} inserted, {rate:,.0f} rows/s\n")


async def bench_paging(args: argparse.Namespace, store: LocalStore, raw: sqlite3.Connection) -> None:
    rng = random.Random(args.seed)
    hot, conv = args.rows // 2, conv_of(0)
    anchors = [key_of(0, rng.randrange(PAGE + 1, hot - PAGE - 1)) for _ in range(args.calls)]
    print(f"paging: {args.calls:,} random anchors in the hot conversation, count={PAGE}, interleaved")
    lookups: list[int] = []
    for forward in (False, True):
        name = "forward" if forward else "backward"
        page_sql = store_sql.page_sql(forward=forward, anchored=True)
        raw_pages: list[int] = []
        store_pages: list[int] = []
        for anchor in anchors:
            took, found = clocked(fetch, raw, LOOKUP, (*conv, *anchor))
            lookups.append(took)
            took, rows = clocked(fetch, raw, page_sql, (*conv, *anchor, True, PAGE))
            raw_pages.append(took)
            took, page = await clocked_async(store.page, conv, anchor=anchor, count=PAGE, forward=forward)
            store_pages.append(took)
            assert len(found) == 1 and len(rows) == len(page) == PAGE
        if not forward:
            lookup = latency_line("baseline: raw sqlite3 one indexed lookup", lookups)
        raw_med = latency_line(f"raw sqlite3 same page query, {name}", raw_pages)
        med, _ = percentiles(store_pages)
        latency_line(
            f"LocalStore.page, {name}",
            store_pages,
            f"  = {med / lookup:.1f}x lookup, {med / raw_med:.1f}x raw page (goal: median <= 100 µs)",
        )


async def bench_other(store: LocalStore) -> None:
    print("\nother queries on the hot conversation (one call each, warm)")
    conv = conv_of(0)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "count()": lambda: store.count(conv),
        "unread_count()": lambda: store.unread_count(conv),
        "newest()": lambda: store.newest(conv),
        "next_seq()": lambda: store.next_seq(conv),
    }
    for label, call in calls.items():
        took, result = await clocked_async(call)
        shown = locator_key(result) if isinstance(result, Message) else result
        print(f"  {label:<34} {took / 1e6:9.1f} ms  -> {shown}")


# --- main ------------------------------------------------------------------------------------------


def header(args: argparse.Namespace) -> None:
    print("reproduce: " + shlex.join([sys.executable, *sys.argv]))
    versions = f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    print(f"  {versions}, {os.cpu_count()} CPUs, {platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    shape = f"{args.rows:,} rows, {args.convs} conversations (hot: {args.rows // 2:,})"
    print(f"  {shape}, batches of {args.batch:,}\n")


def prepare(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.sqlite3*"):
        path.unlink()


def remove(folder: Path) -> None:
    for path in folder.glob("*"):
        path.unlink()
    folder.rmdir()


def sizes(folder: Path) -> str:
    return ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in sorted(folder.glob("*.sqlite3")))


async def main(args: argparse.Namespace) -> None:
    header(args)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_store_"))
    prepare(folder)
    raw = raw_open(folder / "raw.sqlite3")
    try:
        async with LocalStore(folder / "store.sqlite3") as store:
            await bench_import(args, store, raw)
            await bench_paging(args, store, raw)
            await bench_other(store)
    finally:
        raw.close()
    print(f"\nfiles: {sizes(folder)}")
    if args.dir:
        print(f"kept in {folder}")
    else:
        remove(folder)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--convs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=1_000, help="page calls per direction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="keep the databases in this folder (default: a temporary one)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
