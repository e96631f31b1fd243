"""pytest helpers for code that uses aio_tim: a dev server and a client bound to it.

In your `conftest.py`:

    from aio_tim.testing import dev_server, tim  # noqa: F401  (fixtures)

    async def test_greeting(tim):
        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, {...})

`dev_server` is a fresh `DevServer` on loopback (auto-creating accounts); `tim` is a `Client`
acting as "alice" against it. `client_for(server, user_id)` builds more clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from .client import Client
from .devserver import DevServer
from .faultproxy import FaultPlan, FaultProxy

__all__ = ["FaultPlan", "FaultProxy", "client_for", "dev_server", "tim"]


def client_for(server: DevServer, user_id: str, **options: Any) -> Client:
    """A Client acting as `user_id`, signing as the server's admin with its secret key.

    Its store is in memory unless `store_path` is given; any other `Client` option may be too:

        async with client_for(dev_server, "bob", max_in_flight=8) as bob:
            page = await bob.msg.get_msg_list("alice", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
    """
    return Client(
        sdk_app_id=server.sdk_app_id,
        user_id=user_id,
        secret_key=server.secret_key,
        base_url=server.url,
        admin=server.admin,
        **({"store_path": ":memory:"} | options),
    )


@pytest_asyncio.fixture
async def dev_server() -> AsyncIterator[DevServer]:
    """A running dev server with state in memory, torn down after the test.

    Accounts are created on first use; groups with `create_group`:

        async def test_group_send(tim, dev_server):
            await dev_server.create_group("team", owner="alice", members=["bob"])
            await tim.msg.send_new_msg("team", ConvType.GROUP, msg)
    """
    async with DevServer() as server:
        yield server


@pytest_asyncio.fixture
async def tim(dev_server: DevServer) -> AsyncIterator[Client]:
    """A Client acting as "alice" against `dev_server`.

    Its local store is in memory:

        async def test_send(tim):
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
            assert sent.status == MsgStatus.SEND_SUCC
    """
    async with client_for(dev_server, "alice") as client:
        yield client
