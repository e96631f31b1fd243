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
    """A Client acting as `user_id`, signing as the server's admin with its secret key."""
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
    """A running dev server with state in memory, torn down after the test."""
    async with DevServer() as server:
        yield server


@pytest_asyncio.fixture
async def tim(dev_server: DevServer) -> AsyncIterator[Client]:
    """A Client acting as "alice" against `dev_server`."""
    async with client_for(dev_server, "alice") as client:
        yield client
