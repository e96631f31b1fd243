"""Worker processes draining one PostgreSQL outbox, SIGKILLed at random and replaced: nothing
enqueued is lost, first arrivals keep enqueue order per conversation, and duplicates (a send TIM
took whose worker died before recording it, resent past TIM's one-second C2C window) are counted.
AIO_TIM_PG_KILL_TRIALS / AIO_TIM_PG_KILL_MESSAGES size the long run (the issue's: 5 x 20,000)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

from pg_support import own_schema
from test_coordination_outbox import load_workers_example
from test_pg_outbox import queued_message, server_order, server_sends

from aio_tim.devserver import DevServer
from aio_tim.pgstore import PgStore

TRIALS = int(os.environ.get("AIO_TIM_PG_KILL_TRIALS", "1"))
MESSAGES = int(os.environ.get("AIO_TIM_PG_KILL_MESSAGES", "1000"))
WORKERS = 3
PEERS = 20


async def kill_trial(tmp_path: Path, url: str, schema: str, rng: random.Random) -> dict[str, int]:
    """Enqueue MESSAGES, drain them with WORKERS processes while killing one every 0.5-2 s."""
    workers = load_workers_example()
    server = DevServer(db_path=tmp_path / "server.db", limits=None)  # TIM's one-second C2C window
    store = PgStore(url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=schema)
    async with server, store:
        now = int(time.time())
        queued = [queued_message(f"p{i % PEERS}", i + 1, now) for i in range(MESSAGES)]
        async with store.pool.acquire() as conn, conn.transaction():  # one commit, one wake-up
            for message in queued:
                await store.outbox_add_in(conn, (1, message.conv_id or ""), message)
        extra = ("--local", "--workers", str(WORKERS), "--user", "alice", "--store", url, "--schema", schema)
        spawn = lambda: workers.spawn_worker(server, "redis://unused", "unused", *extra)  # noqa: E731
        children = [await asyncio.to_thread(spawn) for _ in range(WORKERS)]
        kills = 0
        try:
            while (counts := await store.outbox_counts())["queued"] + counts["inflight"]:
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                victim = children.pop(rng.randrange(len(children)))
                await asyncio.to_thread(workers.stop_worker, victim, signal.SIGKILL)
                kills += 1
                children.append(await asyncio.to_thread(spawn))
        finally:
            for child in children:
                await asyncio.to_thread(workers.stop_worker, child, signal.SIGKILL)
    sends = server_sends(tmp_path / "server.db")
    for peer in ("p0", "p7"):  # first arrivals keep enqueue order, resends notwithstanding
        arrived = list(dict.fromkeys(server_order(tmp_path / "server.db", peer)))
        assert arrived == [q.rand for q in queued if q.conv_id == peer]
    lost = sum(1 for q in queued if ("alice", q.conv_id, q.rand) not in sends)
    duplicates = sum(n - 1 for n in sends.values())
    return {"enqueued": MESSAGES, "kills": kills, "lost": lost, "duplicates": duplicates, **counts}


async def test_sigkilled_workers_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    """Workers SIGKILLed at random and replaced: 0 lost, every row sent, duplicates counted."""
    rng = random.Random(24)
    results = []
    for trial in range(TRIALS):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        async with own_schema(pg_url) as schema:
            results.append(await kill_trial(folder, pg_url, schema, rng))
        print(f"\n  trial {trial + 1}: {results[-1]}", flush=True)  # a long run's figures as they come
    print("\nPostgreSQL outbox SIGKILL trials:", results)
    assert all(r["lost"] == 0 and r["sent"] == r["enqueued"] and r["failed"] == 0 for r in results)
