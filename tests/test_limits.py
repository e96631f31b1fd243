"""TIM's call frequency limits: the shared table, the dev server refusing as TIM does, the dev
server's dedup windows, and a client pipeline staying under (or waiting out) a server's limit."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from aio_tim.auth import UserSigCache
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.devserver.limits import RateLimiter, throttle_code
from aio_tim.errors import RateLimitedError, TIMError
from aio_tim.pipeline import MessagePipeline, RetryPolicy
from aio_tim.protocol import Request
from aio_tim.protocol.group import GroupMsgGetSimple, SendGroupMsg, SendGroupMsgResponse
from aio_tim.protocol.limits import RATE_LIMITS, limit_for
from aio_tim.protocol.msgbody import to_msg_body
from aio_tim.protocol.openim import SendMsg
from aio_tim.types import TextElem

BODY = to_msg_body([TextElem(content="hi")])


class FrozenClock:
    """Unix time that moves only when told."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # now: UserSigs are minted on the real clock

    def __call__(self) -> float:
        return self.now


def c2c(n: int, to: str = "bob") -> SendMsg:
    return SendMsg(To_Account=to, From_Account="alice", MsgRandom=n, MsgBody=BODY)


def group_send(random_: int) -> SendGroupMsg:
    return SendGroupMsg(GroupId="g1", Random=random_, MsgBody=BODY)


async def connect(server: DevServer) -> ConnectionManager:
    signer = UserSigCache(server.sdk_app_id, server.secret_key, server.admin)
    connection = ConnectionManager(server.url, server.sdk_app_id, signer)
    await connection.open()
    return connection


@dataclass
class Frozen:
    connection: ConnectionManager
    clock: FrozenClock


@pytest.fixture
async def frozen() -> AsyncIterator[Frozen]:
    """A dev server allowing 5 calls/s per endpoint, on a clock that moves only when told."""
    clock = FrozenClock()
    async with DevServer(clock=clock, limits={"*": 5}) as server:
        await server.create_group("g1", owner="alice")
        connection = await connect(server)
        try:
            yield Frozen(connection, clock)
        finally:
            await connection.aclose()


async def outcome(connection: ConnectionManager, request: Request) -> int:
    """The ErrorCode a call ends with (0 for success)."""
    try:
        await connection.call(request)
    except TIMError as error:
        return error.code
    return 0


# --- the table -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "limits", "expected"),
    [
        ("openim/sendmsg", RATE_LIMITS, 200),
        ("openim/batchsendmsg", RATE_LIMITS, 100),
        ("group_open_http_svc/send_group_msg", RATE_LIMITS, 200),
        ("im_open_login_svc/account_import", RATE_LIMITS, 200),  # "most endpoints: 200/s"
        ("openim/sendmsg", {}, 200),
        ("openim/sendmsg", {"openim/sendmsg": 50}, 50),
        ("openim/sendmsg", {"*": 20}, 20),
        ("openim/sendmsg", {"*": 20, "openim/sendmsg": None}, None),
        ("openim/sendmsg", {"openim/sendmsg": 0}, None),
        ("openim/sendmsg", None, None),
    ],
)
def test_limit_for_reads_overrides_then_the_documented_table(
    endpoint: str, limits: dict[str, float | None] | None, expected: float | None
) -> None:
    """An endpoint's own entry wins, then `"*"`, then TIM's table; None or 0 is unlimited."""
    assert limit_for(endpoint, limits) == expected


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [
        ("openim/sendmsg", 60007),
        ("openim/batchsendmsg", 60007),
        ("im_open_login_svc/account_import", 60007),
        ("group_open_http_svc/send_group_msg", 10023),
        ("group_open_http_svc/group_msg_get_simple", 10006),
        ("group_open_http_svc/import_group_msg", 10006),
    ],
)
def test_throttle_codes_follow_the_endpoint_family(endpoint: str, code: int) -> None:
    """60007 for REST calls in general, 10023 for group sends, 10006 for other group calls."""
    assert throttle_code(endpoint) == code


def test_the_limiter_refills_at_its_rate() -> None:
    """A bucket holds `limit` calls and refills at `limit` per second; a clock stepping back mints none."""
    clock = FrozenClock()
    limiter = RateLimiter({"*": 4}, clock)
    for _ in range(4):
        limiter.check("openim/sendmsg")
    with pytest.raises(RateLimitedError):
        limiter.check("openim/sendmsg")
    clock.now -= 10
    with pytest.raises(RateLimitedError):
        limiter.check("openim/sendmsg")
    clock.now += 10.5  # half a second later than the start: two calls' worth
    limiter.check("openim/sendmsg")
    limiter.check("openim/sendmsg")
    with pytest.raises(RateLimitedError):
        limiter.check("openim/sendmsg")
    assert limiter.refused == 3


# --- the dev server --------------------------------------------------------------------------------


