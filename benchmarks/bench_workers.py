"""Many workers, one app (issue 15): shared limits and the shared outbox on Redis.

Reproduce (from the repository root, Redis at 127.0.0.1:6379 or $AIO_TIM_REDIS_URL):

    .venv/bin/python benchmarks/bench_workers.py                 # all parts, full sizes
    .venv/bin/python benchmarks/bench_workers.py --parts a --sends 250
    .venv/bin/python benchmarks/bench_workers.py --parts b --messages 2000 --trials 1
    .venv/bin/python benchmarks/bench_workers.py --cluster --replicas 1 --failover   # issue 32

`--cluster` runs the same parts on a Redis Cluster of its own (three masters on free loopback
ports, `--replicas` per master); `--failover` (part b, needs a replica) also SIGKILLs one master
right after the first worker's SIGKILL, so its replica takes over mid-drain.

Each worker is `examples/workers.py worker`, a process of its own; the dev server runs in this
process with TIM's limits (sendmsg 200/s per app) and TIM's C2C dedup window (1 s).

(a) limits: 4 workers sending as fast as they can, three ways in one run: uncoordinated (each
    paces itself at the full limit, as before issue 15), local limit/4 (no Redis: the CPU
    baseline), and shared through Redis. Combined rate against the limit, throttled answers,
    Redis round trips, and client CPU µs per send with Redis against without (ratio).
(b) outbox: M messages enqueued, 4 workers draining, SIGKILLed at random points and replaced
    (3 kills per trial): lost and duplicated messages per trial, counted at the server.
(c) the PostgreSQL outbox (`--store postgresql://...`, issue 24): M messages committed in one
    transaction, 4 workers draining it (limits shared on Redis): the drain rate against TIM's
    limit and the throttled answers the workers met.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import redis.asyncio as aioredis

from aio_tim import ConvType, Message, TextElem
from aio_tim.coordination import RedisCoordinator
from aio_tim.devserver import DevServer
from aio_tim.protocol.limits import RATE_LIMITS
from aio_tim.testing import client_for

REDIS_URL = os.environ.get("AIO_TIM_REDIS_URL", "redis://127.0.0.1:6379/0")
CLUSTER: Any = None  # a PrivateCluster (tests/redis_support.py) with --cluster
WORKERS = 4
LIMIT = float(RATE_LIMITS["openim/sendmsg"] or 0)


def load_workers() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / "workers.py"
    spec = importlib.util.spec_from_file_location("example_workers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def flags() -> list[str]:
    return ["--cluster"] if CLUSTER is not None else []


async def delete_prefix(prefix: str) -> None:
    if CLUSTER is not None:  # the cluster goes when the benchmark ends
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# --- (a) limits ----------------------------------------------------------------------------------


async def limit_run(workers: ModuleType, mode: str, sends: int) -> dict[str, Any]:
    """4 workers, `sends` each, started together; combined rate and per-send CPU."""
    prefix = f"aio_tim_bench:{uuid.uuid4().hex[:8]}"
    extra = {"redis": flags(), "local": ["--local"], "uncoordinated": ["--local"]}[mode]
    share = "1" if mode == "uncoordinated" else str(WORKERS)
    async with DevServer() as server:
        children = [
            workers.spawn_worker(
                server, REDIS_URL, prefix, "--send", str(sends), "--workers", share, "--user", f"w{i}", *extra
            )
            for i in range(WORKERS)
        ]
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = await asyncio.gather(*(asyncio.to_thread(child.communicate) for child in children))
    await delete_prefix(prefix)
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    sent = sum(r["sent"] for r in reports)
    span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return {
        "mode": mode,
        "sent": sent,
        "rate": sent / span,
        "throttled": sum(r["throttled"] for r in reports),
        "cpu_us": 1e6 * sum(r["cpu"] for r in reports) / sent,
        "round_trips": sum(r.get("round_trips", 0) for r in reports),
    }


async def part_a(sends: int) -> None:
    workers = load_workers()
    print(f"(a) {WORKERS} worker processes x {sends} sends, dev server at TIM's {LIMIT:g}/s per app")
    results = {}
    for mode in ("uncoordinated", "local", "redis"):
        results[mode] = result = await limit_run(workers, mode, sends)
        print(
            f"    {mode:>13}: {result['sent']} sent at {result['rate']:.1f}/s = "
            f"{result['rate'] / LIMIT:.1%} of the limit, {result['throttled']} throttled answers, "
            f"client CPU {result['cpu_us']:.0f} µs/send"
        )
    redis_run = results["redis"]
    print(
        f"    shared limiter: {redis_run['round_trips']} Redis round trips for {redis_run['sent']} sends "
        f"({redis_run['round_trips'] / redis_run['sent']:.2f} per send)"
    )
    ratio = results["redis"]["cpu_us"] / results["local"]["cpu_us"]
    print(f"    client CPU per send, shared limiter on Redis vs in-process limit/4: {ratio:.3f}x")


# --- (b) outbox under SIGKILL --------------------------------------------------------------------


def server_sends(db_path: Path) -> Counter[tuple[str, int]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        found = Counter((str(t), int(r)) for t, r in rows)
    db.close()
    return found


async def sent_at_least(tim: Any, count: int, *, drained: bool = False) -> dict[str, int]:
    """Once `count` are sent or failed (and, `drained`, nothing is queued or inflight: counters may
    count an outcome twice when a master fails over between its write and its reply)."""
    while True:
        counts: dict[str, int] = await tim.outbox_statistics()
        done = counts["sent"] + counts["failed"] >= count
        if done and (not drained or not counts["queued"] + counts["inflight"]):
            return counts
        await asyncio.sleep(0.02)


async def kill_trial(
    workers: ModuleType, folder: Path, messages: int, rng: random.Random, failover: bool
) -> tuple[int, ...]:
    prefix = f"aio_tim_bench:{uuid.uuid4().hex[:8]}"
    extra = ("--visibility", "2", "--workers", str(WORKERS), "--user", "alice", *flags())
    kills = sorted(rng.sample(range(1, messages), 3))
    async with (
        DevServer(db_path=folder / "server.db", limits=None) as server,
        RedisCoordinator(REDIS_URL, cluster=CLUSTER is not None, key_prefix=prefix, drain=False) as shared,
        client_for(server, "alice", coordinator=shared) as tim,
    ):
        queued = [
            await tim.msg.enqueue_new_msg(
                f"p{i % 100}", ConvType.C2C, Message(elem_array=[TextElem(content=f"m{i}")])
            )
            for i in range(messages)
        ]
        children = [workers.spawn_worker(server, REDIS_URL, prefix, *extra) for _ in range(WORKERS)]
        try:
            for at in kills:
                await sent_at_least(tim, at)
                victim = children.pop(rng.randrange(len(children)))
                workers.stop_worker(victim, signal.SIGKILL)
                children.append(workers.spawn_worker(server, REDIS_URL, prefix, *extra))
                if failover:
                    failover, started = False, time.monotonic()
                    await fail_over_a_master()
                    print(f"    a master failed over in {time.monotonic() - started:.1f}s")
            counts = await sent_at_least(tim, messages, drained=True)
        finally:
            for child in children:
                workers.stop_worker(child)
    await delete_prefix(prefix)
    sends = server_sends(folder / "server.db")
    lost = sum(1 for q in queued if (q.conv_id, q.rand) not in sends)
    duplicates = sum(n - 1 for n in sends.values())
    return messages, lost, duplicates, counts["failed"], counts["sent"]


async def fail_over_a_master() -> None:
    """SIGKILL a master that has a replica; return once the cluster is whole again."""
    assert CLUSTER is not None
    victim = next(port for port in CLUSTER.masters() if port != CLUSTER.ports[0])
    CLUSTER.kill_node(victim)
    while True:
        masters = CLUSTER.masters()
        if len(masters) == 3 and all(CLUSTER.state_ok(port) for port in masters):
            return
        await asyncio.sleep(0.1)


async def part_b(messages: int, trials: int, failover: bool = False) -> None:
    workers = load_workers()
    rng = random.Random(15)
    print(f"(b) outbox: {messages} messages, {WORKERS} workers, 3 SIGKILLs + replacements per trial")
    results = []
    for trial in range(trials):
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            result = await kill_trial(workers, Path(folder), messages, rng, failover and trial == 0)
            results.append(result)
            print(
                f"    trial {trial + 1}: enqueued {result[0]}, lost {result[1]}, duplicates {result[2]}, "
                f"failed {result[3]}, counted sent {result[4]} ({time.monotonic() - started:.0f}s)"
            )
    print(f"    total: lost {sum(r[1] for r in results)}, duplicates {sum(r[2] for r in results)}")


# --- (c) the PostgreSQL outbox's throughput -----------------------------------------------------


async def part_c(messages: int, url: str) -> None:
    from aio_tim.pgstore import PgStore

    workers = load_workers()
    prefix, schema = f"aio_tim_bench:{uuid.uuid4().hex[:8]}", f"bench_pg_{uuid.uuid4().hex[:8]}"
    extra = ["--workers", str(WORKERS), "--user", "alice", "--store", url, "--schema", schema, "--report"]
    with tempfile.TemporaryDirectory() as folder:
        server = DevServer(db_path=Path(folder) / "server.db")  # TIM's limits
        async with (
            server,
            PgStore(url, sdk_app_id=server.sdk_app_id, user_id="alice", schema=schema) as store,
        ):
            children = [workers.spawn_worker(server, REDIS_URL, prefix, *extra) for _ in range(WORKERS)]
            now = int(time.time())
            async with store.pool.acquire() as conn, conn.transaction():  # the workers wake at COMMIT
                for i in range(messages):
                    message = Message(
                        elem_array=[TextElem(content=f"m{i}")], sender="alice", is_from_self=True,
                        rand=i + 1, seq=i + 1, client_time=now, conv_id=f"peer{i % 50}", conv_type=1,
                    )  # fmt: skip
                    await store.outbox_add_in(conn, (1, f"peer{i % 50}"), message)
            started = time.monotonic()
            # The workers are other processes: their progress is polled from the database.
            while (counts := await store.outbox_counts())["queued"] + counts["inflight"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            outputs = [workers.stop_worker(child) for child in children]
            await store.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await delete_prefix(prefix)
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    rate = counts["sent"] / elapsed
    print(
        f"(c) PostgreSQL outbox: {messages} messages, {WORKERS} workers: {counts['sent']} sent, "
        f"{counts['failed']} failed in {elapsed:.1f}s = {rate:.1f}/s = {rate / LIMIT:.1%} of TIM's "
        f"{LIMIT:g}/s; throttled answers {sum(r['throttled'] for r in reports)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="a,b")
    parser.add_argument("--sends", type=int, default=500, help="(a) sends per worker")
    parser.add_argument("--messages", type=int, default=20_000, help="(b) messages per trial")
    parser.add_argument("--trials", type=int, default=5, help="(b) SIGKILL trials")
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/test", help="(c) PostgreSQL")
    parser.add_argument("--cluster", action="store_true", help="on a 3-master Redis Cluster of its own")
    parser.add_argument("--replicas", type=int, default=0, help="replicas per master (--cluster)")
    parser.add_argument("--failover", action="store_true", help="(b) fail a master over in trial 1")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as folder:
        if args.cluster:
            start_cluster(Path(folder), args.replicas)
        try:
            if "a" in parts:
                asyncio.run(part_a(args.sends))
            if "b" in parts:
                asyncio.run(part_b(args.messages, args.trials, args.failover and args.replicas > 0))
            if "c" in parts:
                asyncio.run(part_c(args.messages, args.store))
        finally:
            if CLUSTER is not None:
                CLUSTER.stop()


def start_cluster(folder: Path, replicas: int) -> None:
    global CLUSTER, REDIS_URL
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from redis_support import PrivateCluster

    CLUSTER = PrivateCluster(folder, masters=3, replicas=replicas)
    CLUSTER.start()
    REDIS_URL = CLUSTER.url
    print(f"Redis Cluster: 3 masters, {replicas} replica(s) each, at {REDIS_URL}")


if __name__ == "__main__":
    main()
