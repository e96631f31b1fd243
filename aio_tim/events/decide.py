"""Before-callbacks: the app decides whether a message goes out, within TIM's answer time.

A handler (sync or async) gets the `Event` of a `C2C.CallbackBeforeSendMsg` or
`Group.CallbackBeforeSendMsg` and returns a decision:

    def moderate(event: Event) -> Decision | None:
        text = " ".join(e.content for e in event.message.elem_array if isinstance(e, TextElem))
        if "forbidden" in text:
            return Reject(info="not allowed here")        # the sender gets 20006 (C2C) / 10016 (group)
        return None                                       # None: let it through unchanged

A handler that raises, or is still running at `timeout`, gets TIM's own default for a failed
callback: the message goes through unchanged (the answer is "allow").
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol import callbacks as cb
from ..protocol.msgbody import to_msg_body
from ..types import Message
from .model import Event

__all__ = ["Allow", "BeforeSendHandler", "Decision", "Discard", "Reject", "answer_for", "decide"]

log = logging.getLogger("aio_tim.events")
DEFAULT_TIMEOUT: Final = 1.5  # seconds: room inside TIM's 2 s for the network and our own commit


@dataclass(frozen=True)
class Allow:
    """Let the message through; with `message`, its elements (and cloud data) replace the sent ones."""

    message: Message | None = None


@dataclass(frozen=True)
class Reject:
    """Refuse the message. `code` 1 (TIM's refusal) or a custom code in 120001..130000 the sender sees."""

    code: int = cb.REJECT
    info: str = "rejected by the app"

    def __post_init__(self) -> None:
        if self.code != cb.REJECT and self.code not in cb.CUSTOM_REJECT_CODES:
            raise UsageError(TIM_ERR_PARAM, f"Reject code must be 1 or in 120001..130000, not {self.code}")


@dataclass(frozen=True)
class Discard:
    """Drop the message silently: the sender sees success, nobody receives it."""


Decision = Allow | Reject | Discard
BeforeSendHandler = Callable[[Event], "Decision | bool | Awaitable[Decision | bool | None] | None"]


async def decide(handler: BeforeSendHandler, event: Event, limit: float = DEFAULT_TIMEOUT) -> Decision:
    """Run the handler within `limit` seconds; a failure or a timeout allows the message (TIM's default)."""
    try:
        async with asyncio.timeout(limit):
            return _as_decision(await _run(handler, event))
    except TimeoutError:
        log.warning("before-send handler took over %.1fs for %s; allowed (TIM's default)", limit, event.id)
    except Exception:
        log.exception("before-send handler failed for %s; allowing it (TIM's default)", event.id)
    return Allow()


async def _run(handler: BeforeSendHandler, event: Event) -> object:
    if inspect.iscoroutinefunction(handler):
        return await handler(event)
    # A synchronous handler runs in a thread, so a slow one cannot hold TIM's answer past the timeout.
    result = await asyncio.to_thread(handler, event)
    return await result if inspect.isawaitable(result) else result


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
