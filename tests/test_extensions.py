"""Message extensions over loopback HTTP: set/get/delete_message_extensions against the dev
server, TIM's Seq conflict (23001), the caps, each command's error codes and bad input refused
before any I/O."""

from __future__ import annotations

import msgspec
import pytest
from scenario import GROUP, T0, Clock, text
from test_modify import call

from aio_tim import ConvType, Message, UsageError
from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError
from aio_tim.protocol.extensions import (
    ExtItem,
    GetKeyValues,
    GroupGetKeyValues,
    GroupSetKeyValues,
    SetKeyValues,
)
from aio_tim.testing import client_for
from aio_tim.types import MessageExtension as Ext

CONVS = {"c2c": ("bob", ConvType.C2C), "group": (GROUP, ConvType.GROUP)}


def pairs(exts: list[Ext]) -> dict[str, str]:
    return {e.key: e.value for e in exts}


async def extensible(client, conv) -> Message:
    return await client.msg.send_new_msg(*conv, text("vote!", support_message_extension=True))


@pytest.mark.parametrize("kind", CONVS)
async def test_set_get_and_delete(server, alice, bob, clock, kind):
    sent = await extensible(alice, CONVS[kind])
    results = await alice.msg.set_message_extensions(sent, [Ext("alice", "yes"), Ext("topic", "lunch")])
    assert [(r.code, r.item.key if r.item else None) for r in results] == [(0, "alice"), (0, "topic")]
    await alice.msg.set_message_extensions(sent, [Ext("topic", "dinner")])  # overwrite with the Seq read
    assert pairs(await alice.msg.get_message_extensions(sent)) == {"alice": "yes", "topic": "dinner"}
    # The peer (or a member) shares them: the same message, read from its own roaming.
    conv = ("alice", ConvType.C2C) if kind == "c2c" else CONVS[kind]
    [theirs] = [m async for m in bob.msg.iter_msg_list(*conv, remble=True)]
    await bob.msg.set_message_extensions(theirs, [Ext("bob", "no")])
    assert pairs(await bob.msg.get_message_extensions(theirs)) == {
        "alice": "yes",
        "topic": "dinner",
        "bob": "no",
    }
    deleted = await alice.msg.delete_message_extensions(sent, ["topic"])
    assert [r.code for r in deleted] == [0]
    assert pairs(await alice.msg.get_message_extensions(sent)) == {"alice": "yes", "bob": "no"}
    assert await alice.msg.delete_message_extensions(sent, []) == []  # empty: clear them all
    assert await alice.msg.get_message_extensions(sent) == []


@pytest.mark.parametrize("kind", CONVS)
async def test_a_key_written_in_between_answers_23001_with_its_value(server, alice, kind):
    """TIM's sequence rule: a write names the Seq it read; a key moved since is refused (23001) and
    answered as it is, the other keys of the request are written."""
    sent = await extensible(alice, CONVS[kind])
    await alice.msg.set_message_extensions(sent, [Ext("k", "first")])
    conv = CONVS[kind]
    ref = (
        {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent.msg_id}
        if kind == "c2c"
        else {"GroupId": GROUP, "MsgSeq": sent.seq}
    )
    kind_set = SetKeyValues if conv[1] == ConvType.C2C else GroupSetKeyValues
    items = [{"Key": "k", "Value": "stale", "Seq": 0}, {"Key": "new", "Value": "v", "Seq": 0}]
    stale = msgspec.convert({**ref, "OperateType": 1, "ExtensionList": items}, kind_set)
    reply = await alice._connection.call(stale)
    [conflict, written] = reply.ResultList  # type: ignore[attr-defined]
    assert (conflict.ErrorCode, conflict.Extension.Value, conflict.Extension.Seq) == (23001, "first", 1)
    assert (written.ErrorCode, written.Extension.Seq) == (0, 2)
    assert pairs(await alice.msg.get_message_extensions(sent)) == {"k": "first", "new": "v"}
    kind_get = GetKeyValues if conv[1] == ConvType.C2C else GroupGetKeyValues
    page = await alice._connection.call(msgspec.convert({**ref, "StartSeq": 2}, kind_get))
    assert (page.LatestSeq, [e.Key for e in page.ExtensionList]) == (2, ["new"])  # type: ignore[attr-defined]