async def test_over_the_limit_is_refused_with_60007_then_allowed_again(frozen: Frozen) -> None:
    """The sixth sendmsg in a frozen second gets 60007; a second later calls pass again."""
    codes = [await outcome(frozen.connection, c2c(n)) for n in range(6)]
    assert codes == [0, 0, 0, 0, 0, 60007]
    frozen.clock.now += 1
    assert await outcome(frozen.connection, c2c(99)) == 0


async def test_group_calls_are_refused_with_group_codes(frozen: Frozen) -> None:
    """Group sends over the limit get 10023, other group calls 10006; each endpoint has its own bucket."""
    read = GroupMsgGetSimple(GroupId="g1", ReqMsgNumber=1)
    sends = [await outcome(frozen.connection, group_send(n)) for n in range(6)]
    reads = [await outcome(frozen.connection, read) for _ in range(6)]
    assert sends[-2:] == [0, 10023] and reads[-2:] == [0, 10006]


async def test_a_refusal_is_an_http_200_envelope(frozen: Frozen) -> None:
    """Like TIM, the dev server answers an over-limit call with HTTP 200 and a FAIL envelope."""
    for n in range(5):
        await frozen.connection.call(c2c(n))
    url = frozen.connection.signed_url("v4/openim/sendmsg")
    async with aiohttp.ClientSession() as session, session.post(url, data=b"{}") as response:
        assert response.status == 200
        reply = await response.json()
    assert reply["ActionStatus"] == "FAIL" and reply["ErrorCode"] == 60007


async def test_limits_are_on_by_default_at_tims_rates() -> None:
    """A default DevServer lets 200 sendmsg through in a frozen second and refuses the 201st."""
    async with DevServer(clock=FrozenClock()) as server:
        connection = await connect(server)
        try:
            codes = await asyncio.gather(*(outcome(connection, c2c(n, f"u{n % 50}")) for n in range(201)))
        finally:
            await connection.aclose()
    assert sorted(codes) == [0] * 200 + [60007]


async def test_enforce_limits_false_turns_them_off() -> None:
    """DevServer(enforce_limits=False) never throttles."""
    async with DevServer(clock=FrozenClock(), enforce_limits=False, limits={"*": 1}) as server:
        connection = await connect(server)
        try:
            codes = [await outcome(connection, c2c(n)) for n in range(5)]
        finally:
            await connection.aclose()
    assert codes == [0] * 5


async def test_the_group_dedup_window_is_configurable() -> None:
    """group_dedup_window=2: the same Random 1 s later is the same message, 2 s later a new one."""
    clock = FrozenClock()
    async with DevServer(clock=clock, group_dedup_window=2) as server:
        await server.create_group("g1", owner="alice")
        connection = await connect(server)
        try:
            seqs = []
            for step in (0, 1, 2):
                clock.now += step
                reply = await connection.call(group_send(7))
                assert isinstance(reply, SendGroupMsgResponse)
                seqs.append(reply.MsgSeq)
        finally:
            await connection.aclose()
    assert seqs == [1, 1, 2]


def test_dedup_windows_must_be_positive() -> None:
    """A window under one second is refused."""
    with pytest.raises(ValueError, match="group_dedup_window"):
        DevServer(group_dedup_window=0)


# --- client and server together --------------------------------------------------------------------


async def test_a_paced_client_is_never_throttled() -> None:
    """With the same limit on both sides, 150 concurrent sends at 100/s are never refused."""
    limits = {"openim/sendmsg": 100}
    async with DevServer(limits=limits) as server:
        connection = await connect(server)
        pipeline = MessagePipeline(connection.call, limits=limits)
        try:
            started = time.monotonic()
            await asyncio.gather(*(pipeline.submit(c2c(n, f"u{n % 30}")) for n in range(150)))
            elapsed = time.monotonic() - started
        finally:
            await pipeline.aclose()
            await connection.aclose()
    stats = pipeline.statistics()
    assert (stats.sent, stats.throttled) == (150, 0)
    assert 150 / elapsed < 100 * 1.02 + 2  # at most the burst beyond the paced rate


async def test_an_unpaced_client_waits_throttles_out() -> None:
    """A client without limits against a 20/s server: throttled calls wait and all 60 succeed."""
    async with DevServer(limits={"openim/sendmsg": 20}) as server:
        connection = await connect(server)
        retry = RetryPolicy(throttled_base_delay=0.2, max_delay=0.5)
        pipeline = MessagePipeline(connection.call, limits=None, retry=retry, rng=random.Random(3))
        try:
            await asyncio.gather(*(pipeline.submit(c2c(n, f"u{n % 30}")) for n in range(60)))
        finally:
            await pipeline.aclose()
            await connection.aclose()
    stats = pipeline.statistics()
    assert stats.sent == 60 and stats.throttled > 0 and stats.failed == 0
