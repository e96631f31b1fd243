"""The inbox seam's old address: it lives in `aio_tim.seams.inbox`, below the store and the receiver.

Kept so `from aio_tim.events.inbox import Inbox` (0.1's documented path) keeps working.
"""

from ..seams.inbox import (
    Appended,
    Inbox,
    InboxEntry,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    NewEntry,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
    StoreEffect,
)

__all__ = [
    "Appended",
    "Inbox",
    "InboxEntry",
    "JoinGroup",
    "LeaveGroup",
    "MarkRead",
    "NewEntry",
    "RevokeC2C",
    "RevokeGroup",
    "SaveMessage",
    "StoreEffect",
]