async def test_set_reports_23001_when_another_writer_gets_in_between(server, alice, bob, clock):
    """Two writers of one key: whoever writes second with the Seq it read before loses (23001)."""
    sent = await extensible(alice, CONVS["group"])
    await alice.msg.set_message_extensions(sent, [Ext("seat", "alice")])
    ref = {"GroupId": GROUP, "MsgSeq": sent.seq}
    read_by_bob = await bob._connection.call(msgspec.convert(ref, GroupGetKeyValues))
    [seat] = read_by_bob.ExtensionList  # type: ignore[attr-defined]
    await alice.msg.set_message_extensions(sent, [Ext("seat", "alice again")])
    late = GroupSetKeyValues(GROUP, sent.seq or 0, 1, [ExtItem("seat", "bob", seat.Seq)])
    [result] = (await bob._connection.call(late)).ResultList  # type: ignore[attr-defined]
    assert (result.ErrorCode, result.Extension.Value) == (23001, "alice again")


async def test_caps_per_message(server, alice):
    sent = await extensible(alice, CONVS["c2c"])
    for start in range(0, 300, 20):
        await alice.msg.set_message_extensions(sent, [Ext(f"k{i}", "v") for i in range(start, start + 20)])
    assert len(await alice.msg.get_message_extensions(sent)) == 300
    with pytest.raises(TIMError) as caught:
        await alice.msg.set_message_extensions(sent, [Ext("one-too-many", "v")])
    assert caught.value.code == 90001
    await alice.msg.set_message_extensions(sent, [Ext("k0", "overwriting is fine")])


async def test_a_message_sent_without_extension_support_takes_none(server, alice):
    sent = await alice.msg.send_text("bob", ConvType.C2C, "plain")
    with pytest.raises(TIMError) as caught:
        await alice.msg.set_message_extensions(sent, [Ext("k", "v")])
    assert caught.value.code == 90001


async def test_extension_command_error_codes(server, alice):
    c2c = await extensible(alice, CONVS["c2c"])
    group = await extensible(alice, CONVS["group"])
    plain = await alice.msg.send_text(GROUP, ConvType.GROUP, "plain")
    await server.create_group("live", owner="alice", type="AVChatRoom")
    key, seq = c2c.msg_id or "", group.seq or 0
    ok = [ExtItem("k", "v")]
    cases = {
        "bad-op": (SetKeyValues("bob", key, 4, "alice", ok), 90001),
        "no-list": (SetKeyValues("bob", key, 1, "alice"), 90001),
        "too-many": (SetKeyValues("bob", key, 1, "alice", [ExtItem(f"k{i}") for i in range(21)]), 90001),
        "twice": (SetKeyValues("bob", key, 1, "alice", [ExtItem("k"), ExtItem("k")]), 90001),
        "long-key": (SetKeyValues("bob", key, 1, "alice", [ExtItem("k" * 101)]), 90001),
        "long-value": (SetKeyValues("bob", key, 1, "alice", [ExtItem("k", "v" * 1025)]), 90001),
        "bad-key": (SetKeyValues("bob", "nope", 1, "alice", ok), 90054),
        "no-message": (SetKeyValues("bob", "1_2_3", 1, "alice", ok), 20022),
        "get-no-message": (GetKeyValues("bob", "1_2_3", "alice"), 20022),
        "get-negative": (GetKeyValues("bob", key, "alice", StartSeq=-1), 90001),
        "no-group": (GroupSetKeyValues("nope", seq, 1, ok), 10010),
        "av-chat-room": (GroupGetKeyValues("live", 1), 10007),
        "no-seq": (GroupSetKeyValues(GROUP, seq + 9, 1, ok), 10030),
        "not-extensible": (GroupGetKeyValues(GROUP, plain.seq or 0), 90001),
    }
    assert {n: await call(alice, r) for n, (r, _) in cases.items()} == {n: c for n, (_, c) in cases.items()}
    assert await alice.msg.get_message_extensions(c2c) == []


