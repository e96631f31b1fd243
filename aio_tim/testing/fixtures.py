"""The `dev_server` and `tim` fixtures (they need pytest and pytest-asyncio).

`aio_tim.testing.plugin` registers them with pytest; `from aio_tim.testing import dev_server, tim`
also finds them here. Without pytest-asyncio (a plain `pip install aio_tim` that happens to have
pytest) this module still loads, and a test that asks for one of the fixtures fails saying what to
install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

from ..client import Client
from ..devserver import DevServer
from .clients import client_for

__all__ = ["dev_server", "tim"]

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
