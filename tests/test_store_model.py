"""LocalStore against a plain Python model: random sequences of save / insert_many / delete /
set_status / mark_read / page / find agree with a dict keyed by locator, sorted on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aio_tim.store import LocalStore, locator_key
from aio_tim.types import ConvType, Message, MsgLocator, MsgStatus, TextElem

T = TypeVar("T")
Key = tuple[int, int, int]
Conv = tuple[int, str]

CONVS: list[Conv] = [(int(ConvType.C2C), "bob"), (int(ConvType.GROUP), "@TGS#1")]
DELETED = int(MsgStatus.DELETED)
REVOKED = int(MsgStatus.REVOKED)

# A small locator space, so that saves, imports and deletes keep landing on the same messages.
fresh_keys = st.tuples(st.integers(100, 101), st.integers(0, 1), st.integers(0, 2))
between_keys = st.tuples(st.integers(99, 102), st.integers(0, 2), st.integers(0, 3))
convs = st.sampled_from([CONVS[0], CONVS[0], CONVS[1]])  # mostly one conversation, so writes collide
statuses = st.sampled_from([s for s in MsgStatus if s != MsgStatus.DELETED])
msg_keys = st.none() | st.text(max_size=6)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)


@st.composite
def messages(draw: st.DrawFn, keys: st.SearchStrategy[Key]) -> Message:
    time, seq, rand = draw(keys)
    # The locator's time is the server time, or the client time when the server has not set one.
    server_side = draw(st.booleans())
    return Message(
        elem_array=[TextElem(content=draw(texts))],
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

    def unread(self) -> bool:
        return not self.is_read and not self.msg.is_from_self and self.status not in (DELETED, REVOKED)


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

    def keys(self, conv: Conv) -> st.SearchStrategy[Key]:
        """Half the time a locator already stored (tombstones too), else one from the small space."""
        stored = sorted(self.model[conv])
        return st.sampled_from(stored) | fresh_keys if stored else fresh_keys

    def anchors(self, conv: Conv) -> st.SearchStrategy[Key | None]:
        return st.none() | self.keys(conv) | between_keys

    def ordered(self, conv: Conv, include_deleted: bool = False) -> list[Key]:
        entries = self.model[conv]
        return sorted(k for k, e in entries.items() if include_deleted or e.status != DELETED)

    def expected_page(
        self, conv: Conv, anchor: Key | None, count: int, forward: bool, deleted: bool
    ) -> list[Key]:
        ordered = self.ordered(conv, deleted)
        if forward:
            return [k for k in ordered if anchor is None or k > anchor][:count]
        return [k for k in reversed(ordered) if anchor is None or k < anchor][:count]

    # --- writes ----------------------------------------------------------------------------------

    @rule(data=st.data(), conv=convs, status=statuses, msg_key=msg_keys, replace=st.booleans())
    def save(self, data: st.DataObject, conv: Conv, status: int, msg_key: str | None, replace: bool) -> None:
        msg = data.draw(messages(self.keys(conv)))
        key, old = locator_key(msg), self.model[conv].get(locator_key(msg))
        if old is None:
            self.model[conv][key] = Entry(msg, status, read_mark(msg), msg_key)
        elif replace:
            kept_key = old.msg_key if msg_key is None else msg_key
            self.model[conv][key] = Entry(msg, status, old.is_read or read_mark(msg), kept_key)
        saved = self.run(self.store.save(conv, msg, status=status, msg_key=msg_key, replace=replace))
        assert saved == self.model[conv][key].expected(conv)

    @rule(data=st.data(), conv=convs, status=statuses)
    def insert_many(self, data: st.DataObject, conv: Conv, status: int) -> None:
        msgs = data.draw(st.lists(messages(self.keys(conv)), max_size=8))
        keys = data.draw(st.lists(msg_keys, min_size=len(msgs), max_size=len(msgs)))
        added = 0
        for msg, msg_key in zip(msgs, keys, strict=True):
            if locator_key(msg) not in self.model[conv]:
                self.model[conv][locator_key(msg)] = Entry(msg, status, read_mark(msg), msg_key)
                added += 1
        assert self.run(self.store.insert_many(conv, msgs, status=status, msg_keys=keys)) == added

    @rule(data=st.data(), conv=convs)
    def delete(self, data: st.DataObject, conv: Conv) -> None:
        key = data.draw(self.keys(conv))
        entry = self.model[conv].get(key)
        live = entry is not None and entry.status != DELETED
        if entry is not None:
            entry.status = DELETED
        assert self.run(self.store.delete(conv, key)) is live

    @rule(data=st.data(), conv=convs, status=st.sampled_from([MsgStatus.REVOKED, MsgStatus.SEND_FAIL]))
    def set_status(self, data: st.DataObject, conv: Conv, status: int) -> None:
        key = data.draw(self.keys(conv))
        entry = self.model[conv].get(key)
        if entry is not None:
            entry.status = status
        assert self.run(self.store.set_status(conv, key, status)) is (entry is not None)

    @rule(data=st.data(), conv=convs)
    def mark_read(self, data: st.DataObject, conv: Conv) -> None:
        up_to = data.draw(self.anchors(conv))
        changed = [
            e
            for k, e in self.model[conv].items()
            if (up_to is None or k <= up_to) and not e.is_read and e.status != DELETED
        ]
        for entry in changed:
            entry.is_read = True
        assert self.run(self.store.mark_read(conv, up_to)) == len(changed)

    # --- reads -----------------------------------------------------------------------------------

    @rule(data=st.data(), conv=convs, count=st.integers(0, 8), forward=st.booleans(), deleted=st.booleans())
    def page(self, data: st.DataObject, conv: Conv, count: int, forward: bool, deleted: bool) -> None:
        anchor = data.draw(self.anchors(conv))
        got = self.run(
            self.store.page(conv, anchor=anchor, count=count, forward=forward, include_deleted=deleted)
        )
        want = self.expected_page(conv, anchor, count, forward, deleted)
        assert got == [self.model[conv][k].expected(conv) for k in want]

    @rule(conv=convs, count=st.integers(1, 4), forward=st.booleans(), deleted=st.booleans())
    def walk(self, conv: Conv, count: int, forward: bool, deleted: bool) -> None:
        """Page through the whole conversation, each page anchored on the previous page's last message."""
        anchor: Key | None = None
        for _ in range(len(self.model[conv]) + 1):  # enough pages for every message, plus the empty one
            page = self.run(
                self.store.page(conv, anchor=anchor, count=count, forward=forward, include_deleted=deleted)
            )
            assert [locator_key(m) for m in page] == self.expected_page(conv, anchor, count, forward, deleted)
            if not page:
                return
            anchor = locator_key(page[-1])
        raise AssertionError("paging did not reach the end of the conversation")

    @rule(data=st.data(), conv=convs)
    def find(self, data: st.DataObject, conv: Conv) -> None:
        wanted = data.draw(st.lists(self.keys(conv), max_size=5))
        got = self.run(self.store.find(conv, [MsgLocator(time=t, seq=s, rand=r) for t, s, r in wanted]))
        live = set(self.ordered(conv))
        assert got == [self.model[conv][k].expected(conv) for k in wanted if k in live]

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """After every step the whole store, tombstones, read marks and MsgKeys included, is the model."""
        for conv in CONVS:
            everything = self.run(
                self.store.page(conv, anchor=None, count=1000, forward=True, include_deleted=True)
            )
            assert everything == [self.model[conv][k].expected(conv) for k in self.ordered(conv, True)]
            for key, entry in self.model[conv].items():
                assert self.run(self.store.msg_key_of(conv, key)) == entry.msg_key

    @invariant()
    def counts_agree(self) -> None:
        for conv in CONVS:
            unread = sum(e.unread() for e in self.model[conv].values())
            assert self.run(self.store.count(conv)) == len(self.ordered(conv))
            assert self.run(self.store.unread_count(conv)) == unread
            newest = self.run(self.store.newest(conv))
            live = self.ordered(conv)
            assert (locator_key(newest) if newest else None) == (live[-1] if live else None)


# No explain phase: on a failure it re-runs hundreds of sequences (minutes) for little extra insight.
StoreMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
TestLocalStoreModel = StoreMachine.TestCase
