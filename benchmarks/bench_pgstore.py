"""PgStore benchmark: the client CPU of a save through the PostgreSQL store against a bare asyncpg
INSERT + COMMIT of the same row, measured in the same run, block by block interleaved.

- store: `PgStore.save(conv, msg, status=..., msg_key=...)` (validation, the stored copy, JSON
  encoding, one statement that inserts the row and moves its conversation's counts, autocommit);
- bare: `conn.execute("INSERT INTO ... VALUES ($1..$12)", *row)` on one asyncpg connection, of
  the row `save` would write, pre-encoded (the yardstick); `bare+encode`: the same with the
  message encoded per call; `bare pool`: the pre-encoded INSERT through `pool.execute` (an asyncpg
  pool with its default reset), as an application that shares a pool would write it.

The kinds are interleaved call by call in a rotating order, and each call's CPU is
`time.process_time()` around it (this process only: the server's work is not counted). The
schema is created and dropped by the run.

    python benchmarks/bench_pgstore.py [--url postgresql://...] [--saves 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from aio_tim.pgstore import PgStore
from aio_tim.store.rows import row_of, stamp
from aio_tim.types import ConvType, Message, MsgStatus, TextElem, encode

STATUS = int(MsgStatus.SEND_SUCC)
CONV = (int(ConvType.C2C), "bob")
COLUMNS = "store, conv_type, conv_id, time, seq, rand, is_self, status, is_read, msg_key, msg_id, json"


def message(i: int) -> Message:
    return Message(
        elem_array=[TextElem(content=f"hello {i}")], sender="alice", is_from_self=True,
        server_time=1_700_000_000 + i // 20, seq=i, rand=(i * 2654435761) % 2**32, msg_id=f"{i}_key",
    )  # fmt: skip


async def timed(calls: Callable[[int], Awaitable[object]], start: int, count: int) -> float:
    """CPU seconds per call for `count` calls."""
    cpu = time.process_time()
    for i in range(start, start + count):
        await calls(i)
    return (time.process_time() - cpu) / count


async def main(url: str, saves: int, rounds: int) -> None:
    schema = f"bench_pg_{uuid.uuid4().hex[:8]}"
    store = PgStore(url, sdk_app_id=1400000000, user_id="alice", schema=schema)
    async with store:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        conn = await asyncpg.connect(url)
        try:
            await pool.execute(f'CREATE TABLE "{schema}".bare (LIKE "{schema}".messages INCLUDING ALL)')
            values = ", ".join(f"${n}" for n in range(1, 13))
            insert = f'INSERT INTO "{schema}".bare ({COLUMNS}) VALUES ({values})'
            messages = [message(i) for i in range(200 + saves * rounds * 4)]  # four kinds
            rows = [row_of(CONV, stamp(m, CONV, STATUS, 0), m.msg_id) for m in messages]

            async def save(i: int) -> object:
                return await store.save(CONV, messages[i], status=STATUS, msg_key=messages[i].msg_id)

            async def bare(i: int) -> object:
                return await conn.execute(insert, 1, *rows[i])

            async def bare_pool(i: int) -> object:
                return await pool.execute(insert, 1, *rows[i])

            async def bare_encode(i: int) -> object:
                m = messages[i]
                row = (*CONV, m.server_time, m.seq, m.rand, 1, STATUS, 1, m.msg_id, m.msg_id, encode(m))
                return await conn.execute(insert, 1, *row)

            await timed(save, 0, 200)  # warm up: prepared statements, caches
            await timed(bare, 0, 200)
            kinds = [("store", save), ("bare", bare), ("bare+encode", bare_encode), ("bare pool", bare_pool)]
            results: dict[str, list[float]] = {name: [] for name, _ in kinds}
            offset = 200
            for _ in range(rounds):
                spent = dict.fromkeys(results, 0.0)
                for n in range(saves):  # call by call, so that load from other processes hits all alike
                    for name, calls in kinds[n % 4 :] + kinds[: n % 4]:
                        cpu = time.process_time()
                        await calls(offset)
                        spent[name] += time.process_time() - cpu
                        offset += 1
                for name in results:
                    results[name].append(spent[name] / saves)
        finally:
            await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await pool.close()
            await conn.close()
    med = {name: statistics.median(values) for name, values in results.items()}
    ratios = [s / b for s, b in zip(results["store"], results["bare"], strict=True)]
    print(f"{saves} saves x {rounds} rounds, client CPU per op (median of rounds):")
    for name, value in med.items():
        print(f"  {name:12s} {value * 1e6:7.1f} µs")
    per_round = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"  store / bare: {med['store'] / med['bare']:.2f}x (per round {per_round})")
    print(f"  store / bare+encode: {med['store'] / med['bare+encode']:.2f}x")
    print(f"  store / bare pool: {med['store'] / med['bare pool']:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--saves", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url, arguments.saves, arguments.rounds))
