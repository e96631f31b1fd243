"""`client_for`: a Client bound to a dev server, for tests, scripts and examples (no pytest needed)."""

from __future__ import annotations

from typing import Any

from ..client import Client
from ..devserver import DevServer

__all__ = ["client_for"]


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
