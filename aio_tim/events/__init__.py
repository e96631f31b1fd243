"""Receiving: TIM's webhooks as `async for event in tim.events()` (DESIGN.md §10).

    async for event in tim.events():       # Event: command, id, body, message (C SDK Message)
        ...

Before-send decisions are `Allow`, `Reject` and `Discard` (`tim.on_before_send`). The inbox seam
(`aio_tim.seams.Inbox`) is what the receiver appends to and the event stream reads from;
see that module for its contract.
"""

from ..seams.inbox import Appended, Inbox, InboxEntry, NewEntry, StoreEffect
from .decide import Allow, BeforeSendHandler, Decision, Discard, OnTimeout, Reject
from .model import Event, RawCallback
from .stream import EventStream

__all__ = [
    "Allow",
    "Appended",
    "BeforeSendHandler",
    "Decision",
    "Discard",
    "Event",
    "EventStream",
    "Inbox",
    "InboxEntry",
    "NewEntry",
    "OnTimeout",
    "RawCallback",
    "Reject",
    "StoreEffect",
]
