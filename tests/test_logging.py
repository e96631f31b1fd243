"""What aio_tim logs: one DEBUG line per REST call, INFO per retry, never a secret."""

from __future__ import annotations

import logging

import pytest

from aio_tim import ConvType, RetryPolicy, TIMError
from aio_tim.testing import FaultPlan, FaultProxy, client_for


async def test_each_rest_call_is_one_debug_line_without_secrets(dev_server, caplog):
    """A send logs its endpoint, code, attempt and duration at DEBUG on aio_tim.pipeline."""
    caplog.set_level(logging.DEBUG, logger="aio_tim")
    async with client_for(dev_server, "alice") as tim:
        await tim.msg.send_text("bob", ConvType.C2C, "hello")
    calls = [r for r in caplog.records if r.name == "aio_tim.pipeline" and r.levelno == logging.DEBUG]
    assert len(calls) == 1
    assert calls[0].getMessage().startswith("openim/sendmsg code=0 attempt=1 ")
    assert calls[0].getMessage().endswith("ms")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert dev_server.secret_key not in text and "usersig" not in text.lower()


async def test_retries_are_info_lines_naming_the_failure(dev_server, caplog):
    """A call that fails and is retried leaves an INFO line per retry and a DEBUG line per attempt."""
    caplog.set_level(logging.DEBUG, logger="aio_tim")
    retry = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    plan = FaultPlan(bad_gateway=1.0)
    async with FaultProxy("127.0.0.1", dev_server.port, plan=plan) as proxy:
        tim = client_for(dev_server, "alice", base_url=proxy.url, retry=retry)
        async with tim:
            with pytest.raises(TIMError):
                await tim.msg.send_text("bob", ConvType.C2C, "hello")
    records = [r for r in caplog.records if r.name == "aio_tim.pipeline"]
    retries = [r.getMessage() for r in records if r.levelno == logging.INFO]
    attempts = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert len(retries) == 2 and all("HTTP 502" in m and "ambiguous" in m for m in retries)
    assert [m.split()[2] for m in attempts] == ["attempt=1", "attempt=2", "attempt=3"]
