"""Many worker processes, one TIM app: shared rate limits and a shared outbox on Redis.

    python examples/workers.py --workers 4 --messages 2000      # Redis at 127.0.0.1:6379
    python examples/workers.py --cluster --redis redis://127.0.0.1:7000   # a Redis Cluster, any node

The parent starts an embedded dev server (TIM's limits enforced), N worker processes and a client
that only enqueues (`drain=False`). Every worker is a `Client(coordinator=RedisCoordinator(...))`:
together they send at the app's limit, not N times it, and drain the one outbox; kill one and the
others resend its unfinished messages after the visibility timeout. A worker alone is this file
with `worker` (the secret key comes from the environment, never the command line):

    AIO_TIM_SECRET_KEY=... python examples/workers.py worker --base-url http://127.0.0.1:8080 \
        --sdk-app-id 1400000000 --redis redis://127.0.0.1:6379/0 --workers 4

`worker --send N` sends N messages itself as fast as the limits allow and prints its counts as
JSON (the benchmark's workload); without it the worker drains the outbox until SIGTERM.

`--store postgresql://...` (`pip install 'aio_tim[postgres]'`) keeps every worker's history and
the outbox in one PostgreSQL database instead (docs/postgres.md): the workers then act as the
enqueuer's user and drain its PostgreSQL outbox; Redis still shares the rate limits.

    python examples/workers.py --workers 4 --messages 2000 --store postgresql://postgres@127.0.0.1/test

Redis out of reach: the demo says so in one line and exits with status 1 before starting anything
(its outbox lives in Redis); a worker says so once and keeps running, pacing at 1/N of each
limit, and drains the outbox when Redis answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

try:
    from redis.exceptions import RedisError
except ModuleNotFoundError:  # the example's one extra: say so in one line, not a traceback
    sys.exit("workers.py needs the redis extra: .venv/bin/pip install -e '.[redis]'")

from aio_tim import Client, ConvType, Message, TextElem
from aio_tim.coordination import RedisCoordinator
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

KEY_ENV = "AIO_TIM_SECRET_KEY"


def worker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--sdk-app-id", type=int, required=True)
    parser.add_argument("--admin", default="administrator")
    parser.add_argument("--user", default="worker")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="aio_tim")
    parser.add_argument(
        "--workers", type=int, default=1, help="workers sharing the app (limit/N without Redis)"
    )
    parser.add_argument(
        "--visibility", type=float, default=30.0, help="seconds before a dead worker's messages move"
    )
    parser.add_argument(
        "--send", type=int, default=0, help="send this many messages directly, print counts, exit"
    )
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--local", action="store_true", help="no Redis: in-process limits at limit/N")
    parser.add_argument("--report", action="store_true", help="print the pipeline's counts when stopped")
    parser.add_argument("--cluster", action="store_true", help="--redis names a node of a Redis Cluster")
    store_options(parser)


def store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="postgresql://... : one PostgreSQL store for every worker")
    parser.add_argument("--schema", default="aio_tim", help="the PostgreSQL schema of --store")


def chosen_store(store: str | None, schema: str, sdk_app_id: int, user_id: str) -> object:
    """A PgStore for --store (asyncpg is only needed then), else None: a store in memory."""
    if not store:
        return None
    from aio_tim.pgstore import PgStore

    return PgStore(store, sdk_app_id=sdk_app_id, user_id=user_id, schema=schema)


async def run_worker(args: argparse.Namespace) -> dict[str, float]:
    """One worker: drain the shared outbox until SIGTERM, or (`--send`) send and report."""
    coordinator = None if args.local else RedisCoordinator(
        args.redis, cluster=args.cluster, key_prefix=args.prefix, workers=args.workers,
        visibility_timeout=args.visibility, drain=not args.send,
    )  # fmt: skip
    limits = {"*": 200 / args.workers} if args.local else None
    store = chosen_store(args.store, args.schema, args.sdk_app_id, args.user)
    tim = Client(
        sdk_app_id=args.sdk_app_id, user_id=args.user, secret_key=os.environ[KEY_ENV], admin=args.admin,
        base_url=args.base_url, store_path=":memory:", store=store, coordinator=coordinator,
        **({"limits": limits} if limits else {}),
    )  # fmt: skip
    await tim.open()
    if coordinator is not None and (why := await unreachable(coordinator)):
        print(
            f"worker {args.user}: Redis at {shown(args.redis)} cannot be reached ({why}); meanwhile this "
            f"worker paces at 1/{args.workers} of each limit and drains the shared outbox once Redis answers",
            file=sys.stderr, flush=True,
        )  # fmt: skip
    print("ready", flush=True)
    try:
        if not args.send:
            await drain_until_stopped()
            stats = tim.pipeline.statistics()
            report = {"sent": stats.sent, "throttled": stats.throttled, "failed": stats.failed}
            return report if args.report else {}
        report = await send_all(tim, args)
        if coordinator is not None:
            report["round_trips"] = coordinator.limiter_statistics().round_trips
        return report
    finally:
        await tim.aclose()
        if coordinator is not None:
            await coordinator.aclose()


async def unreachable(coordinator: RedisCoordinator) -> str | None:
    """None if Redis answers a PING within two seconds, else why not (one line)."""
    try:
        await asyncio.wait_for(coordinator.redis.ping(), 2.0)
    except (RedisError, OSError, TimeoutError) as error:
        return f"{type(error).__name__}: {str(error).rstrip('.')}" if str(error) else type(error).__name__
    return None


def shown(url: str) -> str:
    """The Redis URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


