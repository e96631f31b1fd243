"""MessagePipeline: failure classification, retry policy, budget, pacing, ordering, backpressure and
closing, against named fakes of the connection and a virtual clock (no real waiting)."""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import defaultdict
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey

from aio_tim.auth import UserSigCache
from aio_tim.connection import ConnectionManager
from aio_tim.connection.errors import parse_retry_after, reply_error, status_error, transport_error
from aio_tim.errors import RateLimitedError, TIMError, TransportError, error_for
from aio_tim.pipeline import (
    Failure,
    MessagePipeline,
    PipelineClosedError,
    PipelineFullError,
    RetryBudget,
    RetryPolicy,
    TokenBucket,
    classify,
)
from aio_tim.protocol import Envelope, Request
from aio_tim.protocol.openim import SendMsg

ENDPOINT = "openim/sendmsg"
KEY = ConnectionKey("console.tim.qq.com", 443, True, True, None, None, None)


class VirtualClock:
    """Time that moves only when everyone waits: sleepers wake one at a time, earliest first, and
    the clock reads each one's wake-up time when it resumes."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._driver: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        waker = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, len(self.sleeps), waker))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        await waker

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(20):  # let whatever can run without time passing run first
                await asyncio.sleep(0)
            when, _, waker = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not waker.done():
                waker.set_result(None)


class ScriptedServer:
    """A fake `call`: answers each request from a script of errors, then succeeds.

    `script` maps a request's To_Account to the errors its successive attempts raise.
    """

    def __init__(self, clock: VirtualClock, script: dict[str, list[TIMError]] | None = None) -> None:
        self.clock = clock
        self.script = defaultdict(list, script or {})
        self.calls: list[tuple[float, str]] = []
        self.concurrent = self.peak_concurrent = 0
        self.delay = 0.0

    async def __call__(self, request: Request) -> Envelope:
        assert isinstance(request, SendMsg)
        self.calls.append((self.clock(), request.To_Account))
        self.concurrent += 1
        self.peak_concurrent = max(self.peak_concurrent, self.concurrent)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            await asyncio.sleep(0)
            errors = self.script[request.To_Account]
            if errors:
                raise errors.pop(0)
            return Envelope()
        finally:
            self.concurrent -= 1


def send(to: str = "bob", rand: int = 1) -> SendMsg:
    return SendMsg(To_Account=to, MsgRandom=rand, MsgBody=[])


def pipeline(call: Callable[[Request], object], clock: VirtualClock, **options: object) -> MessagePipeline:
    defaults: dict[str, object] = {
        "limits": None,
        "rng": random.Random(5),
        "clock": clock,
        "sleep": clock.sleep,
    }
    return MessagePipeline(call, **(defaults | options))  # type: ignore[arg-type]


def reset() -> TransportError:
    return transport_error(ENDPOINT, aiohttp.ClientOSError(104, "Connection reset by peer"))


def refused() -> TransportError:
    return transport_error(ENDPOINT, aiohttp.ClientConnectorError(KEY, OSError(111, "Connection refused")))


def throttled(code: int = 60007) -> TIMError:
    return error_for(code, "over the limit")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


# --- classification -------------------------------------------------------------------------------

CLASSIFICATION = [
    ("connect-refused", refused(), Failure.NOT_SENT),
    (
        "dns",
        transport_error(ENDPOINT, aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "no name"))),
        Failure.NOT_SENT,
    ),
    ("connect-timeout", transport_error(ENDPOINT, aiohttp.ConnectionTimeoutError()), Failure.NOT_SENT),
    ("throttle-60007", throttled(60007), Failure.THROTTLED),
    ("throttle-60011", throttled(60011), Failure.THROTTLED),
    ("throttle-60018", throttled(60018), Failure.THROTTLED),
    ("throttle-60019", throttled(60019), Failure.THROTTLED),
    ("throttle-10006", throttled(10006), Failure.THROTTLED),
    ("throttle-10023", throttled(10023), Failure.THROTTLED),
    ("http-429", status_error(ENDPOINT, 429), Failure.THROTTLED),
    ("http-503-retry-after", status_error(ENDPOINT, 503, 2.0), Failure.THROTTLED),
    ("reset-after-write", reset(), Failure.AMBIGUOUS),
    ("server-disconnected", transport_error(ENDPOINT, aiohttp.ServerDisconnectedError()), Failure.AMBIGUOUS),
    ("read-timeout", transport_error(ENDPOINT, aiohttp.SocketTimeoutError()), Failure.AMBIGUOUS),
    ("total-timeout", transport_error(ENDPOINT, TimeoutError()), Failure.AMBIGUOUS),
    ("body-cut", transport_error(ENDPOINT, aiohttp.ClientPayloadError("cut")), Failure.AMBIGUOUS),
    ("garbled-reply", reply_error(ENDPOINT, "not JSON"), Failure.AMBIGUOUS),
    ("http-502", status_error(ENDPOINT, 502), Failure.AMBIGUOUS),
    ("internal-70500", error_for(70500), Failure.AMBIGUOUS),
    ("internal-91000", error_for(91000), Failure.AMBIGUOUS),
    ("usersig-expired-70001", error_for(70001), Failure.FATAL),
    ("usersig-bad-70009", error_for(70009), Failure.FATAL),
    ("not-admin-60010", error_for(60010), Failure.FATAL),
    ("bad-json-90001", error_for(90001), Failure.FATAL),
    ("too-many-90011", error_for(90011), Failure.FATAL),
    ("sensitive-80001", error_for(80001), Failure.FATAL),
    ("too-long-80002", error_for(80002), Failure.FATAL),
    ("no-account-70107", error_for(70107), Failure.FATAL),
    ("permission-10007", error_for(10007), Failure.FATAL),
    ("http-404", status_error(ENDPOINT, 404), Failure.FATAL),
    ("unknown-code", error_for(123456), Failure.FATAL),
]


@pytest.mark.parametrize(("name", "error", "kind"), CLASSIFICATION, ids=[c[0] for c in CLASSIFICATION])
def test_every_failure_is_classified(name: str, error: TIMError, kind: Failure) -> None:
    """Each failure falls in exactly the class RELIABILITY.md gives it."""
    assert classify(error) is kind
    assert error.retryable is (kind is not Failure.FATAL)


# --- retry policy ----------------------------------------------------------------------------------


async def test_not_sent_is_retried_past_max_attempts(clock: VirtualClock) -> None:
    """A request that never left is retried freely (within the deadline), and counted as not sent."""
    server = ScriptedServer(clock, {"bob": [refused() for _ in range(9)]})
    p = pipeline(server, clock, retry=RetryPolicy(max_attempts=2))
    await p.submit(send())
    stats = p.statistics()
    assert (stats.sent, stats.not_sent, stats.retried, stats.ambiguous, stats.failed) == (1, 9, 9, 0, 0)


async def test_ambiguous_failures_stop_at_max_attempts(clock: VirtualClock) -> None:
    """After max_attempts ambiguous failures the last error is raised; each counted ambiguous."""
    server = ScriptedServer(clock, {"bob": [reset() for _ in range(10)]})
    p = pipeline(server, clock, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError):
        await p.submit(send())
    assert len(server.calls) == 3
    stats = p.statistics()
    assert (stats.ambiguous, stats.retried, stats.failed, stats.sent) == (3, 2, 1, 0)


async def test_fatal_errors_are_raised_at_once(clock: VirtualClock) -> None:
    """An auth or parameter error is not retried."""
    server = ScriptedServer(clock, {"bob": [error_for(70001)]})
    p = pipeline(server, clock)
    with pytest.raises(TIMError) as caught:
        await p.submit(send())
    assert caught.value.code == 70001
    assert len(server.calls) == 1 and p.statistics().retried == 0


async def test_throttles_are_waited_out_without_failing(clock: VirtualClock) -> None:
    """Throttle codes are waited out (≥1 s base), spend no budget and count as throttled, not failed."""
    budget = RetryBudget(capacity=5)
    server = ScriptedServer(
        clock, {"bob": [throttled(code) for code in (60007, 60011, 10023, 60007, 60007, 60007)]}
    )
    p = pipeline(server, clock, budget=budget, retry=RetryPolicy(max_attempts=2))
    await p.submit(send())
    stats = p.statistics()
    assert (stats.sent, stats.throttled, stats.failed, stats.ambiguous) == (1, 6, 0, 0)
    assert budget.tokens == 5
    assert clock.sleeps[0] <= 1.0 and all(s <= RetryPolicy().max_delay for s in clock.sleeps)


async def test_retry_after_is_honoured_and_capped(clock: VirtualClock) -> None:
    """A 429/503 Retry-After sets the wait, capped at retry_after_cap."""
    server = ScriptedServer(
        clock, {"bob": [status_error(ENDPOINT, 503, 2.5), status_error(ENDPOINT, 429, 600.0)]}
    )
    p = pipeline(server, clock, retry=RetryPolicy(retry_after_cap=30.0, deadline=100.0))
    await p.submit(send())
    assert clock.sleeps == [2.5, 30.0]


@pytest.mark.parametrize("retry", range(1, 9))
def test_backoff_is_full_jitter_under_a_cap(retry: int) -> None:
    """The n-th backoff is uniform in [0, min(cap, base * 2**n)]."""
    policy = RetryPolicy(base_delay=0.05, max_delay=1.0)
    rng = random.Random(retry)
    delays = [policy.backoff(retry, rng) for _ in range(2000)]
    ceiling = min(1.0, 0.05 * 2**retry)
    assert min(delays) >= 0 and max(delays) <= ceiling
    assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling  # spread over the whole range


async def test_the_deadline_ends_retries(clock: VirtualClock) -> None:
    """A server that stays unreachable is given up on once the deadline would pass."""
    server = ScriptedServer(clock, {"bob": [refused() for _ in range(10_000)]})
    p = pipeline(server, clock, retry=RetryPolicy(deadline=20.0, max_delay=2.0))
    started = clock()
    with pytest.raises(TransportError) as caught:
        await p.submit(send())
    assert caught.value.sent is False
    assert 15.0 < clock() - started <= 20.0


async def test_shared_budget_turns_an_outage_into_fast_failures(clock: VirtualClock) -> None:
    """Retries stop when the shared budget is empty: later calls fail after a single attempt."""
    budget = RetryBudget(capacity=20, retry_cost=5)
    server = ScriptedServer(clock, {f"u{n}": [status_error(ENDPOINT, 502)] * 10 for n in range(10)})
    p = pipeline(server, clock, budget=budget, retry=RetryPolicy(max_attempts=3))
    for n in range(10):
        with pytest.raises(TIMError):
            await p.submit(send(f"u{n}"))
    attempts = [sum(1 for _, to in server.calls if to == f"u{n}") for n in range(10)]
    assert attempts[:2] == [3, 3] and attempts[2:] == [1] * 8  # 4 retries x 5 tokens = 20
    assert budget.tokens == 0 and p.statistics().retried == 4


async def test_the_budget_refills_as_the_server_recovers(clock: VirtualClock) -> None:
    """Successes put tokens back: a retry that succeeds returns its cost, a first try adds one."""
    budget = RetryBudget(capacity=20, retry_cost=5)
    server = ScriptedServer(clock, {"a": [status_error(ENDPOINT, 502)]})
    p = pipeline(server, clock, budget=budget)
    await p.submit(send("a"))
    assert budget.tokens == 20
    budget.tokens = 0
    for n in range(5):
        await p.submit(send(f"ok{n}"))
    assert budget.tokens == 5


async def test_already_done_after_an_ambiguous_attempt_is_success(clock: VirtualClock) -> None:
    """A done_code (20023 already recalled) answering a retry proves the first attempt worked."""
    server = ScriptedServer(clock, {"bob": [reset(), error_for(20023)]})
    p = pipeline(server, clock)
    assert await p.submit(send(), done_codes=frozenset({20023})) == Envelope()
    fresh = ScriptedServer(clock, {"bob": [error_for(20023)]})
    with pytest.raises(TIMError):  # without an earlier ambiguous attempt it is a real error
        await pipeline(fresh, clock).submit(send(), done_codes=frozenset({20023}))


# --- pacing ----------------------------------------------------------------------------------------


def test_token_bucket_paces_after_its_burst() -> None:
    """A bucket lets `burst` calls through at once, then one per 1/rate seconds, first come first served."""
    bucket = TokenBucket(rate=10, burst=3)
    waits = [bucket.reserve(now=0.0) for _ in range(6)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3])
    assert bucket.reserve(now=10.0) == 0  # refilled after a pause, but only up to the burst


async def test_limits_keep_every_second_under_the_ceiling(clock: VirtualClock) -> None:
    """At 100/s, no one-second window of calls holds more than 100, and the rate is ~98% of it."""
    server = ScriptedServer(clock)
    p = pipeline(server, clock, limits={ENDPOINT: 100})
    start = clock()
    await asyncio.gather(*(p.submit(send(f"u{n}", n)) for n in range(500)))
    times = sorted(t for t, _ in server.calls)
    assert max(sum(1 for t in times if w <= t < w + 1) for w in times) <= 100
    assert 500 / (clock() - start) == pytest.approx(98, rel=0.02)


@pytest.mark.parametrize(
    ("limits", "paced"),
    [
        (None, False),
        ({"*": None}, False),
        ({"*": 0, "openim/batchsendmsg": 10}, False),
        ({"*": 10}, True),
        ({"*": None, ENDPOINT: 10}, True),
        ({}, True),  # TIM's documented 200/s
    ],
)
async def test_limits_name_endpoints_or_everything_else(
    clock: VirtualClock, limits: dict[str, float | None] | None, paced: bool
) -> None:
    """An endpoint takes its own entry, else `"*"`, else TIM's table; None or 0 means unlimited."""
    p = pipeline(ScriptedServer(clock), clock, limits=limits)
    await asyncio.gather(*(p.submit(send(f"u{n}")) for n in range(20)))
    assert bool(clock.sleeps) is paced


