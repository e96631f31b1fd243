"""The pytest plugin behind `aio_tim.testing`: registers the `dev_server`, `tim` and `dev_faults`
fixtures.

Registered through the `pytest11` entry point, so after `pip install 'aio_tim[testing]'` any
test may ask for them by name:

    async def test_group_send(tim, dev_server):
        await dev_server.create_group("team", owner="alice", members=["bob"])
        await tim.msg.send_text("team", ConvType.GROUP, "hi team")

The plugin only uses the helpers (`aio_tim.testing.fixtures`); nothing in `aio_tim.testing`
imports it.
"""

from __future__ import annotations

from .fixtures import dev_faults, dev_server, tim

__all__ = ["dev_faults", "dev_server", "tim"]
