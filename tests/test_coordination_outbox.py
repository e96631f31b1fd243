"""The shared outbox on Redis Streams (`Client(coordinator=RedisCoordinator(...))`): any worker
sends what any client enqueued, once, in order per conversation; a SIGKILLed worker's messages
are claimed and resent by the others; a Redis killed and restarted loses nothing."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from redis_support import PrivateRedis, RedisTarget

from aio_tim import ConvType, Message, MsgStatus, NotFoundError, TextElem, UsageError
from aio_tim.coordination import CoordinationUnavailableError, RedisCoordinator
from aio_tim.coordination.redis_outbox import RedisOutbox
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

KILL_TRIALS = int(os.environ.get("AIO_TIM_REDIS_KILL_TRIALS", "1"))
KILL_MESSAGES = int(os.environ.get("AIO_TIM_REDIS_KILL_MESSAGES", "600"))


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def load_workers_example() -> ModuleType:
    path = Path(__file__).parent.parent / "examples" / "workers.py"
    spec = importlib.util.spec_from_file_location("example_workers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def server_sends(db_path: Path) -> Counter[tuple[str, int]]:
    """How many times the server stored each (To, MsgRandom)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT to_account, msg_random FROM c2c_msgs WHERE kind = 'send'")
        found = Counter((str(t), int(r)) for t, r in rows)
    db.close()
    return found


def order_of(db_path: Path, peer: str) -> list[int]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT msg_random FROM c2c_msgs WHERE to_account = ? ORDER BY id", (peer,))
        found = [int(r) for (r,) in rows]
    db.close()
    return found


async def sent_at_least(tim: object, count: int) -> None:
    while True:
        if (await tim.outbox_statistics())["sent"] >= count:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.005)


async def wait_drained(tim: object, seconds: float) -> dict[str, int]:
    async def drained() -> dict[str, int]:
        while True:
            counts = await tim.outbox_statistics()  # type: ignore[attr-defined]
            if not counts["queued"] and not counts["inflight"]:
                return counts
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(drained(), seconds)


async def test_two_workers_deliver_once_in_order(tmp_path: Path, redis_target: RedisTarget) -> None:
    """300 messages enqueued to 6 peers by a non-draining client, drained by two workers: each
    delivered once, in enqueue order per peer, each outcome observable by the enqueuer."""
    async with DevServer(db_path=tmp_path / "server.db", limits=None) as server:
        options = {"visibility_timeout": 2.0, "shards": 4}
        async with (
            redis_target.coordinator(drain=False, **options) as enqueuer_side,
            redis_target.coordinator(workers=2, **options) as worker_side,
            client_for(server, "alice", coordinator=enqueuer_side) as alice,
            client_for(server, "alice", coordinator=worker_side) as w1,
            client_for(server, "alice", coordinator=worker_side) as w2,
        ):
            queued = [
                await alice.msg.enqueue_new_msg(f"p{i % 6}", ConvType.C2C, text(f"m{i}")) for i in range(300)
            ]
            assert all(q.status == MsgStatus.SENDING for q in queued)
            counts = await wait_drained(alice, 30)
            assert counts == {"queued": 0, "inflight": 0, "sent": 300, "failed": 0}
            sent = await alice.outbox_result(queued[-1], timeout=5)
            assert sent.status == MsgStatus.SEND_SUCC and sent.rand == queued[-1].rand and sent.msg_id
            stored = [await w.store.count((ConvType.C2C, "p0")) for w in (w1, w2)]
            assert sum(stored) == 50  # saved by whichever worker sent them
    sends = server_sends(tmp_path / "server.db")
    assert set(sends) == {(q.conv_id, q.rand) for q in queued} and max(sends.values()) == 1
    for peer in ("p0", "p3"):
        assert order_of(tmp_path / "server.db", peer) == [q.rand for q in queued if q.conv_id == peer]