# --- ordering, concurrency, backpressure ---------------------------------------------------------


async def test_one_conversation_is_sent_in_submission_order_despite_retries(clock: VirtualClock) -> None:
    """Calls with one order key reach the server in submission order, each after the previous succeeded."""
    rng = random.Random(9)
    script = {f"m{n}": [reset() for _ in range(rng.randrange(3))] for n in range(200)}
    server = ScriptedServer(clock, script)
    p = pipeline(server, clock)
    await asyncio.gather(*(p.submit(send(f"m{n}"), order_key="bob") for n in range(200)))
    successes = [
        to for to in _successful_calls(server.calls, script_counts={k: len(v) for k, v in script.items()})
    ]
    assert successes == [f"m{n}" for n in range(200)]


def _successful_calls(calls: list[tuple[float, str]], script_counts: dict[str, int]) -> list[str]:
    seen: dict[str, int] = defaultdict(int)
    done = []
    for _, to in calls:
        seen[to] += 1
        if seen[to] == script_counts.get(to, 0) + 1:
            done.append(to)
    return done


async def test_in_flight_calls_never_exceed_the_bound(clock: VirtualClock) -> None:
    """No more than max_in_flight calls are on the wire at once."""
    server = ScriptedServer(clock)
    server.delay = 0.001
    p = pipeline(server, clock, max_in_flight=7)
    await asyncio.gather(*(p.submit(send(f"u{n}")) for n in range(100)))
    assert server.peak_concurrent == 7


