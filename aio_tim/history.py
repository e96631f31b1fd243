"""Roaming: fetching a conversation's server-side history into the local store.

TIM keeps C2C history per party (`openim/admin_getroammsg`, newest first, paged by
`LastMsgKey`) and group history per group (`group_open_http_svc/group_msg_get_simple`, newest
first from `ReqMsgSeq`, ≤20 a call). Both are merged into the store with `insert_many`, which
ignores locators it already has, so fetching the same range twice never duplicates a message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from .protocol import Envelope, Request
from .protocol.group import GROUP_HISTORY_MAX, GroupMsgGetSimple, GroupMsgGetSimpleResponse
from .protocol.incoming import PLACE_DELETED, from_group_roam, from_roam
from .protocol.openim import AdminGetRoamMsg, AdminGetRoamMsgResponse
from .store import Conv, LocalStore, LocatorKey, locator_key
from .types import ConvType, Message, MsgLocator, MsgStatus

__all__ = ["Roaming"]

Submit = Callable[[Request], Awaitable[Envelope]]

C2C_PAGE: Final = 100
MAX_PAGES: Final = 50  # one get_msg_list never walks more than this many server pages


class Roaming:
    """Pulls server history for `user_id` into `store`, through `submit` (the pipeline)."""

    def __init__(self, user_id: str, store: LocalStore, submit: Submit) -> None:
        self._user_id = user_id
        self._store = store
        self._submit = submit

    async def fill_older(self, conv: Conv, anchor: LocatorKey | None, want: int) -> None:
        """Store at least `want` server messages older than `anchor` (None: the newest), if any."""
        if conv[0] == ConvType.C2C:
            max_time = anchor[0] if anchor else int(time.time()) + 1
            await self._c2c_range(conv, 0, max_time, lambda m: _older(m, anchor), want)
        else:
            top = anchor[1] - 1 if anchor else None
            await self._group_range(conv, top, None if top is None else 1, want)

    async def fill_newer(self, conv: Conv, anchor: LocatorKey, want: int) -> None:
        """Store the server messages newer than `anchor`, `want` of them at least when they exist."""
        if conv[0] == ConvType.C2C:
            now = int(time.time()) + 1
            # The server pages newest first: walk down to the anchor's second.
            await self._c2c_range(conv, anchor[0], now, lambda m: _newer(m, anchor), None)
        else:
            await self._group_range(conv, anchor[1] + want, anchor[1] + 1, want)

    async def find(self, conv: Conv, loc: MsgLocator) -> Message | None:
        """Look one locator up on the server and store it when found."""
        key = (loc.time or 0, loc.seq or 0, loc.rand or 0)
        if conv[0] == ConvType.C2C:
            await self._c2c_range(conv, key[0], key[0], lambda m: locator_key(m) == key, None)
        else:
            await self._group_range(conv, key[1], key[1], 1)
        return await self._store.get(conv, key)

    async def _c2c_range(
        self,
        conv: Conv,
        min_time: int,
        max_time: int,
        wanted: Callable[[Message], bool],
        want: int | None,
    ) -> None:
        """Walk admin_getroammsg over [min_time, max_time], storing every page it gets."""
        last_key: str | None = None
        found = 0
        for _ in range(MAX_PAGES):
            request = AdminGetRoamMsg(
                Operator_Account=self._user_id, Peer_Account=conv[1], MaxCnt=C2C_PAGE,
                MinTime=min_time, MaxTime=max_time, LastMsgKey=last_key,
            )  # fmt: skip
            reply = await self._submit(request)
            assert isinstance(reply, AdminGetRoamMsgResponse)
            msgs = [from_roam(r, self._user_id, conv[1]) for r in reply.MsgList]
            await self._merge(conv, msgs, [r.MsgKey for r in reply.MsgList])
            found += sum(1 for m in msgs if wanted(m))
            if reply.Complete or not reply.MsgList or (want is not None and found >= want):
                return
            max_time, last_key = reply.LastMsgTime, reply.LastMsgKey

    async def _group_range(self, conv: Conv, top: int | None, bottom: int | None, want: int) -> None:
        """Walk group_msg_get_simple down from seq `top` (None: latest) to `bottom` or `want`."""
        found = 0
        for _ in range(MAX_PAGES):
            if top is not None and (top < 1 or (bottom is not None and top < bottom)):
                return
            number = _batch_size(top, bottom)
            reply = await self._submit(
                GroupMsgGetSimple(GroupId=conv[1], ReqMsgNumber=number, ReqMsgSeq=top, WithRecalledMsg=1)
            )
            assert isinstance(reply, GroupMsgGetSimpleResponse)
            records = [r for r in reply.RspMsgList if r.IsPlaceMsg != PLACE_DELETED]
            msgs = [from_group_roam(r, self._user_id, conv[1]) for r in records]
            await self._merge(conv, msgs, [r.MsgKey for r in records])
            found += len(msgs)
            if not reply.RspMsgList or found >= want:
                return
            top = min(r.MsgSeq for r in reply.RspMsgList) - 1

    async def _merge(self, conv: Conv, msgs: list[Message], keys: list[str | None]) -> None:
        """Store new messages; a message recalled since we stored it becomes Revoked locally."""
        await self._store.insert_many(conv, msgs, status=int(MsgStatus.SEND_SUCC), msg_keys=keys)
        for msg in msgs:
            if msg.status == MsgStatus.REVOKED:
                await self._store.set_status(conv, locator_key(msg), int(MsgStatus.REVOKED))


def _older(msg: Message, anchor: LocatorKey | None) -> bool:
    return anchor is None or locator_key(msg) < anchor


def _newer(msg: Message, anchor: LocatorKey) -> bool:
    return locator_key(msg) > anchor


def _batch_size(top: int | None, bottom: int | None) -> int:
    if top is None or bottom is None:
        return GROUP_HISTORY_MAX
    return min(GROUP_HISTORY_MAX, top - bottom + 1)
