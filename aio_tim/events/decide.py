"""Before-callbacks: the app decides whether a message goes out, within TIM's answer time.

A handler (sync or async) gets the `Event` of a `C2C.CallbackBeforeSendMsg` or
`Group.CallbackBeforeSendMsg` and returns a decision:

    def moderate(event: Event) -> Decision | None:
        text = " ".join(e.content for e in event.message.elem_array if isinstance(e, TextElem))
        if "forbidden" in text:
            return Reject(info="not allowed here")        # the sender gets 20006 (C2C) / 10016 (group)
        return None                                       # None: let it through unchanged

A handler that raises, or is still running at `timeout`, gives no decision: the answer is the
`on_timeout` fallback, "allow" (TIM's own default for a failed callback, fail-open) or "reject"
(fail-closed). A handler that returns something that is not a decision is a bug the answer must not
guess about: it is logged, and the message rejected. The answer never waits past `timeout`: an
async handler still running is cancelled and left behind (even one that swallows the
cancellation), a synchronous one runs on a thread of its own, so a hung one holds that thread, never
the loop's default executor or the decisions after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol import callbacks as cb
from ..protocol.msgbody import to_msg_body
from ..types import Message
from .model import Event

__all__ = [
    "Allow",
    "BeforeSendHandler",
    "Decision",
    "Discard",
    "OnTimeout",
    "Reject",
    "answer_for",
    "check_handler",
    "decide",
]

log = logging.getLogger("aio_tim.events")
DEFAULT_TIMEOUT: Final = 1.5  # seconds: room inside TIM's 2 s for the network and our own commit
MAX_HANDLER_THREADS: Final = 64  # synchronous handlers running at once; past that, no decision
OnTimeout = Literal["allow", "reject"]


@dataclass(frozen=True)
class Allow:
    """Let the message through; with `message`, its elements (and cloud data) replace the sent ones."""

    message: Message | None = None

    def __post_init__(self) -> None:
        if self.message is not None and not isinstance(self.message, Message):
            raise TypeError(f"Allow takes a Message or None, not {type(self.message).__name__}")


@dataclass(frozen=True)
class Reject:
    """Refuse the message. `code` 1 (TIM's refusal) or a custom code in 120001..130000 the sender sees."""

    code: int = cb.REJECT
    info: str = "rejected by the app"

    def __post_init__(self) -> None:
        if not isinstance(self.code, int) or isinstance(self.code, bool):
            raise TypeError(f"Reject code must be an int, not {type(self.code).__name__}")
        if self.code != cb.REJECT and self.code not in cb.CUSTOM_REJECT_CODES:
            raise UsageError(TIM_ERR_PARAM, f"Reject code must be 1 or in 120001..130000, not {self.code}")
        if not isinstance(self.info, str):
            raise TypeError(f"Reject info must be a str, not {type(self.info).__name__}")


@dataclass(frozen=True)
class Discard:
    """Drop the message silently: the sender sees success, nobody receives it."""


Decision = Allow | Reject | Discard
BeforeSendHandler = Callable[[Event], "Decision | bool | Awaitable[Decision | bool | None] | None"]
_FALLBACK: Final[dict[str, Decision]] = {
    "allow": Allow(),
    "reject": Reject(info="the app could not decide in time"),
}
_abandoned: set[asyncio.Task[object]] = set()  # handlers past their time, left to finish on their own


def check_handler(handler: object, timeout: float, on_timeout: str) -> None:
    """Refuse, at registration, what could never answer TIM properly."""
    if not callable(handler):
        raise TypeError(f"a before-send handler must be callable, not {type(handler).__name__}")
    if not 0 < timeout < cb.BEFORE_TIMEOUT:
        raise ValueError("timeout must be within TIM's 2 s answer time (0 < timeout < 2)")
    if on_timeout not in _FALLBACK:
        raise ValueError(f"on_timeout must be 'allow' or 'reject', not {on_timeout!r}")


async def decide(
    handler: BeforeSendHandler, event: Event, limit: float = DEFAULT_TIMEOUT, on_timeout: OnTimeout = "allow"
) -> cb.CallbackAnswer:
    """The answer to TIM within `limit` seconds: the handler's decision, else the `on_timeout` one."""
    fallback = _FALLBACK[on_timeout]
    try:
        task = _start(handler, event)
    except _Saturated:
        log.warning("%d before-send handlers still running; %s %s", MAX_HANDLER_THREADS, on_timeout, event.id)
        return answer_for(fallback)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    finally:
        if not task.done():  # timed out, or the request was cancelled: never wait for the handler
            task.cancel()
            _abandon(task)
    if not done:
        log.warning(
            "before-send handler took over %.1fs for %s; %s (on_timeout)", limit, event.id, on_timeout
        )
        return answer_for(fallback)
    try:
        result = task.result()
    except Exception:
        log.exception("before-send handler failed for %s; %s (on_timeout)", event.id, on_timeout)
        return answer_for(fallback)
    return _answer_of(result, event)


def _answer_of(result: object, event: Event) -> cb.CallbackAnswer:
    """The answer for what the handler returned; something that is no decision is logged and rejected."""
    try:
        return answer_for(_as_decision(result))
    except Exception as exc:
        log.error("before-send handler gave no usable decision for %s (%s); rejected", event.id, exc)
        return answer_for(Reject(info="the app gave no usable decision"))


def _start(handler: BeforeSendHandler, event: Event) -> asyncio.Task[object]:
    if inspect.iscoroutinefunction(handler):
        return asyncio.ensure_future(handler(event))
    return asyncio.ensure_future(_run_sync(handler, event))


async def _run_sync(handler: BeforeSendHandler, event: Event) -> object:
    result = await _on_own_thread(handler, event)
    return await result if inspect.isawaitable(result) else result


class _Saturated(Exception):
    """Too many synchronous handlers are still running (hung, most likely)."""


_thread_slots = threading.BoundedSemaphore(MAX_HANDLER_THREADS)  # taken and given back by the threads


def _on_own_thread(handler: BeforeSendHandler, event: Event) -> asyncio.Future[object]:
    """Run `handler(event)` on a daemon thread of its own: a hung handler keeps that thread (and does
    not hold up the interpreter's exit), never a thread of a pool later decisions need."""
    if not _thread_slots.acquire(blocking=False):
        raise _Saturated
    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()
    context = contextvars.copy_context()

    def settle(outcome: object, error: BaseException | None) -> None:
        if future.done():  # cancelled: the answer went out without it
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)

    def work() -> None:
        outcome: object = None
        error: BaseException | None = None
        try:
            outcome = context.run(handler, event)
        except BaseException as exc:  # handed to the loop, which decides what it means
            error = exc
        finally:
            _thread_slots.release()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for the decision
            loop.call_soon_threadsafe(settle, outcome, error)

    try:
        threading.Thread(target=work, name="aio_tim-before-send", daemon=True).start()
    except BaseException:
        _thread_slots.release()
        raise
    return future


def _abandon(task: asyncio.Task[object]) -> None:
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[object]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("a before-send handler past its time failed: %r", task.exception())


def _as_decision(result: object) -> Decision:
    if result is None or result is True:
        return Allow()
    if result is False:
        return Reject()
    if isinstance(result, Allow | Reject | Discard):
        return result
    raise TypeError(f"a before-send handler returns Allow, Reject, Discard, a bool or None, not {result!r}")


def answer_for(decision: Decision) -> cb.CallbackAnswer:
    """The webhook answer TIM reads the decision from."""
    if isinstance(decision, Reject):
        return cb.CallbackAnswer("OK", decision.code, decision.info)
    if isinstance(decision, Discard):
        return cb.CallbackAnswer("OK", cb.DISCARD, "discarded by the app")
    if decision.message is None:
        return cb.CallbackAnswer("OK", cb.ALLOW, "")
    body = to_msg_body(decision.message.elem_array)
    custom = decision.message.cloud_custom_str
    return cb.CallbackAnswer("OK", cb.ALLOW, "", MsgBody=body, CloudCustomData=custom)
