"""Conversation events (the C SDK's TIMSetConvEventCallback, the total unread count's and the
filtered unread counts' callbacks) as async iterators over the store's change log.

The store logs every change of the conversation table and of its unread counts in the same
transaction as the change (SQLite store, migration 10), whatever wrote it: a send, the inbox
applying a received webhook, a read mark, a delete, `tim.conv` itself. A `ConvWatch` remembers
the last log seq it read and, for each conversation it has seen, its unread count (its share of
a filter's count); a poll reads the log rows after that seq (one primary-key range) and the
conversations they name (one indexed lookup each), never the whole table. Only a watch's start
reads the table once, to know what exists and the totals.

One poll turns into at most one event per kind: the conversations it saw appear (`ADD`), change
(`UPDATE`) and go (`DEL`), each a `ConvInfo` array as the C SDK's callback gets it (a deleted one
has only its id and type). `sync_conv_list` logs `START` and `FINISH` around the roaming fill.

Workers: the log lives in the store file, so every watch on the file sees every worker's
changes in commit order (SQLite has one writer at a time). A watch trims the rows older than
`KEEP` changes; a watch that fell further behind starts over (it re-reads the table, and
reports the changes since as nothing more than its new totals). The PostgreSQL store keeps no
log yet: `events()` on it raises UsageError.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final, NamedTuple

from ..errors import TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIMError, UsageError
from ..seams.conversations import ConvChange, ConvChangeLog, ConvCursor, ConvRecord
from ..types import Conv, encode
from ..types.conv import ConvEventType, ConvInfo, ConvListFilter, TotalUnreadResult
from .context import ConvContext, conv_info
from .filters import matches

__all__ = ["KEEP", "ConvEvent", "ConvWatch", "change_log", "events", "unread_counts"]

KEEP: Final = 10_000  # log rows kept behind the newest: how far a watch may lag
BATCH: Final = 500  # log rows read per poll
INTERVAL: Final = 0.05  # seconds between polls of an idle log
_SCAN: Final = 200


class ConvEvent(NamedTuple):
    """One TIMConvEvent and its conversations (empty for START and FINISH)."""

    type: ConvEventType
    convs: list[ConvInfo]

    @property
    def json_conv_array(self) -> str:
        """The C SDK callback's `json_conv_array`."""
        return encode(self.convs).decode()


def change_log(ctx: ConvContext) -> ConvChangeLog:
    if isinstance(ctx.table, ConvChangeLog):
        return ctx.table
    raise UsageError(
        TIM_ERR_PARAM,
        f"conversation events need a store that logs its changes; {type(ctx.table).__name__} does not",
    )


class ConvWatch:
    """One reader of the change log: its place, and each conversation's share of its count."""

    def __init__(self, ctx: ConvContext, wanted: ConvListFilter | None = None) -> None:
        self._ctx, self._log, self._wanted = ctx, change_log(ctx), wanted
        self._last = self._trimmed = 0
        self._share: dict[Conv, int] = {}  # every conversation seen -> its unread (0 if not matching)
        self.total = 0

    async def start(self) -> None:
        """Take the log's head, then read the table once (a change in between is read twice,
        which only repeats an UPDATE)."""
        self._last = await self._log.conv_change_head()
        self._share.clear()
        cursor: ConvCursor | None = None
        while True:
            page = await self._ctx.table.conv_page(cursor, _SCAN)
            for record in page:
                self._share[record.conv] = self._count(record)
            if len(page) < _SCAN:
                break
            cursor = page[-1].cursor
        self.total = sum(self._share.values())

    async def poll(self) -> list[ConvEvent]:
        """The events of the changes logged since the last poll (at most one per kind, plus
        START/FINISH where they were logged)."""
        changes = await self._log.conv_changes_since(self._last, BATCH)
        if changes and changes[0].seq > self._last + 1 and self._last:
            await self.start()  # trimmed past us: start over
            return []
        if not changes:
            return []
        self._last = changes[-1].seq
        await self._trim()
        found: list[ConvEvent] = []
        run: list[ConvChange] = []
        for change in changes:
            if change.kind in (ConvEventType.START, ConvEventType.FINISH):
                found += await self._events_of(run)
                found.append(ConvEvent(ConvEventType(change.kind), []))
                run = []
            else:
                run.append(change)
        return found + await self._events_of(run)

    async def _events_of(self, run: list[ConvChange]) -> list[ConvEvent]:
        convs = list(dict.fromkeys(change.conv for change in run))
        if not convs:
            return []
        records = {r.conv: r for r in await self._ctx.table.conv_get(convs)}
        added: list[ConvInfo] = []
        updated: list[ConvInfo] = []
        deleted: list[ConvInfo] = []
        for conv in convs:
            record, old = records.get(conv), self._share.get(conv)
            if record is None:
                if old is not None:
                    del self._share[conv]
                    self.total -= old
                    deleted.append(ConvInfo(id=conv[1], type=conv[0]))
                continue
            share = self._share[conv] = self._count(record)
            self.total += share - (old or 0)
            (added if old is None else updated).append(conv_info(record))
        kinds = ((ConvEventType.ADD, added), (ConvEventType.UPDATE, updated), (ConvEventType.DEL, deleted))
        return [ConvEvent(kind, infos) for kind, infos in kinds if infos]

    def _count(self, record: ConvRecord) -> int:
        return record.unread if self._wanted is None or matches(record, self._wanted) else 0

    async def _trim(self) -> None:
        if self._last - KEEP > self._trimmed + 1000:  # now and then, not every poll
            self._trimmed = self._last - KEEP
            await self._log.conv_changes_trim(self._trimmed)


async def events(ctx: ConvContext, interval: float = INTERVAL) -> AsyncIterator[ConvEvent]:
    """Every conversation event from now on, until the store closes."""
    watch = ConvWatch(ctx)
    await watch.start()
    while True:
        try:
            found = await watch.poll()
        except TIMError as exc:
            if exc.code == TIM_ERR_SDKUNINIT:
                return  # the client (and its store) closed
            raise
        for event in found:
            yield event
        if not found:
            await asyncio.sleep(interval)


async def unread_counts(
    ctx: ConvContext, wanted: ConvListFilter | None, interval: float = INTERVAL
) -> AsyncIterator[TotalUnreadResult]:
    """The unread count of the conversations matching `wanted` (None: all): now, then at each
    change, until the store closes."""
    watch = ConvWatch(ctx, wanted)
    await watch.start()
    last = watch.total
    yield TotalUnreadResult(unread_count=last)
    while True:
        try:
            found = await watch.poll()
        except TIMError as exc:
            if exc.code == TIM_ERR_SDKUNINIT:
                return
            raise
        if watch.total != last:
            last = watch.total
            yield TotalUnreadResult(unread_count=last)
        if not found:
            await asyncio.sleep(interval)
