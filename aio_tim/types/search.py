"""The parameter and result objects of `TIMMsgSearchLocalMessages` (C SDK `MessageSearchParam`,
`MessageSearchResult`, `MessageSearchResultItem`).

The sender list decodes under both spellings the C SDK's pages use, `..._send_indentifier_array`
(sic, the header's) and `..._send_identifier_array` (newer pages); the header's is emitted.
"""

from __future__ import annotations

from enum import IntEnum

from ._base import TIMStruct, UInt, UInt32, UInt64, prefixed
from .message import Message

__all__ = ["KeywordListMatchType", "MsgSearchParam", "MsgSearchResult", "MsgSearchResultItem"]


class KeywordListMatchType(IntEnum):
    """`TIMKeywordListMatchType`: whether any keyword (OR, the default) or every one (AND) must match."""

    OR = 0
    AND = 1


class MsgSearchParam(TIMStruct, rename=prefixed("msg_search_param_")):
    """What `search_local_messages` looks for; every condition given must hold.

    >>> from aio_tim.types import encode
    >>> encode(MsgSearchParam(keyword_array=["hello"], page_size=20))
    b'{"msg_search_param_keyword_array":["hello"],"msg_search_param_page_size":20}'
    """

    keyword_array: list[str] | None = None
    keyword_list_match_type: UInt | None = None
    send_indentifier_array: list[str] | None = None  # (sic) the C SDK header's spelling
    message_type_array: list[int] | None = None
    conv_id: str | None = None
    conv_type: UInt | None = None
    search_time_position: UInt64 | None = None
    search_time_period: UInt64 | None = None
    page_index: UInt32 | None = None
    page_size: UInt32 | None = None
    search_count: UInt32 | None = None
    search_cursor: str | None = None
    send_identifier_array: list[str] | None = None

    def __post_init__(self) -> None:
        # newer pages' spelling, read into the header's so callers read one field
        if self.send_identifier_array is not None:
            if self.send_indentifier_array is None:
                self.send_indentifier_array = self.send_identifier_array
            self.send_identifier_array = None


class MsgSearchResultItem(TIMStruct, rename=prefixed("msg_search_result_item_"), omit_defaults=False):
    """One conversation's matches: searching one conversation, the page's messages; searching
    all, the message itself when it has exactly one match, else none (show "N related records")."""

    conv_id: str
    conv_type: UInt
    total_message_count: UInt
    message_array: list[Message]


class MsgSearchResult(TIMStruct, rename=prefixed("msg_search_result_"), omit_defaults=False):
    """`total_count`: matching messages (one conversation) or conversations (all of them).
    `search_cursor` continues with the next page ("" after the last one)."""

    total_count: UInt
    item_array: list[MsgSearchResultItem]
    search_cursor: str = ""
