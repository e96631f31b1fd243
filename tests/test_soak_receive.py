"""Issue 25: a short receive-side soak (benchmarks/soak_receive.py; `--minutes 5` there is the full
one). Webhooks split into pieces, redelivered and reordered, id-less membership events repeated
within a second, moderation under load, slowloris connections and SIGKILLs of the receiver, and,
on Redis, garbage entries, a FLUSHALL and an empty restart: nothing answered OK is lost (beyond
what Redis itself forgot), no distinct event is dropped as a duplicate, no rejected message is
answered "allow". (AIO_TIM_RECEIVE_SOAK_SECONDS sets the length; 15 s by default.)"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from redis_support import PrivateRedis

SECONDS = float(os.environ.get("AIO_TIM_RECEIVE_SOAK_SECONDS", "15"))
SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak_receive.py"


def load_soak() -> ModuleType:
    """benchmarks/ is not a package: load soak_receive.py by path."""
    spec = importlib.util.spec_from_file_location("_soak_receive", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_soak_receive"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("use_redis", [False, True], ids=["sqlite-inbox", "redis-inbox"])
async def test_short_receive_soak_loses_drops_and_lets_through_nothing(
    tmp_path: Path, use_redis: bool
) -> None:
    """A short receive soak: 0 lost, 0 distinct events dropped as duplicates, 0 rejects answered allow."""
    if use_redis:
        PrivateRedis(tmp_path)  # fails under CI=true, skips elsewhere, when redis-server is missing
    verdict = await load_soak().soak(SECONDS, tmp_path, use_redis=use_redis)
    print("\n" + verdict.report())
    tally = verdict.tally
    assert len(tally.answered) > 100 and tally.kills > 0 and tally.split_posts > 0 and tally.slowloris > 0
    assert tally.moderated["forbidden rejected"] > 0 and sum(tally.membership_sent.values()) > 10
    if use_redis:
        assert tally.garbage > 0 and len(tally.flushes) == 2
    assert verdict.lost == 0 and verdict.dropped_as_duplicate == 0 and verdict.allowed_though_rejected == 0
    assert verdict.ok
