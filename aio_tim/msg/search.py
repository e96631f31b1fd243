"""Local search: `find_messages` (by msg_id), `search_local_messages` (keywords, senders, element
types, a time window, paging) and `set_local_custom_data`, all on the store alone, no network.

Parameters are checked before the store is touched (UsageError, as the C SDK answers them
synchronously). The store must implement the `SearchStore` seam (the SQLite `LocalStore` does,
with an FTS5 trigram index); any other store is refused by name.

The C SDK's rules (TIMMsgSearchLocalMessages: tencentcloud.com/document/product/1047/50066):
at most 5 keywords and 5 senders; keywords may be left out only when senders or types are given;
faces and group tips are not searchable; `search_time_position` 0 means now and
`search_time_period` 0 no lower bound; searching one conversation pages its messages (newest
first), searching all pages the conversations, each with its match count and the match itself
when it has just one.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, NotFoundError, UsageError
from ..seams import SearchPage, SearchQuery, SearchStore
from ..store import Conv, locator_key
from ..types import (
    ElemType,
    KeywordListMatchType,
    Message,
    MessageInput,
    MsgSearchParam,
    MsgSearchResult,
    MsgSearchResultItem,
    coerce,
    coerce_list,
)
from .context import SendContext, anchor_of, checked_conv

__all__ = [
    "FIND_MAX",
    "SEARCH_COUNT_MAX",
    "SEARCH_KEYWORDS_MAX",
    "SEARCH_SENDERS_MAX",
    "find_messages",
    "search_local_messages",
    "search_store",
    "set_local_custom_data",
]

SEARCH_KEYWORDS_MAX: Final = 5
SEARCH_SENDERS_MAX: Final = 5
SEARCH_COUNT_MAX: Final = 100  # msg_search_param_search_count, as for the C SDK's cloud search
FIND_MAX: Final = 1000  # msg_ids a find_messages call may name (ours: the C SDK states none)
MSG_NOT_FOUND: Final = 20022
_UNSEARCHABLE: Final = frozenset({ElemType.FACE, ElemType.GROUP_TIPS, ElemType.INVALID})
_TYPES: Final = frozenset(int(t) for t in ElemType) - _UNSEARCHABLE


def search_store(ctx: SendContext, what: str) -> SearchStore:
    """The client's store as a `SearchStore`, or a UsageError naming the store that is not one."""
    store = ctx.store
    if not isinstance(store, SearchStore):
        raise UsageError(
            TIM_ERR_PARAM,
            f"{what} needs a store that can search locally; {type(store).__name__} cannot "
            "(use the SQLite LocalStore)",
        )
    return store


# --- find_messages -------------------------------------------------------------------------------


async def find_messages(ctx: SendContext, msg_ids: Any) -> list[Message]:
    """The stored message with each msg_id, in the ids' order; ids not stored are left out."""
    wanted = coerce_list(msg_ids, str, what="json_message_id_array")
    if len(wanted) > FIND_MAX:
        raise UsageError(TIM_ERR_PARAM, f"at most {FIND_MAX} msg_ids a call, not {len(wanted)}")
    for index, msg_id in enumerate(wanted):
        if not msg_id:
            raise UsageError(TIM_ERR_PARAM, f"msg_id {index} is empty")
    store = search_store(ctx, "find_messages")
    return await store.find_by_msg_ids(wanted) if wanted else []


# --- set_local_custom_data -----------------------------------------------------------------------


async def set_local_custom_data(ctx: SendContext, msg: MessageInput) -> None:
    """Keep `msg`'s `custom_int` and `custom_str` (absent: cleared) on the stored message, here only.

    The message is named by its conversation and locator (seq, rand, time), else by its msg_id."""
    message = coerce(msg, Message, what="json_msg_param")
    by_locator = message.conv_id is not None or message.conv_type is not None
    if by_locator and anchor_of(message) is None:
        raise UsageError(TIM_ERR_PARAM, "the message needs its seq, rand and time (as stored or returned)")
    if not by_locator and not message.msg_id:
        raise UsageError(
            TIM_ERR_PARAM, "name the message by message_conv_id/_conv_type and its locator, or msg_id"
        )
    conv = checked_conv(message.conv_id or "", message.conv_type or 0) if by_locator else None
    store = search_store(ctx, "set_local_custom_data")
    if conv is None:
        found = await store.find_by_msg_ids([message.msg_id or ""])
        if not found:
            raise NotFoundError(MSG_NOT_FOUND, f"no stored message with msg_id {message.msg_id!r}")
        conv, key = (found[0].conv_type or 0, found[0].conv_id or ""), locator_key(found[0])
    else:
        key = locator_key(message)
    if not await store.set_local_custom(conv, key, message.custom_int, message.custom_str):
        raise NotFoundError(MSG_NOT_FOUND, f"no stored message with locator {key} in {conv[1]!r}")


