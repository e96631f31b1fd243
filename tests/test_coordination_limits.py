"""Shared rate limits (`aio_tim.coordination`): workers of one app booking TIM's per-app limit
in Redis, falling back to limit/N in-process while Redis is away, and coming back by themselves."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from redis_support import PrivateRedis, RedisTarget, free_port, require_redis

from aio_tim import ConvType, Message, TextElem
from aio_tim.coordination import RedisCoordinator, pace_for
from aio_tim.coordination.redis_limiter import RedisLimiter
from aio_tim.devserver import DevServer
from aio_tim.pipeline import LocalLimiter
from aio_tim.testing import client_for

ENDPOINT = "openim/sendmsg"


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


async def booked_times(limiter: RedisLimiter, calls: int) -> list[float]:
    """Reserve `calls` slots concurrently; the monotonic instant each may go out."""

    async def one() -> float:
        wait = await limiter.reserve(ENDPOINT)
        return time.monotonic() + wait

    return list(await asyncio.gather(*(one() for _ in range(calls))))


def test_pace_for_keeps_a_margin_under_the_limit() -> None:
    """A limit is paced `margin` under the ceiling with a burst of the margin; no limit is None."""
    assert pace_for(ENDPOINT, {"*": 100}, 0.02) == (98.0, 2.0)
    assert pace_for(ENDPOINT, {"*": 10}, 0.02) == (9.8, 1.0)
    assert pace_for(ENDPOINT, None, 0.02) is None


async def test_local_limiter_share_divides_the_rate() -> None:
    """LocalLimiter(share=1/4) books 4x further apart than the full limit."""
    clock = [0.0]
    full = LocalLimiter({"*": 100}, 0.0, clock=lambda: clock[0])
    quarter = LocalLimiter({"*": 100}, 0.0, share=0.25, clock=lambda: clock[0])
    waits_full = [await full.reserve(ENDPOINT) for _ in range(5)]
    waits_quarter = [await quarter.reserve(ENDPOINT) for _ in range(5)]
    assert waits_full[-1] == pytest.approx(0.04)
    assert waits_quarter[-1] == pytest.approx(0.16)


async def test_workers_share_one_app_limit(redis_target: RedisTarget) -> None:
    """Two workers booking 120 calls each at 100/s: together they never exceed the limit (plus
    the burst) in any stretch, and each Redis round trip grants at least one call."""
    async with redis_target.coordinator(key_prefix=redis_target.prefix, workers=2) as coordinator:
        workers = [coordinator.limiter(1400000001, {"*": 100}, 0.02) for _ in range(2)]
        times = sorted(t for ts in await asyncio.gather(*(booked_times(w, 120) for w in workers)) for t in ts)
        rate, burst = 98.0, 2.0
        for i in range(0, len(times) - 50, 10):  # any 50 consecutive calls span ≥ (50 - burst)/rate
            assert times[i + 49] - times[i] >= (49 - burst) / rate - 0.02  # 2 intervals of jitter
        assert times[-1] - times[0] == pytest.approx(239 / rate, rel=0.1)
        stats = [w.statistics() for w in workers]
        assert sum(s.granted for s in stats) >= 240
        assert all(s.round_trips <= 120 for s in stats)
        assert sum(s.round_trips for s in stats) < 240  # batched grants under load
        assert not any(s.degraded for s in stats)


async def test_redis_away_degrades_to_a_share_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed: calls are paced locally at limit/N, logged once; Redis back: shared again."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    with PrivateRedis(tmp_path) as server:
        async with RedisCoordinator(server.url, workers=4, probe_interval=0.2) as coordinator:
            limiter = coordinator.limiter(1400000001, {"*": 100}, 0.0)
            await booked_times(limiter, 5)
            assert not limiter.statistics().degraded
            server.kill()
            waits = [await limiter.reserve(ENDPOINT) for _ in range(20)]
            assert limiter.statistics().degraded
            # Local pacing at 100/4 = 25/s: the 20th call waits about 19/25 s.
            assert waits[-1] == pytest.approx(19 / 25, abs=0.05)
            assert sum("unreachable" in r.message for r in caplog.records) == 1
            server.start()
            await asyncio.sleep(0.25)  # past the probe interval
            await limiter.reserve(ENDPOINT)
            assert not limiter.statistics().degraded
            assert any("answers again" in r.message for r in caplog.records)


async def test_clients_sharing_a_coordinator_are_never_throttled(redis_target: RedisTarget) -> None:
    """Three clients of one app each sending 40 messages at once through a server enforcing 50/s:
    every send succeeds and the server refused none (the limit is app-wide, not per client)."""
    async with (
        DevServer(limits={"*": 50}) as server,
        redis_target.coordinator(key_prefix=redis_target.prefix, workers=3) as coordinator,
    ):
        clients = [client_for(server, f"w{i}", limits={"*": 50}, coordinator=coordinator) for i in range(3)]
        for client in clients:
            await client.open()
        try:
            sends = [
                client.msg.send_new_msg(f"peer{j % 5}", ConvType.C2C, text(f"{i}-{j}"))
                for i, client in enumerate(clients)
                for j in range(40)
            ]
            started = time.monotonic()
            sent = await asyncio.gather(*sends)
            elapsed = time.monotonic() - started
        finally:
            for client in clients:
                await client.aclose()
        throttled = sum(c.pipeline.statistics().throttled for c in clients)
        assert len(sent) == 120 and throttled == 0
        assert elapsed >= (120 - 50) / 50 * 0.9  # paced at the app's limit, not 3x it


async def test_redis_keys_carry_the_app_and_endpoint(redis_target: RedisTarget) -> None:
    """The GCRA state lives at <prefix>:rate:<sdk_app_id>:<endpoint> and expires by itself."""
    async with redis_target.coordinator(key_prefix=redis_target.prefix) as coordinator:
        limiter = coordinator.limiter(1400000009, {"*": 10}, 0.0)
        await limiter.reserve(ENDPOINT)
        client = redis_target.client()
        try:
            key = f"{redis_target.prefix}:rate:1400000009:{ENDPOINT}"
            assert await client.exists(key) == 1
            assert 0 < await client.pttl(key) <= 2000
        finally:
            await client.aclose()


def test_unreachable_redis_fails_under_ci_and_skips_elsewhere() -> None:
    """Unreachable Redis: a failure under CI=true, elsewhere a skip that gives the reason."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(pytest.fail.Exception, match="CI=true needs Redis"):
        require_redis(dead, ci=True)
    with pytest.raises(pytest.skip.Exception, match="unreachable"):
        require_redis(dead, ci=False)


