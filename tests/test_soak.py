"""Issue 11: a short soak (benchmarks/soak.py; `--minutes 5` there is the full one): mixed traffic
with random cancellation, SIGKILLed outbox clients and hostile requests, then every acknowledged
message is on the server exactly once and the server answers within its normal latency.
(AIO_TIM_SOAK_SECONDS sets the length; 12 s by default.)"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

SECONDS = float(os.environ.get("AIO_TIM_SOAK_SECONDS", "12"))
SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def load_soak() -> ModuleType:
    """benchmarks/ is not a package: load soak.py by path."""
    spec = importlib.util.spec_from_file_location("_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_soak"] = module
    spec.loader.exec_module(module)
    return module


async def test_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """A short soak: 0 lost, 0 duplicated, the median send no slower than before (3x, or +50 ms)."""
    verdict = await load_soak().soak(SECONDS, tmp_path)
    print("\n" + verdict.report())
    assert verdict.acked > 100 and verdict.tally.kills > 0
    assert sum(verdict.tally.hostile.values()) > 100
    assert verdict.lost == 0 and verdict.duplicated == 0
    assert verdict.ok
