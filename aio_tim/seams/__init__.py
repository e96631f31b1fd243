"""The seams: the contracts the pipeline, the store, the receiver and the coordinators meet at.

This package is the floor below all of their users, so no import climbs: the pipeline asks a
`Limiter`, `enqueue_new_msg` commits to an `OutboxQueue`, the receiver and `tim.events()` talk to an
`Inbox`, the managers keep messages in a `MessageStore`; the in-process implementations (token
buckets, the SQLite store with its outbox and inbox), the PostgreSQL store and the Redis ones
(`aio_tim.coordination`) sit above it and implement them. The seams import only the pure floors
(`types`, `protocol`, `errors`).
"""

from .inbox import (
    Appended,
    Inbox,
    InboxEntry,
    InboxStore,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    ModifyC2C,
    NewEntry,
    PeerReadC2C,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
    StoreEffect,
)
from .limiter import Limiter, pace_for
from .outbox import Deliver, OutboxQueue, TransactionalOutbox
from .search import SearchGroup, SearchPage, SearchQuery, SearchStore
from .store import ClaimedRow, LocatorKey, MessageStore, OutboxStore, SharedOutboxStore

__all__ = [
    "Appended",
    "ClaimedRow",
    "Deliver",
    "Inbox",
    "InboxEntry",
    "InboxStore",
    "JoinGroup",
    "LeaveGroup",
    "Limiter",
    "LocatorKey",
    "MarkRead",
    "MessageStore",
    "ModifyC2C",
    "NewEntry",
    "OutboxQueue",
    "OutboxStore",
    "PeerReadC2C",
    "RevokeC2C",
    "RevokeGroup",
    "SaveMessage",
    "SearchGroup",
    "SearchPage",
    "SearchQuery",
    "SearchStore",
    "SharedOutboxStore",
    "StoreEffect",
    "TransactionalOutbox",
    "pace_for",
]
