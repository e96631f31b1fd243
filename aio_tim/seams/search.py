"""The search seam: what `tim.msg`'s local search family needs from a store beyond `MessageStore`.

`aio_tim.store.LocalStore` implements it (SQLite FTS5, store/search.py); a store that does not
(`aio_tim.pgstore.PgStore`) makes `find_messages`, `search_local_messages` and
`set_local_custom_data` raise a UsageError naming the store, and `get_msg_list` filters element
types in Python instead of in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from ..types import Conv, Message
from .store import LocatorKey

__all__ = ["SearchGroup", "SearchPage", "SearchQuery", "SearchStore"]


@dataclass(frozen=True)
class SearchQuery:
    """One local search, checked: every condition given must hold (the keywords as `match_all`
    says); `types` empty means every searchable type; `low`/`high` bound the time (inclusive).

    With `conv` the page (`offset`, `limit`; None: no limit) is of messages, newest first;
    without, of conversations, the one with the newest match first.
    """

    keywords: tuple[str, ...] = ()
    match_all: bool = False
    senders: tuple[str, ...] = ()
    types: tuple[int, ...] = ()
    conv: Conv | None = None
    low: int | None = None
    high: int | None = None
    offset: int = 0
    limit: int | None = None


class SearchGroup(NamedTuple):
    """A conversation's matches: how many, and the messages of the page (searching one
    conversation), or the one match when it has exactly one (searching all of them)."""

    conv: Conv
    matched: int
    messages: list[Message]


class SearchPage(NamedTuple):
    """`total`: the matching messages (one conversation) or conversations (all of them)."""

    total: int
    groups: list[SearchGroup]


@runtime_checkable
class SearchStore(Protocol):
    """A message store that can search, find by msg_id and keep local custom data."""

    async def search_messages(self, query: SearchQuery) -> SearchPage:
        """The page of `query`'s matches (deleted and revoked messages are never found)."""
        ...

    async def find_by_msg_ids(self, msg_ids: Sequence[str]) -> list[Message]:
        """The stored message with each msg_id, in the ids' order; ids not found are left out."""
        ...

    async def set_local_custom(
        self, conv: Conv, locator_key: LocatorKey, custom_int: int | None, custom_str: str | None
    ) -> bool:
        """Keep a message's `custom_int`/`custom_str` (None: unset) here only, across re-saves and
        re-fetches; False if no live message has that locator."""
        ...

    async def page_of_types(
        self,
        conv: Conv,
        *,
        anchor: LocatorKey | None,
        count: int,
        forward: bool,
        types: Sequence[int],
        low: int | None = None,
        high: int | None = None,
    ) -> list[Message]:
        """`MessageStore.page` keeping only messages whose first element has one of `types`,
        with times in [low, high]; filtered in the query, by an index."""
        ...
