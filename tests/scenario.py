"""A shared scenario for the operation tests: one dev server with a group, alice and bob, one clock.

The dev server and its clients share a settable clock so that UserSigs stay valid whatever time a
test sets. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from aio_tim import Client, Message, TextElem
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

T0 = 1_700_000_000
GROUP = "g1"


class Clock:
    """A settable clock shared by the dev server and its clients (keeps UserSigs valid)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def text(content: str, **fields: object) -> Message:
    return Message(elem_array=[TextElem(content=content)], **fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def server(clock: Clock) -> AsyncIterator[DevServer]:
    """A dev server on `clock` with group g1 (owner alice, member bob), created a day before T0
    so that history can be imported into it."""
    async with DevServer(clock=clock) as srv:
        await srv.create_group(GROUP, owner="alice", members=("bob",), created=T0 - 86400)
        yield srv


@pytest_asyncio.fixture
async def alice(server: DevServer, clock: Clock) -> AsyncIterator[Client]:
    async with client_for(server, "alice", clock=clock) as client:
        yield client


@pytest_asyncio.fixture
async def bob(server: DevServer, clock: Clock) -> AsyncIterator[Client]:
    async with client_for(server, "bob", clock=clock) as client:
        yield client