async def test_a_fatal_error_is_the_outcome(redis_target: RedisTarget) -> None:
    """A message TIM refuses for good (no such account) is `failed`; its error is raised to the enqueuer."""
    async with DevServer(auto_accounts=False, limits=None) as server:
        await server.add_accounts("alice", "bob")
        async with (
            redis_target.coordinator(shards=2) as shared,
            client_for(server, "alice", coordinator=shared) as tim,
        ):
            bad = await tim.msg.enqueue_new_msg("nobody", ConvType.C2C, text("x"))
            good = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("y"))
            assert (await tim.outbox_result(good, timeout=10)).status == MsgStatus.SEND_SUCC
            with pytest.raises(NotFoundError):
                await tim.outbox_result(bad, timeout=10)
            assert (await tim.outbox_statistics())["failed"] == 1
            with pytest.raises(TimeoutError):
                await tim.outbox_result(text("never queued"), timeout=0.1)


async def test_enqueue_without_redis_raises_and_queues_nothing(tmp_path: Path) -> None:
    """Redis down at enqueue: CoordinationUnavailableError (retryable), not a silent acknowledgement."""
    with PrivateRedis(tmp_path) as redis_server:
        async with (
            DevServer(limits=None) as server,
            RedisCoordinator(redis_server.url, drain=False) as shared,
            client_for(server, "alice", coordinator=shared) as tim,
        ):
            redis_server.kill()
            with pytest.raises(CoordinationUnavailableError) as raised:
                await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("x"))
            assert raised.value.retryable


async def test_outbox_result_needs_a_coordinator(dev_server: DevServer) -> None:
    """outbox_result on a client without a coordinator is a usage error naming what it needs."""
    async with client_for(dev_server, "alice") as tim:
        with pytest.raises(UsageError, match="coordinator"):
            await tim.outbox_result(text("x"))


async def kill_trial(
    tmp_path: Path, target: RedisTarget, prefix: str, rng: random.Random
) -> tuple[int, int, int]:
    """Enqueue KILL_MESSAGES, start two worker processes, SIGKILL one at a random point and start
    a replacement; (enqueued, lost, duplicates) once the outbox is drained."""
    workers = load_workers_example()
    visibility = "1.0"
    async with (
        DevServer(db_path=tmp_path / "server.db", limits=None) as server,
        target.coordinator(key_prefix=prefix, drain=False, visibility_timeout=1.0) as shared,
        client_for(server, "alice", coordinator=shared) as tim,
    ):
        queued = [
            await tim.msg.enqueue_new_msg(f"p{i % 20}", ConvType.C2C, text(f"m{i}"))
            for i in range(KILL_MESSAGES)
        ]
        extra = ("--visibility", visibility, "--workers", "2", "--user", "alice", *target.worker_flags())
        children = [workers.spawn_worker(server, target.url, prefix, *extra) for _ in range(2)]
        try:
            kill_at = rng.randint(1, KILL_MESSAGES - 1)
            await sent_at_least(tim, kill_at)
            workers.stop_worker(children[0], signal.SIGKILL)
            children.append(workers.spawn_worker(server, target.url, prefix, *extra))
            counts = await wait_drained(tim, 60)
        finally:
            for child in children:
                workers.stop_worker(child, signal.SIGKILL)
        assert counts["failed"] == 0
    sends = server_sends(tmp_path / "server.db")
    lost = sum(1 for q in queued if (q.conv_id, q.rand) not in sends)
    for peer in ("p0", "p7"):  # first arrivals keep enqueue order, resends notwithstanding
        arrived = list(dict.fromkeys(order_of(tmp_path / "server.db", peer)))
        assert arrived == [q.rand for q in queued if q.conv_id == peer]
    duplicates = sum(n - 1 for n in sends.values())
    return len(queued), lost, duplicates


async def test_sigkilled_worker_loses_nothing(tmp_path: Path, redis_target: RedisTarget) -> None:
    """A worker process SIGKILLed mid-drain and replaced: every enqueued message reaches TIM, in
    order per conversation; the ones it had in flight are resent with their keys (duplicates
    counted; the dev server's C2C dedup window is TIM's one second).
    AIO_TIM_REDIS_KILL_TRIALS/_MESSAGES size the long run."""
    rng = random.Random(15)
    results = []
    for trial in range(KILL_TRIALS):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        results.append(await kill_trial(folder, redis_target, f"{redis_target.prefix}:{trial}", rng))
    print("SIGKILL trials (enqueued, lost, duplicates):", results)
    assert all(lost == 0 for _, lost, _ in results)
    assert all(duplicates <= 64 * 4 for _, _, duplicates in results)  # at most the killed worker's batch


