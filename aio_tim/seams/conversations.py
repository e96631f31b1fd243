"""The conversation-table seam: what `tim.conv` needs from a store, whatever engine keeps it.

The table is kept by the store's own message writes (a send, a receive, an import, a read mark,
a delete, a revoke: every one updates the conversation in the same transaction), so this seam
only reads it and changes what the messages do not decide: pin, marks, draft, custom data,
conversation groups, and deleting whole conversations. `aio_tim.store.conversations` implements
it for the SQLite store, `aio_tim.pgstore.conversations` for PostgreSQL (`PgStore.conversation_table()`);
a store without one makes `tim.conv` raise UsageError.

A conversation's place in the list is `listed` (pinned first, then the order key, larger first);
a page continues strictly after a `ConvCursor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from ..types import Conv, Message

__all__ = ["ConvCursor", "ConvRecord", "ConversationStore"]


class ConvCursor(NamedTuple):
    """A position in the list: (listed, conv_type, conv_id) of the last conversation seen."""

    listed: int
    conv_type: int
    conv_id: str


class ConvRecord(NamedTuple):
    """One conversation as the table keeps it (the manager turns it into a C SDK `ConvInfo`)."""

    conv: Conv
    pinned: bool
    order_key: int
    listed: int
    mark: int
    draft: bytes | None  # the `Draft` JSON as set
    draft_time: int
    custom_data: str
    unread: int
    last: Message | None
    groups: list[str]

    @property
    def cursor(self) -> ConvCursor:
        return ConvCursor(self.listed, self.conv[0], self.conv[1])


@runtime_checkable
class ConversationStore(Protocol):
    """The conversation table of a message store."""

    async def conv_page(self, after: ConvCursor | None, count: int) -> list[ConvRecord]:
        """Up to `count` conversations in list order, strictly after `after` (None: from the top)."""
        ...

    async def conv_get(self, convs: Sequence[Conv]) -> list[ConvRecord]:
        """The listed ones of `convs`, in the order asked; unknown ones are left out."""
        ...

    async def conv_total_unread(self) -> int:
        """The unread count summed over every conversation."""
        ...

    async def conv_delete(self, convs: Sequence[Conv], *, clear_messages: bool) -> int:
        """Remove the conversations (and their group memberships; their messages too if asked);
        how many were listed."""
        ...

    async def conv_update(
        self,
        convs: Sequence[Conv],
        *,
        pinned: bool | None = None,
        mark_set: int = 0,
        mark_clear: int = 0,
        custom_data: str | None = None,
        order_key: int | None = None,
    ) -> None:
        """Change the given fields, creating a conversation (with no message) if needed; the
        mark loses the bits of `mark_clear`, then gains those of `mark_set`.
        `order_key` (a roaming fill) only raises a conversation that has no local message."""
        ...

    async def conv_set_draft(self, conv: Conv, draft: bytes | None, edit_time: int) -> None:
        """Set (or, with None, cancel) the draft; a draft lifts the order key to its edit time."""
        ...

    async def conv_group_names(self) -> list[str]:
        """Every conversation group, by name."""
        ...

    async def conv_group_create(self, name: str, convs: Sequence[Conv]) -> bool:
        """Create the group with these conversations; False if the name is taken."""
        ...

    async def conv_group_delete(self, name: str) -> bool:
        """Delete the group (its conversations stay); False if there is none."""
        ...

    async def conv_group_rename(self, old: str, new: str) -> int:
        """0 renamed, 1 no group `old`, 2 `new` taken."""
        ...

    async def conv_group_members(self, name: str, convs: Sequence[Conv], *, add: bool) -> bool:
        """Add (or remove) conversations to a group; False if there is no such group."""
        ...