async def test_queue_depth_never_exceeds_max_queued(clock: VirtualClock) -> None:
    """With 1,000 callers and room for 50, callers wait at the door; all are served, none dropped."""
    server = ScriptedServer(clock)
    server.delay = 0.001
    p = pipeline(server, clock, max_in_flight=4, max_queued=50)
    depths: list[int] = []

    async def watch() -> None:
        while True:
            depths.append(p.statistics().queued)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(p.submit(send(f"u{n}")) for n in range(1000)))
    watcher.cancel()
    stats = p.statistics()
    assert stats.sent == 1000 and stats.peak_queued == 50 and max(depths) <= 50


async def test_a_full_queue_refuses_without_blocking_when_asked(clock: VirtualClock) -> None:
    """submit(block=False) on a full queue raises PipelineFullError; what was queued still goes out."""
    server = ScriptedServer(clock)
    server.delay = 0.01
    p = pipeline(server, clock, max_in_flight=1, max_queued=3)
    accepted = [asyncio.create_task(p.submit(send(f"u{n}"))) for n in range(4)]  # 1 in flight, 3 queued
    await asyncio.sleep(0)
    with pytest.raises(PipelineFullError) as caught:
        await p.submit(send("late"), block=False)
    assert caught.value.code == 9507
    await asyncio.gather(*accepted)
    assert p.statistics().sent == 4


