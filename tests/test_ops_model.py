"""`tim.msg` against a plain Python model: random sequences of send / save / import / delete /
revoke / find / page, through a client and a dev server on loopback, agree with two dicts keyed
by locator — what the local store holds and what the server keeps for the user."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aio_tim import Client, ConvType, Message, MsgDeleteParam, MsgLocator, MsgStatus, TextElem, TIMError
from aio_tim.devserver import DevServer
from aio_tim.store import locator_key
from aio_tim.testing import client_for

T = TypeVar("T")
Key = tuple[int, int, int]
Conv = tuple[str, ConvType]

T0 = 1_700_000_000
OLD = T0 - 1000  # imported history lies before anything sent
C2C: Conv = ("bob", ConvType.C2C)
GROUP: Conv = ("g1", ConvType.GROUP)
CONVS = [C2C, GROUP]
SUCC, DELETED, IMPORTED, REVOKED = (
    MsgStatus.SEND_SUCC,
    MsgStatus.DELETED,
    MsgStatus.LOCAL_IMPORTED,
    MsgStatus.REVOKED,
)

convs = st.sampled_from(CONVS)
contents = st.sampled_from(["a", "b", "c", "d"])
picks = st.integers(0, 10_000)
# A small locator space for imports, so re-imports and collisions keep happening.
import_keys = st.tuples(st.integers(0, 2), st.integers(1, 2), st.integers(1, 2))


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@dataclass
class Local:
    """A message as the store should hold it: status 4 is a tombstone."""

    msg: Message
    status: int
    text: str | None


@dataclass
class Remote:
    """A message as the server keeps it for our user."""

    msg: Message
    recalled: bool = False
    hidden: bool = False  # deleted from the user's roaming (C2C only)

    def seen(self) -> Local:
        """How roaming hands it out: a recalled message comes without its body."""
        if self.recalled:
            return Local(self.msg, REVOKED, None)
        return Local(self.msg, SUCC, text_of(self.msg))


def text_of(msg: Message) -> str | None:
    return msg.elem_array[0].content if msg.elem_array else None  # type: ignore[union-attr]


def summary(msgs: list[Message]) -> list[tuple[Key, int | None, str | None]]:
    return [(locator_key(m), m.status, text_of(m)) for m in msgs]


class OpsMachine(RuleBasedStateMachine):
    """Every answer of `tim.msg` equals the model's after any sequence of operations."""

    def __init__(self) -> None:
        super().__init__()
        # Hypothesis drives the steps synchronously, so the loop is driven by hand.
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.server = DevServer(clock=self.clock)
        self.run(self.server.start())
        self.run(self.server.create_group(GROUP[0], owner="alice", members=["bob"]))
        self.tim: Client = client_for(self.server, "alice", clock=self.clock)
        self.run(self.tim.open())
        self.local: dict[Conv, dict[Key, Local]] = {conv: {} for conv in CONVS}
        self.remote: dict[Conv, dict[Key, Remote]] = {conv: {} for conv in CONVS}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.tim.aclose())
        self.run(self.server.aclose())
        self.loop.close()

    # --- the model's view ------------------------------------------------------------------------

    def known(self, conv: Conv) -> list[Key]:
        """Every locator the model has seen in `conv`, and one nobody has."""
        unknown = (OLD - 4000, 1 if conv == C2C else 0, 1)
        return sorted({*self.local[conv], *self.remote[conv], unknown})

    def message(self, conv: Conv, key: Key) -> Message:
        if key in self.local[conv]:
            return self.local[conv][key].msg
        if key in self.remote[conv]:
            return self.remote[conv][key].msg
        return Message(
            elem_array=[TextElem("?")], server_time=key[0], seq=key[1], rand=key[2], sender="alice"
        )

    def live(self, conv: Conv) -> list[Key]:
        return sorted(k for k, e in self.local[conv].items() if e.status != DELETED)

    def expect_error(self, coro: Coroutine[Any, Any, Any], code: int) -> None:
        with pytest.raises(TIMError) as caught:
            self.run(coro)
        assert caught.value.code == code

    def merge(self, conv: Conv, keys: list[Key]) -> None:
        """A roaming fetch of `keys`: new ones stored as the server shows them, recalls applied."""
        for key in keys:
            remote, entry = self.remote[conv][key], self.local[conv].get(key)
            if entry is None:
                self.local[conv][key] = remote.seen()
            elif remote.recalled and entry.status != DELETED:
                entry.status = REVOKED

    def roaming_lookup(self, conv: Conv, key: Key) -> None:
        """What `find` fetches for a locator: its whole second (C2C), the record at its seq (group)."""
        visible = {k: r for k, r in self.remote[conv].items() if not r.hidden}
        if conv == C2C:
            self.merge(conv, [k for k in visible if k[0] == key[0]])
        elif key[1] > 0:
            below = [k for k in visible if k[1] <= key[1]]
            self.merge(conv, [max(below, key=lambda k: k[1])] if below else [])

    # --- rules -----------------------------------------------------------------------------------

    @rule(conv=convs, content=contents, tick=st.booleans())
    def send(self, conv: Conv, content: str, tick: bool) -> None:
        self.clock.now += tick
        sent = self.run(self.tim.msg.send_new_msg(*conv, Message(elem_array=[TextElem(content)])))
        key = locator_key(sent)
        assert sent.status == SUCC and key not in self.local[conv] and key not in self.remote[conv]
        self.local[conv][key] = Local(sent, SUCC, content)
        self.remote[conv][key] = Remote(sent)

    @rule(conv=convs, content=contents)
    def save(self, conv: Conv, content: str) -> None:
        saved = self.run(
            self.tim.msg.save_msg(
                *conv, {"message_elem_array": [{"elem_type": 0, "text_elem_content": content}]}
            )
        )
        assert saved.status == IMPORTED and locator_key(saved) not in self.local[conv]
        self.local[conv][locator_key(saved)] = Local(saved, IMPORTED, content)

    @rule(
        conv=convs,
        keys=st.lists(import_keys, min_size=1, max_size=4),
        content=contents,
        from_peer=st.booleans(),
        cloud=st.booleans(),
    )
    def import_msgs(self, conv: Conv, keys: list[Key], content: str, from_peer: bool, cloud: bool) -> None:
        cloud = cloud and conv == C2C  # group imports take a server seq: covered in test_msg_local
        msgs = [
            Message(
                elem_array=[TextElem(content)],
                sender="bob" if from_peer else "alice",
                server_time=OLD + t,
                seq=s if conv == C2C else 0,
                rand=r,
            )
            for t, s, r in keys
        ]
        self.run(self.tim.msg.import_msg_list(*conv, msgs, cloud=cloud))
        for msg in msgs:  # the first writer of a locator wins, here and on the server
            self.local[conv].setdefault(locator_key(msg), Local(msg, IMPORTED, content))
            if cloud:
                self.remote[conv].setdefault(locator_key(msg), Remote(msg))

    @rule(conv=convs, pick=picks, remble=st.booleans())
    def delete_one(self, conv: Conv, pick: int, remble: bool) -> None:
        keys = self.known(conv)
        key = keys[pick % len(keys)]
        param = MsgDeleteParam(msg=self.message(conv, key), is_remble=remble)
        entry, remote = self.local[conv].get(key), self.remote[conv].get(key)
        if remble and conv == GROUP:
            return self.expect_error(self.tim.msg.delete(*conv, param), -4)
        here, there = entry is not None and entry.status != DELETED, remble and remote is not None
        if not (here or there):
            return self.expect_error(self.tim.msg.delete(*conv, param), 20022)
        self.run(self.tim.msg.delete(*conv, param))
        if entry is not None:
            entry.status = DELETED
        if remble and remote is not None:
            remote.hidden = True
        return None

    @rule(conv=convs, remble=st.booleans())
    def delete_all(self, conv: Conv, remble: bool) -> None:
        if remble and conv == GROUP:
            return self.expect_error(self.tim.msg.delete(*conv, {"msg_delete_param_is_remble": True}), -4)
        self.run(self.tim.msg.delete(*conv, MsgDeleteParam(is_remble=remble)))
        self.local[conv].clear()
        for remote in self.remote[conv].values():
            remote.hidden = remote.hidden or remble
        return None

    @rule(conv=convs, pick=picks)
    def revoke(self, conv: Conv, pick: int) -> None:
        keys = self.known(conv)
        key = keys[pick % len(keys)]
        remote = self.remote[conv].get(key)
        msg = remote.msg if remote else self.message(conv, key)
        if conv == GROUP and not msg.seq:
            return self.expect_error(self.tim.msg.revoke(*conv, msg), -4)
        if remote is None or remote.recalled:
            codes = {C2C: (20022, 20023), GROUP: (10030, 10032)}[conv]
            return self.expect_error(self.tim.msg.revoke(*conv, msg), codes[remote is not None])
        self.run(self.tim.msg.revoke(*conv, msg))
        remote.recalled = True
        entry = self.local[conv].get(key)
        if entry is None:  # recorded as revoked, with the body we passed
            self.local[conv][key] = Local(msg, REVOKED, text_of(msg))
        elif entry.status != DELETED:
            entry.status = REVOKED
        return None

    @rule(conv=convs, chosen=st.lists(picks, max_size=3))
    def find(self, conv: Conv, chosen: list[int]) -> None:
        keys = self.known(conv)
        wanted = [keys[p % len(keys)] for p in chosen]
        locators = [MsgLocator(time=t, seq=s, rand=r) for t, s, r in wanted]
        got = self.run(self.tim.msg.find_by_msg_locator_list(*conv, locators))
        # Local hits are read before any roaming lookup changes the store.
        hits = {
            k: (e.status, e.text) for k in wanted if (e := self.local[conv].get(k)) and e.status != DELETED
        }
        expected = []
        for key in wanted:
            if key not in hits:
                self.roaming_lookup(conv, key)
                entry = self.local[conv].get(key)
                if entry is None or entry.status == DELETED:
                    continue
                hits[key] = (entry.status, entry.text)
            expected.append((key, *hits[key]))
        assert summary(got) == expected

    @rule(conv=convs, pick=st.none() | picks, count=st.integers(0, 6), forward=st.booleans())
    def page(self, conv: Conv, pick: int | None, count: int, forward: bool) -> None:
        keys = self.known(conv)
        anchor = None if pick is None else keys[pick % len(keys)]
        last = None if anchor is None else self.message(conv, anchor)
        param = {"msg_getmsglist_param_count": count, "msg_getmsglist_param_is_forward": forward}
        got = self.run(self.tim.msg.get_msg_list(*conv, {**param, "msg_getmsglist_param_last_msg": last}))
        live = self.live(conv)
        beyond = (
            [k for k in live if anchor is None or k > anchor]
            if forward
            else [k for k in reversed(live) if anchor is None or k < anchor]
        )
        entries = self.local[conv]
        assert summary(got) == [(k, entries[k].status, entries[k].text) for k in beyond[:count]]

    @rule(conv=convs, forward=st.booleans(), page_size=st.integers(1, 5))
    def roaming(self, conv: Conv, forward: bool, page_size: int) -> None:
        """A device with an empty store pages the server's history exactly as the model keeps it."""

        async def walk() -> list[Message]:
            async with client_for(self.server, "alice", clock=self.clock) as device:
                return [
                    m
                    async for m in device.msg.iter_msg_list(
                        *conv, forward=forward, page_size=page_size, remble=True
                    )
                ]

        visible = sorted((k, r.seen()) for k, r in self.remote[conv].items() if not r.hidden)
        expected = [(k, seen.status, seen.text) for k, seen in visible]
        assert summary(self.run(walk())) == (expected if forward else expected[::-1])

    @rule()
    def tick(self) -> None:
        self.clock.now += 1

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def counts_agree(self) -> None:
        for conv in CONVS:
            assert self.run(self.tim.store.count((int(conv[1]), conv[0]))) == len(self.live(conv))


OpsMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
TestMsgOpsModel = OpsMachine.TestCase
