"""Receiving: TIM's webhooks as `async for event in tim.events()` (DESIGN.md §10).

The inbox seam (`aio_tim.events.inbox.Inbox`) is what the receiver appends to and the event stream
reads from; see that module for its contract.
"""

from .inbox import Appended, Inbox, InboxEntry, NewEntry, StoreEffect

__all__ = ["Appended", "Inbox", "InboxEntry", "NewEntry", "StoreEffect"]
