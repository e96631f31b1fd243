"""The store seam: what the client needs from a message store, whatever engine keeps it.

`MsgManager`, `Roaming`, the outbox drainers and the coordinators type against `MessageStore` (and
the durable outbox against `OutboxStore`), never against one engine. Two implement them: the
embedded SQLite `aio_tim.store.LocalStore` (the default, one file per user) and
`aio_tim.pgstore.PgStore` (one PostgreSQL database for a fleet of workers). `Client(store=...)`
chooses, in one place.

A conversation is `(conv_type, conv_id)`; a message's identity in it is its locator key
`(time, seq, rand)`. Deleting marks a tombstone (status 4) that keeps the locator taken, so a
re-import never brings the message back; `delete_conversation` removes the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self, runtime_checkable

from ..types import Conv, Message, MsgLocator

__all__ = ["ClaimedRow", "LocatorKey", "MessageStore", "OutboxStore", "SharedOutboxStore"]

LocatorKey = tuple[int, int, int]
"""A message's identity in its conversation: (time, seq, rand)."""


@runtime_checkable
class MessageStore(Protocol):
    """Messages by conversation and locator, per-conversation counts, read marks, MsgSeq blocks.

    async with store:
        await store.save((1, "bob"), msg, status=MsgStatus.SEND_SUCC, msg_key=key)
        page = await store.page((1, "bob"), anchor=None, count=20, forward=False)
    """

    async def open(self) -> Self:
        """Connect and bring the schema up to date (inside the running loop)."""
        ...

    async def aclose(self) -> None:
        """Close (idempotent); waits for the writes in progress."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    # --- writes ----------------------------------------------------------------------------------

    async def save(
        self,
        conv: Conv,
        msg: Message,
        *,
        status: int,
        msg_key: str | None = None,
        replace: bool = True,
        siblings: int | None = None,
    ) -> Message:
        """Insert `msg`, or replace the one with its locator (`replace=False` keeps the stored one);
        the message as stored, with its conversation, status and read mark. `siblings`: how many
        other saves the caller expects soon (a hint to share a commit)."""
        ...

    async def insert_many(
        self,
        conv: Conv,
        msgs: Sequence[Message],
        *,
        status: int,
        msg_keys: Sequence[str | None] | None = None,
    ) -> int:
        """Insert `msgs` in one transaction, skipping locators already stored; how many were new."""
        ...

    async def insert_fanout(
        self, conv_type: int, conv_ids: Sequence[str], msg: Message, *, status: int, msg_key: str | None
    ) -> int:
        """One message into many conversations (a batch send) in one transaction; how many were new."""
        ...

    async def set_status(self, conv: Conv, locator_key: LocatorKey, status: int) -> bool:
        """Set a message's status (tombstones included); False if no message has that locator."""
        ...

    async def delete(self, conv: Conv, locator_key: LocatorKey) -> bool:
        """Mark a message deleted (a tombstone); False if absent or already deleted."""
        ...

    async def delete_conversation(self, conv: Conv) -> int:
        """Remove every message of the conversation; how many rows went."""
        ...

    async def mark_read(self, conv: Conv, up_to: LocatorKey | None) -> int:
        """Mark read every message at or before `up_to` (None: all); how many changed."""
        ...

    async def next_seq(self, conv: Conv) -> int:
        """The conversation's next C2C MsgSeq: increasing (not dense), never repeated, never 0."""
        ...

    # --- reads -----------------------------------------------------------------------------------

    async def page(
        self,
        conv: Conv,
        *,
        anchor: LocatorKey | None,
        count: int,
        forward: bool,
        include_deleted: bool = False,
    ) -> list[Message]:
        """Up to `count` messages strictly before `anchor`, newest first (or after it, oldest first)."""
        ...

    async def find(self, conv: Conv, locators: Sequence[MsgLocator]) -> list[Message]:
        """The stored message for each locator, in locator order; locators not found are left out."""
        ...

    async def get(self, conv: Conv, locator_key: LocatorKey) -> Message | None:
        """The stored message with that locator, or None (also for a deleted one)."""
        ...

    async def msg_key_of(self, conv: Conv, locator_key: LocatorKey) -> str | None:
        """The server's MsgKey for a message (tombstones included), or None if unknown."""
        ...

    async def newest(self, conv: Conv) -> Message | None:
        """The conversation's newest stored message, or None."""
        ...

    async def count(self, conv: Conv) -> int:
        """How many messages the conversation has (deleted ones not counted)."""
        ...

    async def unread_count(self, conv: Conv) -> int:
        """Messages from others, not read, neither deleted nor revoked."""
        ...


@runtime_checkable
class OutboxStore(MessageStore, Protocol):
    """A `MessageStore` that also keeps the durable outbox's rows (`aio_tim.outbox.Outbox` drains them).

    A row goes queued -> inflight (leased to an `owner` until its lease ends) -> sent | failed; a
    sent or failed row's message is saved in the same transaction as its state.
    """

    async def outbox_add(self, conv: Conv, msg: Message) -> int:
        """Commit `msg` (keys already fixed) as a queued row; its id once committed."""
        ...

    async def outbox_claim(
        self, limit: int, *, owner: str | None = None, lease: int = 30
    ) -> list[tuple[int, Conv, Message]]:
        """Lease up to `limit` claimable rows to `owner` for `lease` seconds, in id order, never a
        row queued after one that another live owner holds in the same conversation."""
        ...

    async def outbox_renew(self, owner: str, lease: int) -> int:
        """Extend the lease of `owner`'s inflight rows to `lease` seconds from now; how many."""
        ...

    async def outbox_owners(self) -> set[str]:
        """The owners holding inflight rows."""
        ...

    async def outbox_sent(
        self, row_id: int, conv: Conv, sent: Message, *, status: int, msg_key: str | None
    ) -> None:
        """In one transaction: the row is sent and `sent` is saved."""
        ...

    async def outbox_failed(
        self, row_id: int, conv: Conv, msg: Message, *, status: int, code: int, desc: str
    ) -> None:
        """In one transaction: the row failed (keeping `code` and `desc`) and `msg` is saved as failed."""
        ...

    async def outbox_requeue(self, row_ids: Sequence[int] | None = None, *, owner: str | None = None) -> int:
        """Put inflight rows back in the queue (`row_ids=None`: all of `owner`'s); how many."""
        ...

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per state: queued, inflight, sent, failed (every state present)."""
        ...

    async def outbox_outcome(self, conv: Conv, rand: int, seq: int) -> tuple[str, int, str, bytes] | None:
        """A queued message's row by its idempotency keys: (state, error code, error desc, the JSON
        of the message as sent, or as queued until then); None if no row has them."""
        ...


class ClaimedRow(NamedTuple):
    """An outbox row leased to the claimer; `taken_from`: the owner whose lease ended on it, if any."""

    id: int
    conv: Conv
    message: Message
    taken_from: str | None


@runtime_checkable
class SharedOutboxStore(OutboxStore, Protocol):
    """An `OutboxStore` that many workers drain at once (PostgreSQL): rows written in the caller's
    own transaction, and wake-ups when rows commit."""

    async def outbox_add_in(self, connection: Any, conv: Conv, msg: Message) -> int:
        """Insert `msg` as a queued row with the caller's `connection`, inside its open transaction."""
        ...

    async def outbox_claim_rows(self, limit: int, *, owner: str, lease: int = 30) -> list[ClaimedRow]:
        """`outbox_claim`, marking the rows taken over from an owner whose lease ended."""
        ...

    async def outbox_watch(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever rows are committed (from any worker), until the store closes."""
        ...
