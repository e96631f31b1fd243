"""Test helpers for code that uses aio_tim: a dev server and clients bound to it.

`pip install 'aio_tim[testing]'` and the fixtures are there in every test, with no conftest
import (pytest finds them through the `pytest11` entry point, `aio_tim.testing.plugin`):

    # test_greeting.py
    from aio_tim import ConvType, MsgStatus

    async def test_greeting(tim):
        sent = await tim.msg.send_text("bob", ConvType.C2C, "hello")
        assert sent.status == MsgStatus.SEND_SUCC

`dev_server` is a fresh `DevServer` on loopback (auto-creating accounts); `tim` is a `Client`
acting as "alice" against it; `dev_faults` its fault switches (TIM error codes, latency, failing
webhooks on purpose). `client_for(server, user_id)` builds more clients; it needs no
pytest, so scripts and examples use it too.

The package, bottom up: `clients` (`client_for`) and `faultproxy` need only aio_tim; `fixtures`
adds pytest; `plugin` registers the fixtures with pytest. Arrows point down only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clients import client_for
from .faultproxy import FaultPlan, FaultProxy

if TYPE_CHECKING:
    from .fixtures import dev_faults, dev_server, tim

__all__ = ["FaultPlan", "FaultProxy", "client_for", "dev_faults", "dev_server", "tim"]


def __getattr__(name: str) -> Any:
    # The fixtures need pytest; importing them lazily keeps `client_for` usable after a plain
    # `pip install aio_tim` (the examples use it), and `from aio_tim.testing import tim` still
    # works where the testing extra is installed.
    if name in ("dev_server", "tim", "dev_faults"):
        from . import fixtures

        return getattr(fixtures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
