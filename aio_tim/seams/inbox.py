"""The inbox seam: where received webhooks wait, durably, until a consumer acknowledges them.

`tim.events()` and the receiver talk to an `Inbox` and nothing else; SQLite (`aio_tim.store.inbox.
SqliteInbox`, the default) and Redis Streams are two implementations, chosen in one place
(`Client(...)`). The contract, which every implementation keeps:

- `append(entries)` returns only once every entry is durable. An entry whose `key` (the event's
  natural identity: MsgKey, GroupId + MsgSeq, ...) is already in the inbox is not added again; the
  answer says so and gives the existing position. Entries are appended in the order given.
- Positions are opaque strings, ordered as the entries were appended: compare them only through the
  inbox (`read(after=...)`), never as text.
- `read(consumer, after=None, ...)` returns entries in order: after `after` when given, else from the
  first entry `consumer` has not acknowledged. With `block`, it waits up to that many seconds for
  one to arrive instead of answering an empty list at once.
- `ack(consumer, positions)` records that `consumer` is done with those entries. Callers pass
  positions in order and only once everything before them is done too, so an implementation may
  keep a single cursor (SQLite) or acknowledge ids one by one (Redis `XACK`).
- `backlog(consumer)` is how many entries `consumer` has not acknowledged: the inbox's size, the
  backpressure a slow consumer builds up (bounded by disk, never by dropping).
- `effects` of an entry are changes to the local message store (save a received message, mark a
  recall, a read report, group membership) that the SQLite inbox applies in the same transaction
  as the append, and only for an entry that was new. Other implementations may apply them to the
  local store afterwards, or ignore them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..types import Elem, Message

__all__ = [
    "Appended",
    "Inbox",
    "InboxEntry",
    "InboxStore",
    "JoinGroup",
    "LeaveGroup",
    "MarkRead",
    "ModifyC2C",
    "NewEntry",
    "PeerReadC2C",
    "RevokeC2C",
    "RevokeGroup",
    "SaveMessage",
    "StoreEffect",
]


# --- what an entry does to the local store (data only; the store applies it) ----------------------


@dataclass(frozen=True)
class SaveMessage:
    """Store a received message (kept as is if its locator is already stored).

    A group message is stored only while the group is known to hold the user (`JoinGroup`): the
    group `conv_id` names, or `group_id` when the conversation is one of a community's topics.
    """

    conv_type: int
    conv_id: str
    message: Message
    msg_key: str | None
    group_id: str | None = None  # a topic's community; None: conv_id is the group

    @property
    def member_of(self) -> str:
        """The group whose membership decides whether the message is kept."""
        return self.group_id or self.conv_id


@dataclass(frozen=True)
class RevokeC2C:
    """Mark the C2C message with this MsgKey ("seq_random_time") revoked."""

    conv_id: str
    msg_key: str


@dataclass(frozen=True)
class RevokeGroup:
    """Mark the group messages with these MsgSeqs revoked; `group_id` is the conversation's (a
    topic's ID for a topic's messages)."""

    group_id: str
    seqs: tuple[int, ...]


@dataclass(frozen=True)
class MarkRead:
    """The user read the C2C conversation with `conv_id` up to `up_to` (unix seconds)."""

    conv_id: str
    up_to: int


@dataclass(frozen=True)
class ModifyC2C:
    """The C2C message with this MsgKey was modified: it now reads `elems`, and carries
    `cloud_custom_str` when that is not None (C2C.CallbackAfterModifyMsg)."""

    conv_id: str
    msg_key: str
    elems: tuple[Elem, ...]
    cloud_custom_str: str | None = None


@dataclass(frozen=True)
class PeerReadC2C:
    """`conv_id` acknowledged the user's C2C messages with these MsgKeys (a read receipt,
    C2C.CallbackAfterMsgReadReceipt)."""

    conv_id: str
    msg_keys: tuple[str, ...]


@dataclass(frozen=True)
class JoinGroup:
    """The user is (now) a member of the group: its messages land in the local store."""

    group_id: str


@dataclass(frozen=True)
class LeaveGroup:
    """The user left the group, or it was destroyed: later messages are not stored."""

    group_id: str


StoreEffect = (
    SaveMessage | RevokeC2C | RevokeGroup | MarkRead | JoinGroup | LeaveGroup | ModifyC2C | PeerReadC2C
)


# --- entries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEntry:
    """One received webhook, as it will be kept: its command, natural key, query and raw body."""

    key: str
    command: str
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    received: float = 0.0  # unix seconds
    effects: tuple[StoreEffect, ...] = ()


@dataclass(frozen=True)
class InboxEntry:
    """An entry as read back: where it sits in the inbox and what was received."""

    position: str
    key: str
    command: str
    body: bytes
    query: dict[str, str]
    received: float


@dataclass(frozen=True)
class Appended:
    """The outcome of appending one entry: its position, and whether it was already there."""

    position: str
    duplicate: bool


@runtime_checkable
class Inbox(Protocol):
    """A durable, deduplicating queue of received webhooks with per-consumer acknowledgement."""

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Make `entries` durable (skipping keys already present); one answer per entry, in order."""
        ...

    async def read(
        self, consumer: str, *, after: str | None = None, limit: int = 100, block: float | None = None
    ) -> list[InboxEntry]:
        """Up to `limit` entries after `after` (None: after `consumer`'s last acknowledged one)."""
        ...

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """`consumer` is done with these entries (and, by the callers' rule, every earlier one)."""
        ...

    async def backlog(self, consumer: str) -> int:
        """How many entries `consumer` has not acknowledged."""
        ...

    async def aclose(self) -> None:
        """Finish pending appends and acknowledgements, then release resources."""
        ...


@runtime_checkable
class InboxStore(Protocol):
    """A store that keeps the inbox beside the messages, shared by every worker (PostgreSQL's):
    `Client` receives into `store.inbox()`, whose effects land in that store."""

    def inbox(self) -> Inbox:
        """A new inbox of this store's (sdk_app_id, user_id)."""
        ...
