"""Roaming: fetching a conversation's server-side history into the local store.

TIM keeps C2C history per party (`openim/admin_getroammsg`, newest first within a time window,
paged by `LastMsgKey`) and group history per group (`group_open_http_svc/group_msg_get_simple`,
newest first from `ReqMsgSeq`, ≤20 a call). Both are merged into the store with `insert_many`,
which ignores locators it already has (tombstones of locally deleted messages included), so
fetching the same range twice never duplicates or resurrects a message.

Neither endpoint pages oldest first, so filling *forward* from an anchor walks up from it: group
seqs are dense, so by seq ranges; C2C in time windows that double from the anchor's second.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Final

from ..protocol import Envelope, Request
from ..protocol.group import GROUP_HISTORY_MAX, GroupMsgGetSimple, GroupMsgGetSimpleResponse, GroupRoamMsg
from ..protocol.incoming import PLACE_DELETED, from_group_roam, from_roam
from ..protocol.openim import AdminGetRoamMsg, AdminGetRoamMsgResponse
from ..seams import MessageStore
from ..store import Conv, LocatorKey, locator_key
from ..types import ConvType, Message, MsgLocator, MsgStatus

__all__ = ["MAX_PAGES", "Roaming"]

Submit = Callable[[Request], Awaitable[Envelope]]
Window = tuple[int, int]  # [MinTime, MaxTime] of admin_getroammsg, both included

C2C_PAGE: Final = 100
MAX_PAGES: Final = 50  # one fill never walks more than this many server pages
ALL_PAGES: Final = 100_000  # walking a whole history (to its oldest end, to delete it) is O(history)
# "No upper bound" for MaxTime: the server's clock, not ours, stamped the messages.
NO_LATER_THAN: Final = 2**32 - 1


class Roaming:
    """Pulls server history for `user_id` into `store`, through `submit` (the pipeline)."""

    def __init__(self, user_id: str, store: MessageStore, submit: Submit) -> None:
        self._user_id = user_id
        self._store = store
        self._submit = submit

    async def fill(self, conv: Conv, anchor: LocatorKey | None, want: int, *, forward: bool) -> bool:
        """Store the server messages next to `anchor` (None: the newest/oldest end) until `want`
        of them lie beyond it; False when the server has nothing further that way."""
        if conv[0] == ConvType.C2C:
            fill = self._c2c_newer if forward else self._c2c_older
            return await fill(conv, anchor, want)
        if forward:
            return await self._group_up(conv, anchor[1] + 1 if anchor else 1, want)
        return await self._group_down(conv, anchor[1] - 1 if anchor else None, want)

    async def find(self, conv: Conv, loc: MsgLocator) -> Message | None:
        """Look one locator up on the server and store it when found."""
        key = (loc.time or 0, loc.seq or 0, loc.rand or 0)
        if conv[0] == ConvType.C2C:
            await self._c2c_walk(conv, (key[0], key[0]), lambda m: locator_key(m) == key)
        elif key[1] > 0:  # group seqs start at 1; a locally saved group message has none
            await self._group_page(conv, key[1], 1)
        return await self._store.get(conv, key)

    async def group_locator(self, conv: Conv, seq: int, *, keep: bool) -> LocatorKey | None:
        """The locator of the group message numbered `seq` (stored too when `keep`), or None."""
        reply = await self._group_reply(conv, seq, 1)
        record = next((r for r in reply.RspMsgList if r.MsgSeq == seq), None)
        if record is None:
            return None
        if keep:
            await self._merge_group(conv, [record])
        return (record.MsgTimeStamp, record.MsgSeq, record.MsgRandom)

    async def c2c_keys(self, conv: Conv) -> list[str]:
        """The MsgKey of every message in `user_id`'s roaming history with the peer."""
        keys: list[str] = []
        async with aclosing(self._c2c_pages(conv, (0, NO_LATER_THAN), ALL_PAGES)) as pages:
            async for reply in pages:
                keys += [r.MsgKey for r in reply.MsgList]
        return keys

    # --- C2C -------------------------------------------------------------------------------------

    async def _c2c_older(self, conv: Conv, anchor: LocatorKey | None, want: int) -> bool:
        window = (0, anchor[0] if anchor else NO_LATER_THAN)
        return (await self._c2c_walk(conv, window, lambda m: _older(m, anchor), want))[1]

    async def _c2c_newer(self, conv: Conv, anchor: LocatorKey | None, want: int) -> bool:
        """Walk up from the anchor's second in doubling windows, each fetched whole, up to the newest."""
        if anchor is None:
            # The oldest end: pages come newest first, so only a walk through everything reaches it
            # (after it the whole conversation is local, and later forward pages cost nothing).
            return (await self._c2c_walk(conv, (0, NO_LATER_THAN), lambda m: True, None, ALL_PAGES))[1]
        newest = await self._c2c_newest_time(conv, anchor[0])
        found, low, span = 0, anchor[0], 1
        while newest is not None and low <= newest:
            high = min(low + span - 1, newest)
            found += (await self._c2c_walk(conv, (low, high), lambda m: _newer(m, anchor)))[0]
            if found >= want:
                return high < newest
            low, span = high + 1, span * 2
        return False

    async def _c2c_newest_time(self, conv: Conv, since: int) -> int | None:
        request = self._roam_request(conv, (since, NO_LATER_THAN), None, max_count=1)
        reply = await self._submit(request)
        assert isinstance(reply, AdminGetRoamMsgResponse)
        # max(), not MsgList[0]: the order within a page is the server's business.
        return max((r.MsgTimeStamp for r in reply.MsgList), default=None)

    async def _c2c_walk(
        self,
        conv: Conv,
        window: Window,
        wanted: Callable[[Message], bool],
        want: int | None = None,
        max_pages: int = MAX_PAGES,
    ) -> tuple[int, bool]:
        """Store the window's messages, newest first, until `want` are `wanted` (None: all of them);
        how many `wanted` ones came, and whether the window holds more."""
        found = 0
        async with aclosing(self._c2c_pages(conv, window, max_pages)) as pages:
            async for reply in pages:
                found += await self._merge_c2c(conv, reply, wanted)
                if reply.Complete or not reply.MsgList:
                    return found, False
                if want is not None and found >= want:
                    return found, True
        return found, True  # max_pages reached

    async def _c2c_pages(
        self, conv: Conv, window: Window, max_pages: int
    ) -> AsyncGenerator[AdminGetRoamMsgResponse, None]:
        """admin_getroammsg's pages over `window`, following LastMsgKey until Complete."""
        last_key: str | None = None
        for _ in range(max_pages):
            reply = await self._submit(self._roam_request(conv, window, last_key))
            assert isinstance(reply, AdminGetRoamMsgResponse)
            yield reply
            if reply.Complete or not reply.MsgList:
                return
            window, last_key = (window[0], reply.LastMsgTime), reply.LastMsgKey

    def _roam_request(
        self, conv: Conv, window: Window, last_key: str | None, max_count: int = C2C_PAGE
    ) -> AdminGetRoamMsg:
        return AdminGetRoamMsg(
            Operator_Account=self._user_id, Peer_Account=conv[1], MaxCnt=max_count,
            MinTime=window[0], MaxTime=window[1], LastMsgKey=last_key,
        )  # fmt: skip

    async def _merge_c2c(
        self, conv: Conv, reply: AdminGetRoamMsgResponse, wanted: Callable[[Message], bool]
    ) -> int:
        msgs = [from_roam(r, self._user_id, conv[1]) for r in reply.MsgList]
        await self._merge(conv, msgs, [r.MsgKey for r in reply.MsgList])
        return sum(1 for m in msgs if wanted(m))

    # --- groups ----------------------------------------------------------------------------------

    async def _group_down(self, conv: Conv, top: int | None, want: int) -> bool:
        """Store messages from seq `top` (None: the newest) down until `want` are stored."""
        found = 0
        for _ in range(MAX_PAGES):
            if top is not None and top < 1:
                return False
            records = await self._group_page(conv, top, GROUP_HISTORY_MAX)
            if not records:
                return False
            found += _live(records)
            top = min(r.MsgSeq for r in records) - 1
            if found >= want:
                return top >= 1
        return True

    async def _group_up(self, conv: Conv, bottom: int, want: int) -> bool:
        """Store messages from seq `bottom` up, 20 seqs a call, until `want` are stored."""
        found = 0
        for _ in range(MAX_PAGES):
            top = bottom + GROUP_HISTORY_MAX - 1
            reply = await self._group_reply(conv, top, GROUP_HISTORY_MAX)
            records = [r for r in reply.RspMsgList if r.MsgSeq >= bottom]
            await self._merge_group(conv, records)
            found += _live(records)
            # Holes are listed too, so a range without its top seq is past the group's newest message.
            if all(r.MsgSeq < top for r in reply.RspMsgList):
                return False
            if found >= want:
                return True
            bottom = top + 1
        return True

    async def _group_page(self, conv: Conv, top: int | None, number: int) -> list[GroupRoamMsg]:
        """Fetch and store up to `number` records from seq `top` (None: the newest) down."""
        reply = await self._group_reply(conv, top, number)
        await self._merge_group(conv, reply.RspMsgList)
        return reply.RspMsgList

    async def _group_reply(self, conv: Conv, top: int | None, number: int) -> GroupMsgGetSimpleResponse:
        request = GroupMsgGetSimple(GroupId=conv[1], ReqMsgNumber=number, ReqMsgSeq=top, WithRecalledMsg=1)
        reply = await self._submit(request)
        assert isinstance(reply, GroupMsgGetSimpleResponse)
        return reply

    async def _merge_group(self, conv: Conv, records: list[GroupRoamMsg]) -> None:
        kept = [r for r in records if r.IsPlaceMsg != PLACE_DELETED]
        msgs = [from_group_roam(r, self._user_id, conv[1]) for r in kept]
        await self._merge(conv, msgs, [r.MsgKey for r in kept])

    # ---------------------------------------------------------------------------------------------

    async def _merge(self, conv: Conv, msgs: list[Message], keys: list[str | None]) -> None:
        """Store new messages; a message recalled since we stored it becomes Revoked locally."""
        await self._store.insert_many(conv, msgs, status=int(MsgStatus.SEND_SUCC), msg_keys=keys)
        for msg in msgs:
            # `get` skips tombstones: a message deleted here stays deleted when recalled there.
            if msg.status == MsgStatus.REVOKED and await self._store.get(conv, locator_key(msg)):
                await self._store.set_status(conv, locator_key(msg), int(MsgStatus.REVOKED))


def _older(msg: Message, anchor: LocatorKey | None) -> bool:
    return anchor is None or locator_key(msg) < anchor


def _newer(msg: Message, anchor: LocatorKey) -> bool:
    return locator_key(msg) > anchor


def _live(records: list[GroupRoamMsg]) -> int:
    """Records that hold a message (not a hole left by a deleted or online-only one)."""
    return sum(1 for r in records if r.IsPlaceMsg != PLACE_DELETED)
