"""The `dev_server`, `tim` and `dev_faults` fixtures (they need pytest and pytest-asyncio).

`aio_tim.testing.plugin` registers them with pytest; `from aio_tim.testing import dev_server, tim`
also finds them here. Without pytest-asyncio (a plain `pip install aio_tim` that happens to have
pytest) this module still loads, and a test that asks for one of the fixtures fails saying what to
install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest

from ..client import Client
from ..devserver import DevServer
from ..devserver.faults import FaultSwitches
from .clients import client_for

__all__ = ["dev_faults", "dev_server", "tim"]

pytest_asyncio: ModuleType | None
try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only without the testing extra
    pytest_asyncio = None

_MISSING = "aio_tim's fixtures need pytest-asyncio: pip install 'aio_tim[testing]'"


def _fixture(func: Any) -> Any:
    """An async fixture through pytest-asyncio; without it, one that fails saying what to install."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(func)

    def unavailable() -> None:  # pragma: no cover
        pytest.fail(_MISSING, pytrace=False)

    return pytest.fixture(unavailable, name=func.__name__)


@_fixture
async def dev_server() -> AsyncIterator[DevServer]:
    """A running dev server with state in memory, torn down after the test.

    Accounts are created on first use; groups with `create_group`:

        async def test_group_send(tim, dev_server):
            await dev_server.create_group("team", owner="alice", members=["bob"])
            await tim.msg.send_text("team", ConvType.GROUP, "hi team")
    """
    async with DevServer() as server:
        yield server


@_fixture
async def tim(dev_server: DevServer) -> AsyncIterator[Client]:
    """A Client acting as "alice" against `dev_server`; its local store is in memory.

    async def test_send(tim):
        sent = await tim.msg.send_text("bob", ConvType.C2C, "hi")
        assert sent.status == MsgStatus.SEND_SUCC
    """
    async with client_for(dev_server, "alice") as client:
        yield client


@pytest.fixture
def dev_faults(dev_server: DevServer) -> Iterator[FaultSwitches]:
    """`dev_server`'s fault switches; every fault is removed and rate limits are back on after
    the test. The next send fails with a chosen TIM code, or a webhook delivery does:

        async def test_expired_usersig(tim, dev_faults):
            dev_faults.add("openim/sendmsg", error_code=70001, count=1)
            with pytest.raises(AuthError):
                await tim.msg.send_text("bob", ConvType.C2C, "hi")
    """
    faults = dev_server.faults
    try:
        yield faults
    finally:
        faults.clear()
        faults.limits_enabled = True
