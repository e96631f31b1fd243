"""FileSink.aclose when the write in flight ended by cancellation (a download aborted mid-write)."""

from __future__ import annotations

import asyncio
import os
import threading

from aio_tim.transfer.sink import FileSink


async def _close_right_after_the_lane_is_cancelled(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    sink = FileSink(fd, 0, name="part")
    future = asyncio.get_running_loop().create_future()
    sink._inflight = future
    future.add_done_callback(sink._lane_done)
    future.cancel()  # its done callback is scheduled, not run: _inflight is still set
    await sink.aclose()
    return fd


def test_aclose_returns_when_the_lane_future_was_cancelled(tmp_path):
    """aclose yields so the lane's done callback can run, then closes the fd, instead of spinning
    forever on an already-done future (run in a daemon thread: a regression fails, not hangs)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(_close_right_after_the_lane_is_cancelled(str(tmp_path / "part"))))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "FileSink.aclose spun forever"
    [fd] = outcome
    assert isinstance(fd, int)
    try:
        os.fstat(fd)
    except OSError:
        pass
    else:
        raise AssertionError("the descriptor was left open")
