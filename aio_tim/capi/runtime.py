"""Where C-style calls run: the caller's event loop, or a loop of our own in a thread.

The C SDK calls back on its own logic thread. Here, code that calls `TIMInit` from inside a
running event loop gets its callbacks on that loop; plain synchronous code gets a background
thread running a private loop (the "logic thread"), which `TIMUninit` stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from ..errors import TIMError

__all__ = ["Callback", "Runtime"]

log = logging.getLogger("aio_tim.capi")

# cb(code, desc, json_params, user_data), the C SDK's TIMCommCallback.
Callback = Callable[[int, str, str, Any], None]


class Runtime:
    """An event loop to run operations on, and the callbacks that report their outcome."""

    def __init__(self) -> None:
        try:
            self.loop = asyncio.get_running_loop()
            self._thread: threading.Thread | None = None
        except RuntimeError:
            self.loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_loop, name="aio_tim-logic", daemon=True)
            self._thread.start()
        self._tasks: set[asyncio.Future[Any]] = set()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def owns_loop(self) -> bool:
        return self._thread is not None

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` on the loop, from whichever thread calls."""
        if self._in_loop_thread():
            task = self.loop.create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            asyncio.run_coroutine_threadsafe(work, self.loop)

    def call(self, work: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        """Run `work` to completion from a thread that is not the loop's (for TIMUninit)."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._thread is not None:
            # Operations still running (TIMUninit right after a call) are cancelled and awaited:
            # closing the loop over them would leave "coroutine never awaited" and "Task was
            # destroyed but it is pending" in the user's output.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_cancel_the_others(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()
            self._thread = None

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False


async def _cancel_the_others() -> None:
    this = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not this]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


async def report(work: Coroutine[Any, Any, str], cb: Callback | None, user_data: Any) -> None:
    """Await `work` and hand its outcome to `cb` as (code, desc, json_params, user_data)."""
    try:
        json_params = await work
    except TIMError as error:
        invoke(cb, error.code, error.desc, "", user_data)
    except Exception as error:  # an unexpected failure still reaches the caller, as 6017
        log.exception("aio_tim.capi operation failed")
        invoke(cb, 6017, f"{type(error).__name__}: {error}", "", user_data)
    else:
        invoke(cb, 0, "", json_params, user_data)


def invoke(cb: Callback | None, code: int, desc: str, json_params: str, user_data: Any) -> None:
    """Call the user's callback; its exceptions are logged, never allowed to kill the loop."""
    if cb is None:
        return
    try:
        cb(code, desc, json_params, user_data)
    except Exception:
        log.exception("a TIM callback raised")