# --- search_local_messages -----------------------------------------------------------------------


async def search_local_messages(ctx: SendContext, param: Any) -> MsgSearchResult:
    """The page of stored messages `param` selects (see the module docstring)."""
    request = coerce(param, MsgSearchParam, what="json_search_message_param")
    query = query_of(request, ctx.now())
    store = search_store(ctx, "search_local_messages")
    page = await store.search_messages(query)
    return result_of(page, query)


def query_of(param: MsgSearchParam, now: int) -> SearchQuery:
    """The checked query of a C SDK search parameter (UsageError naming what is wrong)."""
    keywords = _strings(param.keyword_array, "keyword", SEARCH_KEYWORDS_MAX)
    senders = _strings(param.send_indentifier_array, "sender", SEARCH_SENDERS_MAX)
    types = _types(param.message_type_array)
    if not (keywords or senders or types):
        raise UsageError(
            TIM_ERR_PARAM,
            "msg_search_param_keyword_array may be empty only when senders or message types are given",
        )
    match = param.keyword_list_match_type or 0
    if match not in (KeywordListMatchType.OR, KeywordListMatchType.AND):
        raise UsageError(
            TIM_ERR_PARAM, f"msg_search_param_keyword_list_match_type must be 0 (OR) or 1 (AND), not {match}"
        )
    offset, limit = _paging(param)
    low, high = _window(param, now)
    return SearchQuery(
        keywords=keywords,
        match_all=match == KeywordListMatchType.AND,
        senders=senders,
        types=types,
        conv=_conv_of(param),
        low=low,
        high=high,
        offset=offset,
        limit=limit,
    )


def result_of(page: SearchPage, query: SearchQuery) -> MsgSearchResult:
    items = [
        MsgSearchResultItem(
            conv_id=group.conv[1],
            conv_type=group.conv[0],
            total_message_count=group.matched,
            message_array=group.messages,
        )
        for group in page.groups
    ]
    shown = len(items[0].message_array) if query.conv is not None and items else len(items)
    following = query.offset + shown
    cursor = str(following) if shown and following < page.total else ""
    return MsgSearchResult(total_count=page.total, item_array=items, search_cursor=cursor)


def _strings(values: list[str] | None, what: str, cap: int) -> tuple[str, ...]:
    found = tuple(values or ())
    if len(found) > cap:
        raise UsageError(TIM_ERR_PARAM, f"at most {cap} {what}s a search, not {len(found)}")
    for index, value in enumerate(found):
        if not value:
            raise UsageError(TIM_ERR_PARAM, f"{what} {index} is empty")
    return tuple(dict.fromkeys(found))


def _types(values: list[int] | None) -> tuple[int, ...]:
    for value in values or ():
        if value not in _TYPES:
            raise UsageError(
                TIM_ERR_PARAM,
                f"message type {value} cannot be searched (faces and group tips cannot; known types: "
                f"{sorted(_TYPES)})",
            )
    return tuple(sorted(set(values or ())))


def _conv_of(param: MsgSearchParam) -> Conv | None:
    if param.conv_id:
        return checked_conv(param.conv_id, param.conv_type or 0)
    if param.conv_type:
        raise UsageError(TIM_ERR_PARAM, "msg_search_param_conv_type without msg_search_param_conv_id")
    return None


def _paging(param: MsgSearchParam) -> tuple[int, int | None]:
    """(offset, limit): by cursor when `search_count` or `search_cursor` is given, else by page."""
    if param.search_count is not None or param.search_cursor:
        count = param.search_count or SEARCH_COUNT_MAX
        if count > SEARCH_COUNT_MAX:
            raise UsageError(
                TIM_ERR_PARAM, f"msg_search_param_search_count is at most {SEARCH_COUNT_MAX}, not {count}"
            )
        cursor = param.search_cursor or "0"
        if not cursor.isascii() or not cursor.isdigit():
            raise UsageError(
                TIM_ERR_PARAM, f"msg_search_param_search_cursor {cursor!r} is not one a search returned"
            )
        return int(cursor), count
    size = param.page_size or 0
    if not size:  # 0: no paging, as in the C SDK
        return 0, None
    return (param.page_index or 0) * size, size


def _window(param: MsgSearchParam, now: int) -> tuple[int | None, int | None]:
    """[low, high]: position 0 is now (and then no upper bound: a clock behind the server's must
    not hide what just arrived); period 0 is no lower bound."""
    position = param.search_time_position or 0
    period = param.search_time_period or 0
    low = max((position or now) - period, 0) if period else None
    return low, position or None
