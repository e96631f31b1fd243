"""What every `tim.conv` family shares: the REST submit, the conversation table, the checks made
before any I/O, and the conversion of a table row to the C SDK's `ConvInfo`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol import Envelope
from ..protocol.recentcontact import ContactItem
from ..protocol.validate import check_conversation
from ..seams import MessageStore
from ..seams.conversations import ConversationStore, ConvRecord
from ..store import LocalStore
from ..store.conversations import SqliteConversations
from ..types import Conv, ConvType
from ..types._base import decoder_for
from ..types.conv import ConvInfo, ConvMarkType, Draft, parse_conversation_id

__all__ = [
    "MARK_BITS",
    "ConvContext",
    "ConvMarkType",
    "checked_conv",
    "checked_conversation_ids",
    "contact_item",
    "conv_info",
    "mark_array",
    "table_of",
]

Submit = Callable[..., Awaitable[Envelope]]
_DRAFT: Final = decoder_for(Draft)
MARK_BITS: Final = 64  # a mark is a uint64: bit n of it is REST's StandardMark bit n
_MAX_IDS: Final = 100  # TIMConvDeleteConversationList / MarkConversation take up to 100 ids


@dataclass
class ConvContext:
    """What the conversation operations share with the client that owns them."""

    user_id: str
    submit: Submit
    store: MessageStore
    table: ConversationStore
    clock: Callable[[], float]

    def now(self) -> int:
        return int(self.clock())


def table_of(store: Any) -> ConversationStore:
    """The conversation table of a client's store, or UsageError for a store that keeps none."""
    if isinstance(store, ConversationStore):
        return store
    if isinstance(store, LocalStore):
        return SqliteConversations(store)
    table = getattr(store, "conversation_table", None)  # PgStore's (not imported: asyncpg is an extra)
    if callable(table):
        found = table()
        if isinstance(found, ConversationStore):
            return found
    raise UsageError(
        TIM_ERR_PARAM,
        f"tim.conv needs a store with a conversation table (the SQLite store); "
        f"{type(store).__name__} has none",
    )


def checked_conv(conv_id: object, conv_type: object) -> Conv:
    """(conv_type, conv_id) after TIM_ERR_CONV's checks (no I/O)."""
    return int(check_conversation(conv_id, conv_type)), str(conv_id)


def checked_conversation_ids(ids: object, what: str = "conversation_id_array") -> list[Conv]:
    """`c2c_...`/`group_...` ids -> conversations, 1 to 100 of them, each checked."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise UsageError(TIM_ERR_PARAM, f"{what} must be a list of conversation ids, not {ids!r}")
    if not 0 < len(ids) <= _MAX_IDS:
        raise UsageError(TIM_ERR_PARAM, f"{what} takes 1 to {_MAX_IDS} conversation ids, not {len(ids)}")
    convs = [parse_conversation_id(item) for item in ids]
    return [checked_conv(conv_id, conv_type) for conv_type, conv_id in convs]


def contact_item(conv: Conv, *, group_key: str = "GroupId") -> ContactItem:
    """The REST `ContactItem` of a conversation (mark_contact spells the group key ToGroupId)."""
    if conv[0] == ConvType.C2C:
        return ContactItem(Type=1, To_Account=conv[1])
    return ContactItem(Type=2, **{group_key: conv[1]})


def mark_array(mark: int) -> list[int]:
    """kTIMConvMarkArray: the set marks, each as its bit's value (ConvMarkType.STAR is 1)."""
    marks = []
    while mark:  # one turn per set bit: most conversations have none
        lowest = mark & -mark
        marks.append(lowest)
        mark ^= lowest
    return marks


def conv_info(record: ConvRecord) -> ConvInfo:
    """The C SDK's `ConvInfo` of a table row."""
    draft = _DRAFT.decode(record.draft) if record.draft is not None else None
    last = record.last
    last_time = (last.server_time or last.client_time or 0) if last is not None else 0
    active = max(last_time, record.draft_time)
    return ConvInfo(
        id=record.conv[1],
        type=record.conv[0],
        unread_num=record.unread,
        active_time=active,
        is_has_lastmsg=last is not None,
        last_msg=last,
        is_has_draft=draft is not None,
        draft=draft,
        is_pinned=record.pinned,
        mark_array=mark_array(record.mark),
        custom_data=record.custom_data,
        conversation_group_array=record.groups,
        order_key=record.order_key,
    )