async def test_statistics_are_a_frozen_snapshot_and_repr_shows_state(clock: VirtualClock) -> None:
    """statistics() is immutable; repr shows queue, flight and closed state."""
    p = pipeline(ScriptedServer(clock), clock)
    stats = p.statistics()
    with pytest.raises(AttributeError):
        stats.sent = 3  # type: ignore[misc]
    assert repr(p) == "<MessagePipeline queued=0 in_flight=0 sent=0 closed=False>"


# --- closing ---------------------------------------------------------------------------------------


async def test_close_drains_what_is_queued(clock: VirtualClock) -> None:
    """aclose waits for queued and in-flight work and reports 0 unfinished when all went out."""
    server = ScriptedServer(clock)
    server.delay = 0.001
    p = pipeline(server, clock, max_in_flight=2)
    tasks = [asyncio.create_task(p.submit(send(f"u{n}"))) for n in range(20)]
    await asyncio.sleep(0)
    assert await p.aclose(timeout=5) == 0
    assert all(t.done() and not t.exception() for t in tasks)


async def test_close_reports_what_it_could_not_finish(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the timeout aclose returns the unfinished count, logs it, and those callers get errors."""
    hang = asyncio.Event()

    async def stuck(request: Request) -> Envelope:
        await hang.wait()
        return Envelope()

    p = pipeline(stuck, clock, max_in_flight=2, max_queued=5)
    tasks = [asyncio.create_task(p.submit(send(f"u{n}"))) for n in range(10)]  # 2 flying, 5 queued, 3 blocked
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="aio_tim.pipeline"):
        unfinished = await p.aclose(timeout=0.05)
    assert unfinished == 10
    assert "10 operations unfinished" in caplog.text
    hang.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(o, PipelineClosedError) for o in outcomes) == 8
    assert sum(o == Envelope() for o in outcomes) == 2  # the in-flight calls completed at the server
    with pytest.raises(PipelineClosedError):
        await p.submit(send())


async def test_close_cuts_retry_waits_short(clock: VirtualClock) -> None:
    """A call waiting to retry ends with PipelineClosedError when closing gives up, not after its wait."""

    async def slow_sleep(seconds: float) -> None:
        await asyncio.sleep(60)

    server = ScriptedServer(clock, {"bob": [refused()]})
    p = pipeline(server, clock, sleep=slow_sleep)
    task = asyncio.create_task(p.submit(send()))
    await asyncio.sleep(0.01)
    assert await p.aclose(timeout=0.01) == 1
    with pytest.raises(PipelineClosedError):
        await asyncio.wait_for(task, 1)


async def test_async_with_closes(clock: VirtualClock) -> None:
    """`async with MessagePipeline(...)` closes on exit; afterwards submits are refused."""
    async with pipeline(ScriptedServer(clock), clock) as p:
        await p.submit(send())
    assert p.closed
    with pytest.raises(PipelineClosedError):
        await p.submit(send())


async def test_a_cancelled_caller_frees_its_place(clock: VirtualClock) -> None:
    """Cancelling a waiting caller leaves the queue and lane usable for the others."""
    server = ScriptedServer(clock)
    server.delay = 0.01
    p = pipeline(server, clock, max_in_flight=1, max_queued=2)
    tasks = [asyncio.create_task(p.submit(send(f"u{n}"), order_key="bob")) for n in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert p.statistics().queued == 0 and p.statistics().sent == 2
    await p.submit(send("after"), order_key="bob")


async def test_rate_limited_error_keeps_its_type() -> None:
    """A throttled answer without Retry-After stays a plain RateLimitedError (retry_after absent)."""
    err = status_error(ENDPOINT, 429)
    assert type(err) is RateLimitedError and not hasattr(err, "retry_after")


# --- Retry-After from the wire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 2015 07:28:30 GMT", 20.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str | None, seconds: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP-date (relative to now); anything else is ignored."""
    now = 1445412490.0  # Wed, 21 Oct 2015 07:28:10 GMT
    assert parse_retry_after(header, clock=lambda: now) == seconds


async def test_a_503_with_retry_after_is_waited_out(clock: VirtualClock) -> None:
    """A proxy's 503 + Retry-After: 3 makes the pipeline wait 3 s, then the call succeeds."""
    answers = [
        web.Response(status=503, headers={"Retry-After": "3"}),
        web.json_response({"ActionStatus": "OK"}),
    ]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    app = web.Application()
    app.router.add_post("/v4/{service}/{command}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    signer = UserSigCache(1400000000, "k" * 64, "administrator")
    try:
        async with ConnectionManager(f"http://127.0.0.1:{port}", 1400000000, signer) as connection:
            p = pipeline(connection.call, clock)
            await p.submit(send())
    finally:
        await runner.cleanup()
    assert clock.sleeps == [3.0] and p.statistics().throttled == 1


# --- waiting in line: O(1) to hold and to wake -----------------------------------------------------


class CallbackCounter:
    """Counts the callbacks the event loop runs (a task's step or wake-up is one) while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        run = asyncio.Handle._run

        def counted(handle: asyncio.Handle) -> None:
            self.count += 1
            run(handle)

        monkeypatch.setattr(asyncio.Handle, "_run", counted)


async def instant(request: Request) -> Envelope:
    await asyncio.sleep(0)  # one loop turn on the wire
    return Envelope()


@pytest.mark.parametrize("calls", [400, 4000])
async def test_a_waiting_call_is_woken_once_when_it_may_go(
    calls: int, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gathered calls past the queue, their lanes and the slots each cost the loop the same few
    callbacks, however many wait: its task's first step, one wake-up, the call, gather's callback."""
    p = pipeline(instant, clock, max_in_flight=4, max_queued=100)
    counter = CallbackCounter(monkeypatch)
    await asyncio.gather(*(p.submit(send(f"u{n % 20}"), order_key=n % 20) for n in range(calls)))
    assert p.statistics().sent == calls
    assert counter.count / calls <= 4.1


async def test_a_cancelled_caller_next_in_line_passes_its_lane_on(clock: VirtualClock) -> None:
    """A caller cancelled while its lane was its own (waiting for a slot) hands the lane to the
    next caller of its key, who goes in order once a slot frees."""
    gate = asyncio.Event()
    order: list[str] = []

    async def held(request: Request) -> Envelope:
        assert isinstance(request, SendMsg)
        order.append(request.To_Account)
        if request.To_Account == "first":
            await gate.wait()
        return Envelope()

    p = pipeline(held, clock, max_in_flight=1)
    first = asyncio.create_task(p.submit(send("first"), order_key="a"))
    ready = asyncio.create_task(p.submit(send("cancelled"), order_key="b"))
    behind = [asyncio.create_task(p.submit(send(f"b{n}"), order_key="b")) for n in range(3)]
    await asyncio.sleep(0)
    ready.cancel()
    gate.set()
    await asyncio.gather(first, *behind)
    assert ready.cancelled()
    assert order == ["first", "b0", "b1", "b2"]
    assert p.statistics().queued == 0 and p.outstanding == 0


async def test_a_cancelled_blocked_caller_gives_up_its_turn(clock: VirtualClock) -> None:
    """A caller cancelled while waiting for a queue place is skipped; the callers after it get in."""
    server = ScriptedServer(clock)
    server.delay = 0.001
    p = pipeline(server, clock, max_in_flight=1, max_queued=1)
    tasks = [asyncio.create_task(p.submit(send(f"u{n}"))) for n in range(5)]  # 1 flying, 1 queued, 3 blocked
    await asyncio.sleep(0)
    assert p.statistics().blocked == 3
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert [to for _, to in server.calls] == ["u0", "u1", "u3", "u4"]
    assert p.statistics().blocked == 0 and p.statistics().sent == 4
