"""Where C-style calls run: the caller's event loop, or a loop of our own in a thread.

The C SDK calls back on its own logic thread. Here, code that calls `TIMInit` from inside a
running event loop gets its callbacks on that loop; plain synchronous code gets a background
thread running a private loop (the "logic thread"), which `TIMUninit` stops.

The contract every accepted call keeps: `submit` returns TIM_SUCC only when the call is on its
way, and then its callback is called exactly once, whatever happens next (TIMUninit, a dying
loop, a callback that raises SystemExit). Each accepted call is a `Pending` the runtime tracks
until it has called back; shutting down waits for them (up to `DRAIN_SECONDS`), then calls back
the rest with ERR_SDK_NOT_INITIALIZED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Final

from ..errors import TIM_ERR_SDKUNINIT, TIMError
from ..types import TIMResult

__all__ = ["DRAIN_SECONDS", "ERR_SDK_NOT_INITIALIZED", "Callback", "Pending", "Runtime", "invoke"]

log = logging.getLogger("aio_tim.capi")

# cb(code, desc, json_params, user_data), the C SDK's TIMCommCallback.
Callback = Callable[[int, str, str, Any], None]
Work = Callable[[], Coroutine[Any, Any, str]]

ERR_SDK_NOT_INITIALIZED: Final = 6013  # the C SDK's code for a call cut short by TIMUninit
DRAIN_SECONDS: Final = 10.0  # how long TIMUninit lets accepted calls finish before cutting them short
_UNINIT_DESC: Final = "TIMUninit was called (or the event loop ended) before the call finished"


class Pending:
    """One accepted call: it calls back exactly once (`finish`); progress steps come before that.

    Only the loop's thread finishes a call, so a plain flag is enough.
    """

    __slots__ = ("_done", "cb", "user_data")

    def __init__(self, cb: Callback | None, user_data: Any) -> None:
        self.cb, self.user_data, self._done = cb, user_data, False

    def progress(self, json_params: str) -> None:
        if not self._done:
            invoke(self.cb, 0, "", json_params, self.user_data)

    def finish(self, code: int, desc: str, json_params: str = "") -> None:
        if not self._done:
            self._done = True
            invoke(self.cb, code, desc, json_params, self.user_data)


class Runtime:
    """An event loop to run accepted calls on, and the bookkeeping that makes each call back once.

    `close` is the session's coroutine that closes its client; shutdown runs it after the calls
    in flight are done.
    """

    def __init__(self, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._close = close
        self._lock = threading.Lock()  # orders submissions against shutdown
        self._accepting = True
        self._pending: set[Pending] = set()
        self._calls: set[asyncio.Task[Any]] = set()  # the accepted calls' tasks
        self._background: set[asyncio.Task[Any]] = set()
        self._shutdown_task: asyncio.Task[None] | None = None
        self._finished = False
        try:
            self.loop = asyncio.get_running_loop()
            self._thread: threading.Thread | None = None
            self._guard: AsyncIterator[None] | None = _loop_end_guard(self)
            _start_generator(self._guard)
        except RuntimeError:
            self.loop = asyncio.new_event_loop()
            self._guard = None
            self._thread = threading.Thread(target=self._run_loop, name="aio_tim-logic", daemon=True)
            self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        except BaseException:  # pragma: no cover - invoke() already stops callbacks' exceptions
            log.exception("the aio_tim-logic thread's loop failed")
        finally:
            with self._lock:
                self._accepting = False
            self._fail_leftovers()
            self.loop.close()

    @property
    def owns_loop(self) -> bool:
        return self._thread is not None

    @property
    def usable(self) -> bool:
        """Whether calls can still run here (False once shut down, or when the loop is gone)."""
        if not self._accepting or self.loop.is_closed():
            return False
        if self._thread is not None:
            return self._thread.is_alive()
        return self.loop.is_running()

    # --- accepted calls ------------------------------------------------------------------------

    def submit(self, work: Work, cb: Callback | None, user_data: Any) -> int:
        """Run `work()` on the loop and report its outcome to `cb` once: TIM_SUCC, or
        TIM_ERR_SDKUNINIT (and no callback) when the runtime is shutting down or its loop is gone."""
        pending = Pending(cb, user_data)
        with self._lock:
            if not self.usable:
                return TIM_ERR_SDKUNINIT
            self._pending.add(pending)  # before the loop can finish (and discard) it
            try:
                if self._in_loop_thread():
                    self._start(pending, work)
                else:
                    self.loop.call_soon_threadsafe(self._start, pending, work)
            except RuntimeError:  # the loop closed under us
                self._pending.discard(pending)
                self._accepting = False
                return TIM_ERR_SDKUNINIT
        return int(TIMResult.SUCC)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run background `work` (no callback, e.g. the event pump) on the loop, from its thread."""
        _keep(self.loop.create_task(work), self._background)

    def _start(self, pending: Pending, work: Work) -> None:
        _keep(self.loop.create_task(self._report(pending, work)), self._calls)

    async def _report(self, pending: Pending, work: Work) -> None:
        try:
            json_params = await work()
        except TIMError as error:
            pending.finish(error.code, error.desc)
        except asyncio.CancelledError:
            pending.finish(ERR_SDK_NOT_INITIALIZED, _UNINIT_DESC)
            raise
        except Exception as error:
            if not self._accepting:  # the client went away under the call
                pending.finish(ERR_SDK_NOT_INITIALIZED, _UNINIT_DESC)
            else:  # an unexpected failure still reaches the caller, as 6017
                log.exception("aio_tim.capi operation failed")
                pending.finish(6017, f"{type(error).__name__}: {error}")
        else:
            pending.finish(0, "", json_params)
        finally:
            self._pending.discard(pending)

    # --- shutting down -------------------------------------------------------------------------

    def shutdown(self, timeout: float = DRAIN_SECONDS + 20) -> None:
        """Stop accepting calls, let those in flight finish (DRAIN_SECONDS), close the client and,
        when the loop is ours, stop it. From the loop's own thread (a callback, a coroutine) it
        cannot wait: it starts the shutdown and returns."""
        with self._lock:
            if not self._accepting:
                return
            self._accepting = False
        if self._in_loop_thread():
            self._shutdown_task = self.loop.create_task(self._shutdown())
            return
        try:
            self.loop.call_soon_threadsafe(self._begin_shutdown)
        except RuntimeError:  # the loop is closed already: nothing can run any more
            self._fail_leftovers()
            return
        if self._thread is not None:
            self._thread.join(timeout)

    def _begin_shutdown(self) -> None:
        self._shutdown_task = self.loop.create_task(self._shutdown())

    async def _shutdown(self) -> None:
        try:
            await self._drain()
        finally:  # cancelled (a loop's teardown) or not, the client is closed
            try:
                await _finish_despite_cancel(self._close)
            finally:
                self._finished = True
                self._fail_leftovers()
                await self._stop_background()
                if self._guard is not None:
                    await self._guard.aclose()  # type: ignore[attr-defined]
                if self._thread is not None:
                    self.loop.stop()

    async def _stop_background(self) -> None:
        """End the pumps (a poller sleeping between polls would outlive the loop otherwise)."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.wait(set(self._background))

    async def _drain(self) -> None:
        """Wait for the calls in flight, then cut the rest short (each calls back 6013)."""
        if self._calls:
            _, late = await asyncio.wait(set(self._calls), timeout=DRAIN_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def at_loop_end(self) -> None:
        """The borrowed loop is ending (asyncio.run's teardown): close what TIMUninit did not."""
        if self._finished:
            return
        self._finished = True
        with self._lock:
            self._accepting = False
        await _finish_despite_cancel(self._close)
        self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Call back every accepted call that has not (on the loop's thread, as always)."""
        for pending in list(self._pending):
            pending.finish(ERR_SDK_NOT_INITIALIZED, _UNINIT_DESC)
        self._pending.clear()

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False


def _keep(task: asyncio.Task[Any], tasks: set[asyncio.Task[Any]]) -> None:
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _finish_despite_cancel(close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `close()` to its end even if this task is cancelled (asyncio.run's teardown cancels
    every task once): a second run finishes what the first left (closing is idempotent), so no
    store or HTTP session is left open."""
    try:
        await close()
    except asyncio.CancelledError:
        await close()
        raise
    except Exception:  # the calls still call back, and the loop still stops
        log.exception("aio_tim.capi could not close the client")


async def _loop_end_guard(runtime: Runtime) -> AsyncIterator[None]:
    """An async generator the borrowed loop finalizes at its end (asyncio.run calls
    `shutdown_asyncgens` after cancelling the tasks): the session's client closes there."""
    try:
        yield
    finally:
        await runtime.at_loop_end()


def _start_generator(generator: AsyncIterator[None]) -> None:
    """Run `generator` to its first yield here, which registers it with the running loop."""
    step = generator.__anext__()
    with contextlib.suppress(StopIteration):
        step.send(None)  # type: ignore[attr-defined]


def invoke(cb: Callback | None, code: int, desc: str, json_params: str, user_data: Any) -> None:
    """Call the user's callback; whatever it raises (SystemExit too) is logged, never allowed to
    kill the loop or the logic thread."""
    if cb is None:
        return
    try:
        cb(code, desc, json_params, user_data)
    except BaseException:
        log.exception("a TIM callback raised")