async def send_all(tim: Client, args: argparse.Namespace) -> dict[str, float]:
    """Wait for "go" on stdin (so workers start together), send, and report counts and CPU."""
    await asyncio.to_thread(sys.stdin.readline)
    cpu, wall = time.process_time(), time.monotonic()
    messages = [Message(elem_array=[TextElem(content=f"{args.user} {i}")]) for i in range(args.send)]
    await asyncio.gather(*(
        tim.msg.send_new_msg(f"peer{i % args.peers}", ConvType.C2C, m) for i, m in enumerate(messages)
    ))  # fmt: skip
    stats = tim.pipeline.statistics()
    return {
        "sent": stats.sent, "throttled": stats.throttled, "failed": stats.failed,
        "cpu": time.process_time() - cpu, "start": wall, "end": time.monotonic(),
    }  # fmt: skip


async def drain_until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def spawn_worker(server: DevServer, redis_url: str, prefix: str, *extra: str) -> subprocess.Popen[str]:
    """Start `examples/workers.py worker` for `server`'s app; returns once it printed "ready"."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "worker", "--base-url", server.url,
        "--sdk-app-id", str(server.sdk_app_id), "--admin", server.admin, "--redis", redis_url,
        "--prefix", prefix, *extra,
    ]  # fmt: skip
    environment = os.environ | {KEY_ENV: server.secret_key}
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise RuntimeError("the worker did not start")
    return child


def stop_worker(child: subprocess.Popen[str], signum: int = signal.SIGTERM) -> str:
    """Stop a worker (SIGTERM: it finishes its batch and gives its shards back); its remaining output."""
    if child.poll() is None:
        child.send_signal(signum)
    if child.stdout is None or child.stdout.closed:  # stopped before
        child.wait()
        return ""
    output, _ = child.communicate()
    return output


async def demo(
    workers: int,
    messages: int,
    redis_url: str,
    *,
    store: str | None = None,
    schema: str = "aio_tim",
    cluster: bool = False,
) -> dict[str, int] | None:
    """A dev server, `workers` drainers and an enqueuer; the outbox's final counts (None: no Redis)."""
    async with RedisCoordinator(redis_url, cluster=cluster) as probe:
        why = await unreachable(probe)
    if why:
        print(
            f"workers.py: Redis at {shown(redis_url)} cannot be reached ({why}). The demo's shared outbox "
            "lives in Redis, so nothing was started: start Redis or pass --redis URL. (A worker started "
            "alone keeps running without Redis: it paces at 1/N of each limit, drains once Redis answers.)",
            file=sys.stderr,
        )
        return None
    prefix = f"aio_tim_demo:{uuid.uuid4().hex[:8]}"
    # A PostgreSQL outbox is the store's user's: the workers drain it as the enqueuer, alice.
    store_args = ["--store", store, "--schema", schema] if store else []
    flags = ("--cluster",) if cluster else ()
    async with DevServer() as server:
        users = ["alice" if store else f"w{i}" for i in range(workers)]
        options = ["--workers", str(workers), *store_args, *flags]
        children = [spawn_worker(server, redis_url, prefix, *options, "--user", user) for user in users]
        try:
            async with (
                RedisCoordinator(
                    redis_url, cluster=cluster, key_prefix=prefix, workers=workers, drain=False
                ) as shared,
                client_for(
                    server,
                    "alice",
                    coordinator=shared,
                    store=chosen_store(store, schema, server.sdk_app_id, "alice"),
                ) as tim,
            ):
                started = time.monotonic()
                for i in range(messages):
                    await tim.msg.enqueue_new_msg(
                        f"peer{i % 50}", ConvType.C2C, Message(elem_array=[TextElem(content=f"m{i}")])
                    )
                counts = await tim.outbox_statistics()
                while counts["queued"] + counts["inflight"]:
                    await asyncio.sleep(0.1)
                    counts = await tim.outbox_statistics()
                elapsed = time.monotonic() - started
                print(f"{workers} workers sent {counts['sent']} messages in {elapsed:.1f}s "
                          f"({counts['sent'] / elapsed:.0f}/s), failed {counts['failed']}")  # fmt: skip
                return counts
        finally:
            for child in children:
                stop_worker(child)
            async with RedisCoordinator(redis_url, cluster=cluster) as cleanup:  # the demo's keys only
                for key in [k async for k in cleanup.redis.scan_iter(match=f"{prefix}:*")]:
                    await cleanup.redis.delete(key)  # one by one: on a cluster they lie on many slots


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    worker_options(commands.add_parser("worker", help="run one worker"))
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    store_options(parser)
    parser.add_argument("--cluster", action="store_true", help="--redis names a node of a Redis Cluster")
    args = parser.parse_args(argv)
    if args.command == "worker":
        result = asyncio.run(run_worker(args))
        if result:
            print(json.dumps(result), flush=True)
    elif (
        asyncio.run(
            demo(
                args.workers,
                args.messages,
                args.redis,
                store=args.store,
                schema=args.schema,
                cluster=args.cluster,
            )
        )
        is None
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
