"""Conversation-list benchmark: a page of 100 conversations out of 10^5, through `tim.conv`, against
raw SQL of the same page on the same database, measured in the same run, interleaved.

- conv: `ConvManager.get_conversation_list_by_filter(next_seq, 100)` (the table's page query,
  each row's newest message decoded, the C SDK `ConvInfo`s built);
- store: `SqliteConversations.conv_page(cursor, 100)`: the same without the `ConvInfo`s;
- raw: the same page query on a plain sqlite3 connection, rows fetched, nothing decoded (the
  yardstick); raw keys: only (listed, conv_type, conv_id) of the page, from the index alone.

Pages start at random depths of the list. Each conversation holds one text message (built in
one transaction through the store's own insert path, so the triggers fill the table); a tenth of
them are pinned. Wall time per call, p50 and p90.

    python benchmarks/bench_conv.py [--convs 100000] [--pages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aio_tim.conv import ConvManager
from aio_tim.protocol import Envelope
from aio_tim.store import LocalStore
from aio_tim.store.conversations import PAGE, PAGE_AFTER, SqliteConversations
from aio_tim.store.jobs import InsertRows
from aio_tim.store.rows import row_with
from aio_tim.types import Message, MsgStatus, TextElem

T0 = 1_700_000_000
PAGE_SIZE = 100


def message(i: int) -> Message:
    return Message(
        elem_array=[TextElem(content=f"hello {i}")], sender=f"user{i}", is_from_self=False,
        server_time=T0 + i // 3, seq=i, rand=(i * 2654435761) % 2**32, msg_id=f"{i}_key",
    )  # fmt: skip


async def no_io(*_: Any, **__: Any) -> Envelope:
    raise AssertionError("the benchmark makes no REST call")


async def fill(store: LocalStore, convs: int) -> None:
    rows = (
        row_with((1, f"user{i:06d}"), message(i), int(MsgStatus.SEND_SUCC), i % 2, None) for i in range(convs)
    )
    await store._submit(InsertRows(rows))
    pinned = [(1, f"user{i:06d}") for i in range(0, convs, 10)]
    await SqliteConversations(store).conv_update(pinned, pinned=True)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


def summary(name: str, samples: list[float], base: float) -> str:
    p50 = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1]
    return f"{name:<10} p50 {p50 * 1e6:8.1f} µs   p90 {p90 * 1e6:8.1f} µs   {p50 / base:5.2f}x raw"


async def main(convs: int, pages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        async with LocalStore(path) as store:
            started = time.perf_counter()
            await fill(store, convs)
            print(f"filled {convs} conversations in {time.perf_counter() - started:.1f} s")
            table = SqliteConversations(store)
            manager = ConvManager(no_io, "alice", store, time.time)
            raw = sqlite3.connect(path)
            cursors = [record.cursor async for record in _every(table, PAGE_SIZE)]
            rng = random.Random(7)
            kinds: dict[str, list[float]] = {"conv": [], "store": [], "raw": [], "raw keys": []}
            for _ in range(pages):
                cursor = rng.choice(cursors)
                calls: dict[str, Callable[[], Awaitable[object]]] = {
                    "conv": lambda c=cursor: manager.get_conversation_list_by_filter(c.listed, PAGE_SIZE),
                    "store": lambda c=cursor: table.conv_page(c, PAGE_SIZE),
                    "raw": lambda c=cursor: _raw(raw, PAGE_AFTER, (*c, PAGE_SIZE)),
                    "raw keys": lambda c=cursor: _raw(raw, KEYS, (*c, PAGE_SIZE)),
                }
                for name in rng.sample(list(calls), len(calls)):
                    kinds[name].append(await timed(calls[name]))
            raw.close()
    base = statistics.median(kinds["raw"])
    print(f"a page of {PAGE_SIZE} out of {convs} conversations, {pages} pages at random depths")
    for name, samples in kinds.items():
        print(summary(name, samples, base))


KEYS = (
    "SELECT listed, conv_type, conv_id FROM conversations WHERE (listed, conv_type, conv_id) < (?, ?, ?)"
    " ORDER BY listed DESC, conv_type DESC, conv_id DESC LIMIT ?"
)


async def _raw(db: sqlite3.Connection, query: str, params: tuple[Any, ...]) -> list[Any]:
    return db.execute(query, params).fetchall()


async def _every(table: SqliteConversations, step: int) -> Any:
    cursor = None
    while True:
        page = await table.conv_page(cursor, 1000)
        for index in range(0, len(page), step):
            yield page[index]
        if len(page) < 1000:
            return
        cursor = page[-1].cursor


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convs", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=400)
    args = parser.parse_args()
    assert PAGE  # the first page's query is the cursor-less twin of PAGE_AFTER
    asyncio.run(main(args.convs, args.pages))
