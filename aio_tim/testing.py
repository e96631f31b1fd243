"""Test helpers for code that uses aio_tim: a dev server and clients bound to it.

`pip install 'aio_tim[testing]'` and the fixtures are there in every test, with no conftest
import (pytest finds them through the `pytest11` entry point, `aio_tim.pytest_plugin`):

    # test_greeting.py
    from aio_tim import ConvType, MsgStatus

    async def test_greeting(tim):
        sent = await tim.msg.send_text("bob", ConvType.C2C, "hello")
        assert sent.status == MsgStatus.SEND_SUCC

`dev_server` is a fresh `DevServer` on loopback (auto-creating accounts); `tim` is a `Client`
acting as "alice" against it. `client_for(server, user_id)` builds more clients; it needs no
pytest, so scripts and examples use it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import Client
from .devserver import DevServer
from .faultproxy import FaultPlan, FaultProxy

if TYPE_CHECKING:
    from .pytest_plugin import dev_server, tim

__all__ = ["FaultPlan", "FaultProxy", "client_for", "dev_server", "tim"]


def client_for(server: DevServer, user_id: str, **options: Any) -> Client:
    """A Client acting as `user_id`, signing as the server's admin with its secret key.

    Its store is in memory unless `store_path` is given; any other `Client` option may be too
    (`base_url=proxy.url` puts a `FaultProxy` in between):

        async with client_for(dev_server, "bob", max_in_flight=8) as bob:
            page = await bob.msg.get_msg_list("alice", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
    """
    defaults: dict[str, Any] = {
        "sdk_app_id": server.sdk_app_id,
        "secret_key": server.secret_key,
        "base_url": server.url,  # a FaultProxy's url may stand in between
        "admin": server.admin,
        "store_path": ":memory:",
    }
    return Client(user_id=user_id, **(defaults | options))


def __getattr__(name: str) -> Any:
    # The fixtures need pytest-asyncio; importing them lazily keeps `client_for` usable after a
    # plain `pip install aio_tim` (the examples use it), and `from aio_tim.testing import tim`
    # still works where the testing extra is installed.
    if name in ("dev_server", "tim"):
        from . import pytest_plugin

        return getattr(pytest_plugin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
