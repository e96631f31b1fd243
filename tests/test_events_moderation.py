"""Issue 25 item 8: a before-send decision is answered within TIM's 2 s whatever the handler, the
store or the handler's return value do; a timeout means what the user chose (`on_timeout`).

The dev server asks the app's `on_before_send` handler over loopback before it stores a message, as
TIM does (a late answer, a 503 or no answer lets the message through), so "delivered though
rejected" is counted where it matters: at the server. Each test prints its counts.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from aio_tim import Client, ConvType, Message, TextElem, TIMError
from aio_tim.devserver import DevServer
from aio_tim.events.decide import Allow, Reject
from aio_tim.events.model import Event
from aio_tim.testing import client_for


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def app(server: DevServer, tmp_path: Path) -> AsyncIterator[Client]:
    """The app's backend: it receives every webhook (as user "app"), with a file store."""
    async with client_for(server, "app", store_path=tmp_path / "app.db") as client:
        server.set_webhook(await client.listen())
        yield client


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """What hung handlers wait on; opened when the test ends so no thread outlives it by much."""
    opened = threading.Event()
    yield opened
    opened.set()


def text_of(event: Event) -> str:
    assert event.message is not None
    return " ".join(e.content for e in event.message.elem_array if isinstance(e, TextElem))


class Tally:
    """Sends from alice to bob and counts what the server did with each: delivered or refused, and
    how long the send took (the before-send answer is inside it)."""

    def __init__(self, alice: Client) -> None:
        self.alice = alice
        self.outcomes: Counter[str] = Counter()
        self.slowest: Counter[str] = Counter()  # kind -> seconds

    async def send(self, content: str, kind: str) -> None:
        started = time.monotonic()
        try:
            await self.alice.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content)]))
            outcome = "delivered"
        except TIMError as exc:
            outcome = f"refused {exc.code}"
        self.slowest[kind] = max(self.slowest[kind], time.monotonic() - started)
        self.outcomes[f"{kind} {outcome}"] += 1

    def line(self, tried: int, failed: int) -> str:
        through = self.outcomes["forbidden delivered"]
        slowest = {kind: round(seconds, 2) for kind, seconds in self.slowest.items()}
        return (f"tried {tried}, delivered though rejected {through}, 503s {failed}; "
                f"{dict(self.outcomes)}; slowest send (s) {slowest}")  # fmt: skip


def moderate(gate: threading.Event) -> Callable[[Event], Reject | None]:
    """A synchronous handler that rejects "forbidden" and hangs (until the gate opens) on "hang"."""

    def handler(event: Event) -> Reject | None:
        content = text_of(event)
        if "hang" in content:
            gate.wait(30)
        return Reject(info="not here") if "forbidden" in content else None

    return handler


async def test_hung_sync_handlers_never_turn_later_rejects_into_allows(
    app: Client, alice: Client, gate: threading.Event
) -> None:
    """Twelve calls of a synchronous handler hang (more than the loop's default executor has
    threads); the ten messages after them that the handler rejects are still refused, in time.
    (The dev server asks about one message at a time, so the sends queue behind each other.)"""
    app.on_before_send(moderate(gate), timeout=0.3)
    tally = Tally(alice)
    await asyncio.gather(*(tally.send(f"hang {n}", "hung") for n in range(12)))
    for n in range(10):
        await tally.send(f"forbidden {n}", "forbidden")
    failed = app.webhook_statistics().get("failed", 0)
    print(f"\nhung sync handler: {tally.line(22, failed)}")
    assert tally.outcomes["forbidden refused 20006"] == 10
    assert tally.outcomes["hung delivered"] == 12  # on_timeout="allow" (the default): fail-open
    assert failed == 0 and tally.slowest["forbidden"] < 2.0


async def test_on_timeout_reject_fails_closed(app: Client, alice: Client, gate: threading.Event) -> None:
    """With on_timeout="reject", a handler still running at its timeout refuses the message."""
    app.on_before_send(moderate(gate), timeout=0.5, on_timeout="reject")
    tally = Tally(alice)
    for n in range(4):
        await tally.send(f"hang {n}", "hung")
    await tally.send("fine", "plain")
    print(f"\nfail-closed: {tally.line(5, app.webhook_statistics().get('failed', 0))}")
    assert tally.outcomes == {"hung refused 20006": 4, "plain delivered": 1}
    assert tally.slowest["hung"] < 2.0


async def test_a_locked_store_does_not_delay_the_decision(app: Client, alice: Client, tmp_path: Path) -> None:
    """Another process holds the store's write lock for 3 s: messages the handler rejects are refused
    within TIM's 2 s anyway (decided while the event commits), and their events are committed once
    the lock goes."""
    app.on_before_send(lambda event: Reject() if "forbidden" in text_of(event) else None, timeout=0.4)
    tally = Tally(alice)
    locker = sqlite3.connect(tmp_path / "app.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locked = time.monotonic()
    try:
        for n in range(5):
            await tally.send(f"forbidden {n}", "forbidden")
        under_lock = time.monotonic() - locked
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await asyncio.sleep(0.5)
    backlog = await app.inbox_backlog()
    stats = app.webhook_statistics()
    print(f"\nstore locked 3 s: {tally.line(5, stats.get('failed', 0))}; before-send events committed "
          f"{backlog}/5, answered before their commit {stats.get('decided_before_commit', 0)}")  # fmt: skip
    assert under_lock < 3.0, "the lock went before the sends were done"
    assert tally.outcomes["forbidden refused 20006"] == 5 and tally.slowest["forbidden"] < 2.0
    assert backlog == 5


BAD = {
    "Reject(info=12345)": lambda event: Reject(info=12345),  # type: ignore[arg-type]
    "Allow('str')": lambda event: Allow("str"),  # type: ignore[arg-type]
    "a string": lambda event: "maybe",
    "a number": lambda event: 0,
}


async def test_bad_returns_are_clear_errors_never_503s(app: Client, alice: Client) -> None:
    """`Reject(info=12345)` and `Allow("str")` raise TypeError where they are made; a handler that
    returns them (or anything that is no decision) never makes a 503 or a number in ErrorInfo:
    construction errors get on_timeout ("reject" here), other returns a logged reject."""
    with pytest.raises(TypeError, match="info"):
        Reject(info=12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Message"):
        Allow("str")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_timeout"):
        app.on_before_send(lambda event: None, on_timeout="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        app.on_before_send("not a function")  # type: ignore[arg-type]
    tally = Tally(alice)
    for why, handler in BAD.items():
        app.on_before_send(handler, on_timeout="reject")  # type: ignore[arg-type]
        await tally.send(f"forbidden: {why}", "forbidden")
    failed = app.webhook_statistics().get("failed", 0)
    print(f"\nbad returns: {tally.line(len(BAD), failed)}")
    assert tally.outcomes == {"forbidden refused 20006": len(BAD)} and failed == 0


async def test_a_handler_swallowing_cancellation_is_answered_in_time(app: Client, alice: Client) -> None:
    """An async handler that catches its cancellation and carries on for 3 s: the answer goes out at
    the timeout anyway (on_timeout="reject" refuses the message)."""

    async def stubborn(event: Event) -> Allow:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(3)
        return Allow()

    app.on_before_send(stubborn, timeout=0.5, on_timeout="reject")
    tally = Tally(alice)
    for n in range(3):
        await tally.send(f"forbidden {n}", "forbidden")
    print(f"\nswallowed cancellation: {tally.line(3, app.webhook_statistics().get('failed', 0))}")
    assert tally.outcomes == {"forbidden refused 20006": 3} and tally.slowest["forbidden"] < 2.0