HOSTILE = {
    "31 years ahead": lambda now_us: str(now_us + 31 * 365 * 86400 * 10**6),
    "inf": lambda now_us: "inf",
    "nan": lambda now_us: "nan",
    "not a number": lambda now_us: "soon",
}


async def test_a_hostile_limiter_key_is_capped_and_repaired(
    redis_target: RedisTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's limiter key overwritten with a far-future instant (with a 31-year TTL) or garbage:
    no call waits more than the cap (60 s), and the key is repaired to a sane instant and TTL."""
    caplog.set_level(logging.WARNING, logger="aio_tim.coordination")
    client = redis_target.client()
    try:
        stalled, longest, ttls = {}, {}, {}
        for index, (name, value) in enumerate(HOSTILE.items()):
            async with redis_target.coordinator(key_prefix=f"{redis_target.prefix}:{index}") as shared:
                limiter = shared.limiter(1400000001, {"*": 100}, 0.0)
                key = f"{redis_target.prefix}:{index}:rate:1400000001:{ENDPOINT}"
                seconds, micros = await client.time()
                await client.set(key, value(seconds * 10**6 + micros), ex=31 * 365 * 86400)
                waits = [await limiter.reserve(ENDPOINT) for _ in range(10)]
                stalled[name] = sum(1 for wait in waits if wait > 60)
                longest[name] = round(max(waits), 3)
                ttls[name] = await client.pttl(key)
        print(
            "hostile limiter keys: tried 10 calls each; stalled past 60 s:", stalled, "longest wait:", longest
        )
        assert sum(stalled.values()) == 0
        assert max(longest.values()) < 1.0  # repaired at once: paced at 100/s from now
        assert all(0 < ttl <= 2000 for ttl in ttls.values()), ttls
        assert sum("repaired" in r.message for r in caplog.records) == len(HOSTILE)  # once each
    finally:
        await client.aclose()
