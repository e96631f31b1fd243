"""LocalStore against a plain Python model: random sequences of save / insert_many / delete /
set_status / mark_read / page / find agree with a dict keyed by locator, sorted on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aio_tim.store import LocalStore, locator_key
from aio_tim.types import ConvType, Message, MsgLocator, MsgStatus, TextElem

T = TypeVar("T")
Key = tuple[int, int, int]
Conv = tuple[int, str]

CONVS: list[Conv] = [(int(ConvType.C2C), "bob"), (int(ConvType.GROUP), "@TGS#1")]
DELETED = int(MsgStatus.DELETED)

# A small locator space, so that saves, imports and deletes keep landing on the same messages.
keys = st.tuples(st.integers(100, 102), st.integers(0, 2), st.integers(0, 2))
anchors = st.none() | keys | st.tuples(st.integers(99, 103), st.integers(0, 3), st.integers(0, 3))
convs = st.sampled_from(CONVS)
statuses = st.sampled_from([s for s in MsgStatus if s != MsgStatus.DELETED])
msg_keys = st.none() | st.text(max_size=6)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    time, seq, rand = draw(keys)
    # The locator's time is the server time, or the client time when the server has not set one.
    server_side = draw(st.booleans())
    return Message(
        elem_array=[TextElem(content=draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=8)))],
        server_time=time if server_side else None,
        client_time=draw(st.integers(0, 200)) if server_side else time,
        seq=seq,
        rand=rand,
        is_from_self=draw(st.booleans()),
        is_read=draw(st.none() | st.booleans()),
    )


@dataclass
class Entry:
    msg: Message
    status: int
    is_read: bool
    msg_key: str | None

    def expected(self, conv: Conv) -> Message:
        return msgspec.structs.replace(
            self.msg, conv_type=conv[0], conv_id=conv[1], status=self.status, is_read=self.is_read
        )


def read_mark(msg: Message) -> bool:
    return msg.is_read if msg.is_read is not None else bool(msg.is_from_self)


class StoreMachine(RuleBasedStateMachine):
    """Every store answer equals the model's after any sequence of writes."""

    def __init__(self) -> None:
        super().__init__()
        # Hypothesis drives the steps synchronously, so the loop is driven by hand.
        self.loop = asyncio.new_event_loop()
        self.store = self.run(LocalStore().open())
        self.model: dict[Conv, dict[Key, Entry]] = {conv: {} for conv in CONVS}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.store.aclose())
        self.loop.close()

    # --- the model's answers ---------------------------------------------------------------------

    def live(self, conv: Conv, include_deleted: bool = False) -> list[Key]:
        entries = self.model[conv]
        return sorted(k for k, e in entries.items() if include_deleted or e.status != DELETED)

    def expected_page(
        self, conv: Conv, anchor: Key | None, count: int, forward: bool, deleted: bool
    ) -> list[Key]:
        ordered = self.live(conv, deleted)
        if forward:
            return [k for k in ordered if anchor is None or k > anchor][:count]
        return [k for k in reversed(ordered) if anchor is None or k < anchor][:count]

    # --- rules -----------------------------------------------------------------------------------

    @rule(conv=convs, msg=messages(), status=statuses, msg_key=msg_keys, replace=st.booleans())
    def save(self, conv: Conv, msg: Message, status: int, msg_key: str | None, replace: bool) -> None:
        key, old = locator_key(msg), self.model[conv].get(locator_key(msg))
        if old is None:
            self.model[conv][key] = Entry(msg, status, read_mark(msg), msg_key)
        elif replace:
            self.model[conv][key] = Entry(
                msg, status, old.is_read or read_mark(msg), old.msg_key if msg_key is None else msg_key
            )
        saved = self.run(self.store.save(conv, msg, status=status, msg_key=msg_key, replace=replace))
        assert saved == self.model[conv][key].expected(conv)

    @rule(conv=convs, msgs=st.lists(messages(), max_size=8), status=statuses)
    def insert_many(self, conv: Conv, msgs: list[Message], status: int) -> None:
        added = 0
        for msg in msgs:
            if locator_key(msg) not in self.model[conv]:
                self.model[conv][locator_key(msg)] = Entry(msg, status, read_mark(msg), None)
                added += 1
        assert self.run(self.store.insert_many(conv, msgs, status=status)) == added

    @rule(conv=convs, key=keys)
    def delete(self, conv: Conv, key: Key) -> None:
        entry = self.model[conv].get(key)
        live = entry is not None and entry.status != DELETED
        if entry is not None:
            entry.status = DELETED
        assert self.run(self.store.delete(conv, key)) is live

    @rule(conv=convs, key=keys, status=st.sampled_from([MsgStatus.REVOKED, MsgStatus.SEND_FAIL]))
    def set_status(self, conv: Conv, key: Key, status: int) -> None:
        entry = self.model[conv].get(key)
        if entry is not None:
            entry.status = status
        assert self.run(self.store.set_status(conv, key, status)) is (entry is not None)

    @rule(conv=convs, up_to=anchors)
    def mark_read(self, conv: Conv, up_to: Key | None) -> None:
        changed = [
            e
            for k, e in self.model[conv].items()
            if (up_to is None or k <= up_to) and not e.is_read and e.status != DELETED
        ]
        for entry in changed:
            entry.is_read = True
        assert self.run(self.store.mark_read(conv, up_to)) == len(changed)

    @rule(conv=convs, anchor=anchors, count=st.integers(0, 8), forward=st.booleans(), deleted=st.booleans())
    def page(self, conv: Conv, anchor: Key | None, count: int, forward: bool, deleted: bool) -> None:
        got = self.run(
            self.store.page(conv, anchor=anchor, count=count, forward=forward, include_deleted=deleted)
        )
        want = self.expected_page(conv, anchor, count, forward, deleted)
        assert got == [self.model[conv][k].expected(conv) for k in want]

    @rule(conv=convs, wanted=st.lists(keys, max_size=5))
    def find(self, conv: Conv, wanted: list[Key]) -> None:
        locators = [MsgLocator(time=t, seq=s, rand=r) for t, s, r in wanted]
        got = self.run(self.store.find(conv, locators))
        live = set(self.live(conv))
        assert got == [self.model[conv][k].expected(conv) for k in wanted if k in live]
        for key in wanted:
            entry = self.model[conv].get(key)
            assert self.run(self.store.msg_key_of(conv, key)) == (entry.msg_key if entry else None)

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def counts_agree(self) -> None:
        for conv in CONVS:
            unread = [
                e
                for e in self.model[conv].values()
                if not e.is_read and not e.msg.is_from_self and e.status not in (DELETED, MsgStatus.REVOKED)
            ]
            assert self.run(self.store.count(conv)) == len(self.live(conv))
            assert self.run(self.store.unread_count(conv)) == len(unread)


StoreMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
TestLocalStoreModel = StoreMachine.TestCase
