"""Sending through a FaultProxy to the dev server over loopback: resets, refusals, 502 outages,
slow answers. Nothing is lost, nothing is duplicated, and the pipeline says what happened.

The C2C dedup window is 1 s in TIM; these servers use `c2c_dedup_window=60` so that a retry
after a reset-after-commit always meets the first copy, whatever the machine's load. (With a
1 s window a retry that comes later than that second duplicates on TIM too.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
import pytest

from aio_tim import ConvType, Message, TextElem
from aio_tim.auth import UserSigCache
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError, TransientError, TransportError
from aio_tim.msg import MsgManager, SendContext
from aio_tim.pipeline import MessagePipeline, PipelineClosedError, RetryBudget, RetryPolicy
from aio_tim.protocol.openim import AdminGetRoamMsg, AdminGetRoamMsgResponse, RoamMsg, SendMsg
from aio_tim.protocol.outgoing import c2c_send_request
from aio_tim.store import LocalStore
from aio_tim.testing import FaultPlan as ExportedPlan
from aio_tim.testing import FaultProxy as ExportedProxy
from aio_tim.testing.faultproxy import FaultPlan, FaultProxy

RESETS = FaultPlan(reset_before=0.025, reset_after=0.025)  # 5%: half before, half after the commit


# --- helpers ---------------------------------------------------------------------------------------


@dataclass
class Sender:
    """What `Client` assembles (connection, pipeline, local store, `msg`), pointed at `url`."""

    msg: MsgManager
    pipeline: MessagePipeline
    connection: ConnectionManager


def connection_to(server: DevServer, url: str) -> ConnectionManager:
    signer = UserSigCache(server.sdk_app_id, server.secret_key, server.admin)
    return ConnectionManager(url, server.sdk_app_id, signer, max_connections=64)


@contextlib.asynccontextmanager
async def sender(server: DevServer, url: str, **pipeline_options: Any) -> AsyncIterator[Sender]:
    options: dict[str, Any] = {"limits": None, "rng": random.Random(11)} | pipeline_options
    async with connection_to(server, url) as connection, LocalStore(":memory:") as store:
        pipeline = MessagePipeline(connection.call, **options)
        context = SendContext("alice", pipeline, store, time.time, random.Random(12))
        yield Sender(MsgManager(context), pipeline, connection)
        await pipeline.aclose(timeout=5)


@contextlib.asynccontextmanager
async def dedup_server_behind_proxy(
    plan: FaultPlan | None = None,
) -> AsyncIterator[tuple[DevServer, FaultProxy]]:
    async with (
        DevServer(enforce_limits=False, c2c_dedup_window=60) as server,
        FaultProxy("127.0.0.1", server.port, plan=plan or FaultPlan(), rng=random.Random(7)) as proxy,
    ):
        yield server, proxy


def fixed_sends(count: int, peers: int, seed: int = 1, seq: int | None = None) -> list[SendMsg]:
    """C2C sends whose idempotency keys are fixed once, built as send_new_msg builds them."""
    rng = random.Random(seed)
    now = int(time.time())
    messages = [
        Message(
            elem_array=[TextElem(content=str(n))], rand=rng.getrandbits(32), seq=seq or n + 1, client_time=now
        )
        for n in range(count)
    ]
    return [c2c_send_request(f"p{n % peers}", "alice", m) for n, m in enumerate(messages)]


async def roaming(server: DevServer, peer: str) -> list[RoamMsg]:
    """Every message alice sees with `peer`, oldest first, read straight from the server."""
    found: list[RoamMsg] = []
    async with connection_to(server, server.url) as connection:
        last_key: str | None = None
        max_time = 2**31
        while True:
            ask = AdminGetRoamMsg("alice", peer, MaxCnt=100, MinTime=0, MaxTime=max_time, LastMsgKey=last_key)
            page = await connection.call(ask)
            assert isinstance(page, AdminGetRoamMsgResponse)
            found = page.MsgList + found  # pages go back in time; each page is oldest first
            if page.Complete:
                return found
            max_time, last_key = page.LastMsgTime, page.LastMsgKey


async def stored_keys(server: DevServer, peers: int) -> Counter[tuple[str, str, int]]:
    """How many stored messages carry each (From, To, MsgRandom)."""
    pages = await asyncio.gather(*(roaming(server, f"p{n}") for n in range(peers)))
    return Counter((m.From_Account, m.To_Account, m.MsgRandom) for page in pages for m in page)


async def submit_all(
    pipeline: MessagePipeline, sends: list[SendMsg], midway: Callable[[], object] = lambda: None
) -> None:
    """Submit every send (64 at a time), each in its conversation's lane; call `midway()` once
    a quarter of them went out."""
    queue = iter(sends)
    done = 0

    async def worker() -> None:
        nonlocal done
        for request in queue:
            await pipeline.submit(request, order_key=request.To_Account)
            done += 1
            if done == len(sends) // 4:
                midway()

    await asyncio.gather(*(worker() for _ in range(64)))


# --- the proxy itself ------------------------------------------------------------------------------


def test_the_proxy_is_exported_for_users() -> None:
    """aio_tim.testing re-exports FaultProxy and FaultPlan."""
    assert (ExportedProxy, ExportedPlan) == (FaultProxy, FaultPlan)


def test_a_plan_draws_each_fault_at_its_rate() -> None:
    """With a seeded rng each fault comes up at its probability, and the rest pass untouched."""
    plan = FaultPlan(reset_before=0.1, reset_after=0.2, delay=0.05, cut=0.05, bad_gateway=0.1)
    rng = random.Random(3)
    drawn = Counter(plan.draw(rng) for _ in range(100_000))
    expected = {
        "reset_before": 0.1,
        "reset_after": 0.2,
        "delay": 0.05,
        "cut": 0.05,
        "bad_gateway": 0.1,
        None: 0.5,
    }
    for fault, share in expected.items():
        assert drawn[fault] / 100_000 == pytest.approx(share, abs=0.005)


@pytest.mark.parametrize("plan", [{"reset_before": -0.1}, {"reset_before": 0.6, "cut": 0.5}])
def test_a_plan_must_be_a_probability(plan: dict[str, float]) -> None:
    """Negative chances, or chances adding up past 1, are refused."""
    with pytest.raises(ValueError):
        FaultPlan(**plan)


FAULTS = [
    # fault, what the client sees, whether the server stored the message
    ("reset_before", TransportError, False),
    ("reset_after", TransportError, True),
    ("cut", TransportError, True),
    ("bad_gateway", TransientError, False),
    ("delay", None, True),
]


@pytest.mark.parametrize(("fault", "raised", "stored"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_each_fault_as_the_client_sees_it(
    fault: str, raised: type[TIMError] | None, stored: bool
) -> None:
    """Each fault surfaces as the error RELIABILITY.md expects; only the server knows if it committed."""
    plan = FaultPlan(**{fault: 1.0}, delay_seconds=0.05)  # type: ignore[arg-type]
    async with dedup_server_behind_proxy(plan) as (server, proxy), connection_to(server, proxy.url) as conn:
        request = fixed_sends(1, peers=1)[0]
        if raised is None:
            await conn.call(request)
        else:
            with pytest.raises(raised) as caught:
                await conn.call(request)
            assert not isinstance(caught.value, TransportError) or caught.value.sent
        assert len(await roaming(server, "p0")) == int(stored)
        assert getattr(proxy.counters, fault) == 1 and proxy.counters.faults == 1


async def test_refused_connections_are_not_sent_and_the_port_reopens() -> None:
    """While refusing, an open connection finishes one exchange and closes; the next call fails as
    never sent; after the refusal the same URL works again."""
    async with dedup_server_behind_proxy() as (server, proxy), connection_to(server, proxy.url) as conn:
        sends = fixed_sends(4, peers=1)
        await conn.call(sends[0])  # leaves a pooled keep-alive connection
        proxy.refuse_for(0.3)
        assert proxy.refusing
        await conn.call(sends[1])  # answered with `Connection: close`
        with pytest.raises(TransportError) as caught:
            await conn.call(sends[2])
        assert caught.value.sent is False
        await asyncio.sleep(0.4)
        await conn.call(sends[3])
        assert proxy.counters.refusals == 1 and not proxy.refusing
        assert len(await roaming(server, "p0")) == 3


async def test_a_chunked_request_passes_through_intact() -> None:
    """A streamed (chunked) request body is relayed whole: the server stores the message."""
    async with dedup_server_behind_proxy() as (server, proxy), connection_to(server, proxy.url) as conn:
        body = msgspec.json.encode(fixed_sends(1, peers=1)[0])

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 7):
                yield body[start : start + 7]

        url = conn.signed_url("v4/openim/sendmsg")
        async with aiohttp.ClientSession() as session, session.post(url, data=pieces()) as response:
            reply = await response.json()
        assert reply["ActionStatus"] == "OK", reply
        assert len(await roaming(server, "p0")) == 1 and proxy.counters.forwarded == 1


# --- nothing lost, nothing duplicated --------------------------------------------------------------


async def test_10000_sends_through_5_percent_resets_lose_and_duplicate_nothing() -> None:
    """10,000 C2C sends, 5% of exchanges reset (half before, half after the server committed): every
    send succeeds, each (From, To, MsgRandom) is stored exactly once, and the retries are reported."""
    sends = fixed_sends(10_000, peers=200)
    # Four attempts (the default) all reset has p = 0.05**4 per send: ~6% of runs would see one
    # of 10,000 sends give up. Six attempts make that 1.6e-4 per run.
    retry = RetryPolicy(max_attempts=6)
    async with (
        dedup_server_behind_proxy(RESETS) as (server, proxy),
        sender(server, proxy.url, retry=retry) as s,
    ):
        await submit_all(s.pipeline, sends)
        stats, faults = s.pipeline.statistics(), proxy.counters
        stored = await stored_keys(server, peers=200)
    assert stats.sent == 10_000 and stats.failed == 0
    assert set(stored) == {("alice", r.To_Account, r.MsgRandom) for r in sends}  # lost: 0
    assert max(stored.values()) == 1  # duplicates: 0
    assert faults.reset_before > 150 and faults.reset_after > 150
    assert stats.retried == stats.ambiguous == faults.reset_before + faults.reset_after


async def test_send_new_msg_is_exactly_once_through_resets() -> None:
    """send_new_msg fixes MsgRandom once: 1,000 sends through 5% resets, each stored exactly once."""
    async with dedup_server_behind_proxy(RESETS) as (server, proxy), sender(server, proxy.url) as s:
        message = Message(elem_array=[TextElem(content="hello")])
        results = await asyncio.gather(
            *(s.msg.send_new_msg(f"p{n % 50}", ConvType.C2C, message) for n in range(1000))
        )
        stored = await stored_keys(server, peers=50)
        retried = s.pipeline.statistics().retried
    assert set(stored) == {("alice", m.conv_id, m.rand) for m in results} and len(stored) == 1000
    assert max(stored.values()) == 1 and retried > 0


async def test_connections_refused_for_two_seconds_deliver_everything_none_ambiguous() -> None:
    """The proxy refuses connections for 2 s mid-run: every send arrives once, none is counted ambiguous."""
    sends = fixed_sends(3_000, peers=100)
    async with dedup_server_behind_proxy() as (server, proxy), sender(server, proxy.url) as s:
        started = time.monotonic()
        await submit_all(s.pipeline, sends, midway=lambda: proxy.refuse_for(2.0))
        elapsed = time.monotonic() - started
        stats = s.pipeline.statistics()
        stored = await stored_keys(server, peers=100)
    assert stats.sent == 3_000 and stats.ambiguous == 0 and stats.not_sent > 0
    assert len(stored) == 3_000 and max(stored.values()) == 1
    assert elapsed > 2.0


async def test_an_outage_of_502s_fails_fast_at_the_budget_then_recovers() -> None:
    """100% HTTP 502: retries stop when the budget is spent and calls fail after one attempt; once
    the server answers again, calls succeed and the budget refills."""
    budget = RetryBudget()  # AWS standard: 500 tokens, 5 per retry -> 100 retries
    async with (
        dedup_server_behind_proxy(FaultPlan(bad_gateway=1.0)) as (server, proxy),
        sender(server, proxy.url, budget=budget) as s,
    ):
        outage = fixed_sends(300, peers=30, seed=1)
        outcomes = await asyncio.gather(*(s.pipeline.submit(r) for r in outage), return_exceptions=True)
        assert all(isinstance(o, TransientError) and o.code == 60008 for o in outcomes)
        assert s.pipeline.statistics().retried == 100 and budget.tokens == 0
        assert proxy.counters.requests == 300 + 100
        started = time.monotonic()
        with pytest.raises(TransientError):
            await s.pipeline.submit(fixed_sends(1, peers=1, seed=2)[0])
        assert time.monotonic() - started < 0.5  # one attempt, no backoff
        proxy.plan = FaultPlan()
        recovered = fixed_sends(100, peers=30, seed=3)
        await asyncio.gather(*(s.pipeline.submit(r) for r in recovered))
        assert budget.tokens == 100


async def test_one_conversation_is_stored_in_submission_order_through_resets() -> None:
    """300 sends to one peer, submitted at once through 10% resets, are stored in submission order."""
    # One MsgSeq for all: within a second the server then orders them by arrival alone.
    sends = fixed_sends(300, peers=1, seq=7)
    plan = FaultPlan(reset_before=0.05, reset_after=0.05)
    async with dedup_server_behind_proxy(plan) as (server, proxy), sender(server, proxy.url) as s:
        await asyncio.gather(*(s.pipeline.submit(r, order_key="p0") for r in sends))
        history = await roaming(server, "p0")
        retried = s.pipeline.statistics().retried
    assert [m.MsgBody[0].MsgContent["Text"] for m in history] == [str(n) for n in range(300)]
    assert retried > 0


async def test_a_slow_server_backs_callers_up_within_the_bound() -> None:
    """Against a slow server the queue fills to max_queued and no further; every send arrives."""
    plan = FaultPlan(delay=1.0, delay_seconds=0.005)
    async with (
        dedup_server_behind_proxy(plan) as (server, proxy),
        sender(server, proxy.url, max_in_flight=8, max_queued=40) as s,
    ):
        sends = fixed_sends(400, peers=40)
        await asyncio.gather(*(s.pipeline.submit(r) for r in sends))
        stats = s.pipeline.statistics()
        stored = await stored_keys(server, peers=40)
    assert stats.sent == 400 and stats.peak_queued == 40 and len(stored) == 400


async def test_closing_with_the_server_down_reports_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    """With nothing accepting connections, aclose gives up after its timeout, logs and returns the
    count of unfinished sends; every caller gets an error and later submits are refused."""
    async with (
        dedup_server_behind_proxy() as (server, proxy),
        sender(server, proxy.url, max_in_flight=8) as s,
    ):
        # As after a first answer: a client that never reached its server fails at once instead.
        s.connection.reached = True
        proxy.refuse_for(30)
        tasks = [asyncio.create_task(s.pipeline.submit(r)) for r in fixed_sends(50, peers=5)]
        await asyncio.sleep(0.2)
        with caplog.at_level(logging.WARNING, logger="aio_tim.pipeline"):
            unfinished = await s.pipeline.aclose(timeout=0.3)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        with pytest.raises(PipelineClosedError):
            await s.pipeline.submit(fixed_sends(1, peers=1)[0])
        stored = await stored_keys(server, peers=5)
    assert unfinished == 50 and "50 operations unfinished" in caplog.text
    assert all(isinstance(o, PipelineClosedError | TransportError) for o in outcomes)
    assert sum(isinstance(o, PipelineClosedError) for o in outcomes) >= 42  # all but the 8 in flight
    assert not stored