# --- bad input: refused before any I/O ------------------------------------------------------------


def _bad(sent: Message) -> dict[str, tuple[object, object]]:
    ok = [Ext("k", "v")]
    return {
        "malformed-msg": ("{", ok),
        "no-conversation": (msgspec.structs.replace(sent, conv_id=None), ok),
        "no-locator": (
            msgspec.structs.replace(sent, seq=None, rand=None, server_time=None, client_time=0),
            ok,
        ),
        "not-extensible": (msgspec.structs.replace(sent, support_message_extension=False), ok),
        "no-keys": (sent, []),
        "21-keys": (sent, [Ext(f"k{i}", "v") for i in range(21)]),
        "empty-key": (sent, [Ext("", "v")]),
        "long-key": (sent, [Ext("k" * 101, "v")]),
        "long-value": (sent, [Ext("k", "v" * 1025)]),
        "twice": (sent, [Ext("k", "a"), Ext("k", "b")]),
        "malformed-list": (sent, "["),
    }


@pytest.mark.parametrize("case", list(_bad(text("x"))))
async def test_set_bad_input_is_refused_offline(server, alice, case):
    sent = await extensible(alice, CONVS["c2c"])
    await alice.msg.set_message_extensions(sent, [Ext("kept", "1")])
    calls = alice._connection.calls
    msg, exts = _bad(sent)[case]
    with pytest.raises(UsageError):
        await alice.msg.set_message_extensions(msg, exts)
    if case not in ("no-keys", "long-value"):  # delete takes keys only; none means "all"
        keys = [e.key for e in exts] if isinstance(exts, list) else exts
        with pytest.raises(UsageError):
            await alice.msg.delete_message_extensions(msg, keys)
    assert alice._connection.calls == calls
    assert pairs(await alice.msg.get_message_extensions(sent)) == {"kept": "1"}


async def test_get_bad_input_is_refused_offline(alice):
    calls = alice._connection.calls
    for msg in ("{", text("x"), text("x", conv_id=GROUP, conv_type=2, seq=0, rand=1, server_time=T0)):
        with pytest.raises(UsageError):
            await alice.msg.get_message_extensions(msg)
    assert alice._connection.calls == calls


async def test_a_fresh_device_reads_the_same_extensions(server, alice, clock):
    sent = await extensible(alice, CONVS["group"])
    await alice.msg.set_message_extensions(sent, [Ext("k", "v")])
    async with client_for(server, "bob", clock=Clock(clock.now)) as other:
        [theirs] = [m async for m in other.msg.iter_msg_list(GROUP, ConvType.GROUP, remble=True)]
        assert pairs(await other.msg.get_message_extensions(theirs)) == {"k": "v"}


async def test_extensions_and_receipts_survive_a_dev_server_restart(tmp_path):
    """Schema v6 is on disk: a file-backed dev server keeps both across a restart."""
    path = tmp_path / "dev.db"
    async with DevServer(db_path=path, clock=Clock(T0)) as first:
        await first.create_group(GROUP, owner="alice", members=("bob",))
        async with client_for(first, "alice", clock=Clock(T0)) as alice:
            sent = await alice.msg.send_new_msg(
                GROUP, ConvType.GROUP, text("x", support_message_extension=True, need_read_receipt=True)
            )
            await alice.msg.set_message_extensions(sent, [Ext("k", "v")])
        async with client_for(first, "bob", clock=Clock(T0)) as bob:
            [theirs] = [m async for m in bob.msg.iter_msg_list(GROUP, ConvType.GROUP, remble=True)]
            await bob.msg.send_message_read_receipts([theirs])
        secret = first.secret_key
    async with DevServer(db_path=path, clock=Clock(T0), secret_key=secret) as again:
        alice = client_for(again, "alice", clock=Clock(T0))
        async with alice:
            assert pairs(await alice.msg.get_message_extensions(sent)) == {"k": "v"}
            [receipt] = await alice.msg.get_message_read_receipts([sent])
            assert (receipt.read_count, receipt.unread_count) == (1, 0)