async def test_redis_killed_and_restarted_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis (append-only, fsync always) SIGKILLed mid-drain and restarted: every acknowledged
    message is delivered once; meanwhile direct sends go on at the degraded local limit."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    with PrivateRedis(tmp_path) as redis_server:
        async with (
            DevServer(db_path=tmp_path / "server.db", limits={"*": 100}) as server,
            RedisCoordinator(
                redis_server.url, workers=2, visibility_timeout=1.0, probe_interval=0.2
            ) as shared,
            client_for(server, "alice", coordinator=shared, limits={"*": 100}) as tim,
        ):
            queued = [
                await tim.msg.enqueue_new_msg(f"p{i % 5}", ConvType.C2C, text(f"m{i}")) for i in range(150)
            ]
            await sent_at_least(tim, 30)
            redis_server.kill()
            direct = await asyncio.gather(
                *(tim.msg.send_new_msg("q", ConvType.C2C, text(f"d{i}")) for i in range(20))
            )
            assert len(direct) == 20
            assert tim.pipeline._limiter.statistics().degraded  # type: ignore[union-attr]
            redis_server.start()
            counts = await wait_drained(tim, 60)
            await tim.msg.send_new_msg("q", ConvType.C2C, text("after"))
            await asyncio.sleep(0.3)
            await tim.msg.send_new_msg("q", ConvType.C2C, text("after 2"))
            assert not tim.pipeline._limiter.statistics().degraded  # type: ignore[union-attr]
            assert tim.pipeline.statistics().throttled == 0
    sends = server_sends(tmp_path / "server.db")
    assert all((q.conv_id, q.rand) in sends for q in queued)
    print("after a Redis restart: outbox", counts, "duplicates", sum(n - 1 for n in sends.values()))
    assert any("answers again" in r.message for r in caplog.records)


async def test_workers_example_drains_the_shared_outbox(redis_target: RedisTarget) -> None:
    """examples/workers.py: two worker processes drain 100 enqueued messages; none fails."""
    counts = await load_workers_example().demo(2, 100, redis_target.url, cluster=redis_target.cluster)
    assert counts == {"queued": 0, "inflight": 0, "sent": 100, "failed": 0}


async def test_a_claimed_message_tim_already_has_is_not_sent_again(
    tmp_path: Path, redis_target: RedisTarget
) -> None:
    """A worker dies after TIM's answer but before its acknowledgement: the worker that claims the
    entry finds the message in TIM's roaming history and acknowledges it instead of resending it,
    well past TIM's one-second C2C dedup window (one copy at the server)."""
    async with (
        DevServer(db_path=tmp_path / "server.db", limits=None) as server,
        redis_target.coordinator(drain=False, shards=1) as enqueuer_side,
        client_for(server, "alice", coordinator=enqueuer_side) as alice,
    ):
        answered = asyncio.Event()

        async def send_then_hang(conv: tuple[int, str], message: Message) -> tuple[Message, str | None]:
            sent = await alice.msg._deliver(conv, message)
            answered.set()
            await asyncio.Event().wait()  # dies here: TIM has it, Redis never hears
            return sent

        prefix = f"{redis_target.prefix}:outbox:{server.sdk_app_id}"
        doomed = RedisOutbox(enqueuer_side.redis, prefix, alice.store, shards=1, visibility_timeout=1.0)
        await doomed.start(send_then_hang)
        queued = await alice.msg.enqueue_new_msg("bob", ConvType.C2C, text("once"))
        await asyncio.wait_for(answered.wait(), 10)
        for task in doomed._tasks:  # the process is gone: no more lease renewals, no ack
            task.cancel()
        async with (
            redis_target.coordinator(shards=1, visibility_timeout=1.0) as shared,
            client_for(server, "carol", coordinator=shared) as survivor,
        ):
            sent = await survivor.outbox_result(queued, timeout=15)
            assert sent.rand == queued.rand and sent.status == MsgStatus.SEND_SUCC
        await asyncio.gather(*doomed._tasks, return_exceptions=True)
    assert server_sends(tmp_path / "server.db")[("bob", queued.rand)] == 1
