"""Conversation-event benchmark: what a watch's poll costs after one change, at 10^3 and 10^5
conversations (it should not grow with the table), against the full rescan a watcher without the
change log would need (the unread total by filter, which reads every row); and what the log's
triggers add to a bulk insert (the same insert with the triggers dropped, same run).

    python benchmarks/bench_conv_events.py [--sizes 1000 100000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aio_tim.conv import ConvManager
from aio_tim.protocol import Envelope
from aio_tim.store import LocalStore
from aio_tim.store.conversations import SqliteConversations
from aio_tim.store.jobs import InsertRows
from aio_tim.store.rows import row_with
from aio_tim.types import Message, MsgStatus, TextElem

T0 = 1_700_000_000
_LOG_TRIGGERS = (
    "conv_changes_added",
    "conv_changes_updated",
    "conv_changes_unread",
)


def message(i: int) -> Message:
    return Message(
        elem_array=[TextElem(content=f"hello {i}")], sender=f"user{i}", is_from_self=False,
        server_time=T0 + i // 3, seq=i, rand=(i * 2654435761) % 2**32,
    )  # fmt: skip


async def no_io(*_: Any, **__: Any) -> Envelope:
    raise AssertionError("the benchmark makes no REST call")


async def fill(store: LocalStore, convs: int, msgs: int | None = None) -> float:
    """`msgs` messages (default: one per conversation) spread over `convs` conversations."""
    rows = (
        row_with((1, f"u{i % convs:06d}"), message(i), int(MsgStatus.SEND_SUCC), 0, None)
        for i in range(msgs or convs)
    )
    started = time.perf_counter()
    await store._submit(InsertRows(rows))
    return time.perf_counter() - started


async def one_size(folder: Path, convs: int, rounds: int) -> tuple[float, float]:
    async with LocalStore(folder / f"events{convs}.db") as store:
        await fill(store, convs)
        manager = ConvManager(no_io, "alice", store, time.time)
        watch = manager.watch()
        await watch.start()
        table = SqliteConversations(store)
        polls, scans = [], []
        for n in range(rounds):
            await table.conv_update([(1, f"u{n * 7 % convs:06d}")], pinned=n % 2 == 0)
            started = time.perf_counter()
            events = await watch.poll()
            polls.append(time.perf_counter() - started)
            assert len(events) == 1
            started = time.perf_counter()
            await manager.get_unread_message_count_by_filter({"conversation_list_filter_conv_type": 1})
            scans.append(time.perf_counter() - started)
    return statistics.median(polls), statistics.median(scans)


async def insert_cost(folder: Path, convs: int, msgs: int) -> tuple[float, float]:
    async with LocalStore(folder / f"with{convs}.db") as store:
        with_log = await fill(store, convs, msgs)
    async with LocalStore(folder / f"without{convs}.db") as store:
        for name in _LOG_TRIGGERS:
            await store._update(f"DROP TRIGGER {name}", ())
        without = await fill(store, convs, msgs)
    return with_log, without


async def main(sizes: list[int], rounds: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for convs in sizes:
            poll, scan = await one_size(folder, convs, rounds)
            print(
                f"{convs:>7} conversations: poll after one change p50 {poll * 1e6:8.1f} µs;"
                f" full rescan (baseline) p50 {scan * 1e3:8.2f} ms; rescan/poll {scan / poll:7.1f}x"
            )
        msgs = sizes[-1]
        for convs in (msgs, 100):
            with_log, without = await insert_cost(folder, convs, msgs)
            print(
                f"bulk insert of {msgs} messages into {convs} conversations: {with_log:.2f} s with the"
                f" change log, {without:.2f} s without (baseline): {with_log / without:.2f}x"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.rounds))
