"""Read receipts over loopback HTTP: send_message_read_receipts, get_message_read_receipts and
get_group_message_read_member_list against the dev server, its four REST commands' error codes,
bad input refused before any I/O, and the C2C.CallbackAfterMsgReadReceipt webhook."""

from __future__ import annotations

import msgspec
import pytest
from scenario import GROUP, T0, Clock, text
from test_modify import Recorder, call

from aio_tim import ConvType, Message, UsageError
from aio_tim.errors import TIMError
from aio_tim.protocol import callbacks as cb
from aio_tim.protocol.receipts import (
    C2CMsgInfo,
    C2CMsgReadReceipt,
    GetGroupMsgReceipt,
    GetGroupMsgReceiptDetail,
    GroupMsgReceipt,
    ReceiptSeq,
)
from aio_tim.testing import client_for
from aio_tim.types import GroupMessageReadMembersFilter as Filter

TEAM = "team"  # alice (owner), bob, carol, dave


async def received(server, user: str, conv: tuple[str, ConvType], clock: Clock) -> list[Message]:
    """The conversation as `user` reads it from roaming (what a receiver passes back)."""
    async with client_for(server, user, clock=clock) as device:
        return [m async for m in device.msg.iter_msg_list(*conv, forward=True, remble=True)]


async def team(server) -> None:
    await server.create_group(TEAM, owner="alice", members=("bob", "carol", "dave"), type="Private")


# --- C2C -----------------------------------------------------------------------------------------


async def test_a_c2c_receipt_makes_the_sender_see_it_read(server, alice, bob, clock):
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("read me", need_read_receipt=True))
    [before] = await alice.msg.get_message_read_receipts([sent])
    assert (before.msg_id, before.is_peer_read, before.conv_id) == (sent.msg_id, False, "bob")
    [theirs] = await received(server, "bob", ("alice", ConvType.C2C), clock)
    await bob.msg.send_message_read_receipts([theirs])
    [after] = await alice.msg.get_message_read_receipts([sent])
    assert after.is_peer_read is True
    await bob.msg.send_message_read_receipts([theirs])  # given once: a second one changes nothing


async def test_a_c2c_message_that_asked_for_no_receipt_takes_none(server, alice, bob, clock):
    await alice.msg.send_text("bob", ConvType.C2C, "no receipt")
    [theirs] = await received(server, "bob", ("alice", ConvType.C2C), clock)
    with pytest.raises(TIMError) as caught:
        await bob.msg.send_message_read_receipts([theirs])
    assert caught.value.code == 90001
    sent = (await received(server, "alice", ("bob", ConvType.C2C), clock))[0]
    [receipt] = await alice.msg.get_message_read_receipts([sent])
    assert receipt.is_peer_read is False


async def test_c2c_msg_read_receipt_error_codes(server, alice, clock):
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("x", need_read_receipt=True))
    key = sent.msg_id or ""

    def receipt(op: str = "bob", peer: str = "alice", frm: str = "alice", to: str = "bob", k: str = key):
        return C2CMsgReadReceipt(Operator_Account=op, Peer_Account=peer, C2CMsgInfo=[C2CMsgInfo(frm, to, k)])

    cases = {
        "empty": (C2CMsgReadReceipt("bob", "alice", []), 90001),
        "wrong-direction": (receipt(frm="bob", to="alice"), 90001),
        "bad-key": (receipt(k="nope"), 90054),
        "unknown-operator": (receipt(op="nobody", to="nobody"), 90008),
        "unknown-peer": (receipt(peer="nobody", frm="nobody"), 90003),
        "no-such-message": (receipt(k="1_2_3"), 20022),
        "sender-acknowledges": (receipt(op="alice", peer="bob", frm="bob", to="alice"), 20022),
    }
    assert {n: await call(alice, r) for n, (r, _) in cases.items()} == {n: c for n, (_, c) in cases.items()}
    [receipt_now] = await alice.msg.get_message_read_receipts([sent])
    assert receipt_now.is_peer_read is False


async def test_a_c2c_receipt_fires_the_after_read_receipt_webhook(server, alice, bob, clock):
    hook = Recorder()
    async with hook.serving() as url:
        server.set_webhook(url, commands={cb.C2C_AFTER_MSG_READ_RECEIPT})
        sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("x", need_read_receipt=True))
        [theirs] = await received(server, "bob", ("alice", ConvType.C2C), clock)
        await bob.msg.send_message_read_receipts([theirs])
        await bob.msg.send_message_read_receipts([theirs])  # not fired again
        await server.webhooks_idle()
    [body] = hook.bodies
    decoded = msgspec.json.decode(msgspec.json.encode(body), type=cb.Callback)
    assert isinstance(decoded, cb.C2CAfterMsgReadReceipt)
    assert (decoded.Operator_Account, decoded.Peer_Account) == ("bob", "alice")
    [info] = decoded.C2CMsgInfo
    assert (info.From_Account, info.To_Account, info.MsgKey) == ("alice", "bob", sent.msg_id)


# --- groups --------------------------------------------------------------------------------------


async def test_group_receipts_count_and_list_the_readers(server, alice, clock):
    await team(server)
    sent = await alice.msg.send_new_msg(TEAM, ConvType.GROUP, text("meeting at 3", need_read_receipt=True))
    for reader in ("carol", "bob"):
        async with client_for(server, reader, clock=clock) as member:
            [theirs] = await received(server, reader, (TEAM, ConvType.GROUP), clock)
            await member.msg.send_message_read_receipts([theirs])
    [receipt] = await alice.msg.get_message_read_receipts([sent])
    assert (receipt.read_count, receipt.unread_count, receipt.conv_type) == (2, 1, ConvType.GROUP)
    read = [m.identifier async for m in alice.msg.get_group_message_read_member_list(sent, Filter.READ)]
    unread = [m.identifier async for m in alice.msg.get_group_message_read_member_list(sent, Filter.UNREAD)]
    assert (sorted(read), unread) == (["bob", "carol"], ["dave"])


async def test_the_read_member_list_pages_over_the_cursor(server, alice, clock):
    await team(server)
    sent = await alice.msg.send_new_msg(TEAM, ConvType.GROUP, text("x", need_read_receipt=True))
    calls = alice._connection.calls
    unread = [m.identifier async for m in alice.msg.get_group_message_read_member_list(sent, 1, page_size=1)]
    assert unread == ["bob", "carol", "dave"]
    assert alice._connection.calls - calls == 3


async def test_a_group_message_that_asked_for_no_receipt_answers_10062(server, alice, bob, clock):
    sent = await alice.msg.send_text(GROUP, ConvType.GROUP, "x")
    with pytest.raises(TIMError) as caught:
        await alice.msg.get_message_read_receipts([sent])
    assert caught.value.code == 10062
    [theirs] = await received(server, "bob", (GROUP, ConvType.GROUP), clock)
    with pytest.raises(TIMError) as caught:
        await bob.msg.send_message_read_receipts([theirs])
    assert caught.value.code == 10062


async def test_group_receipt_commands_error_codes(server, alice):
    sent = await alice.msg.send_new_msg(GROUP, ConvType.GROUP, text("x", need_read_receipt=True))
    await server.create_group("live", owner="alice", type="AVChatRoom")
    await server.create_group("town", owner="alice", type="Community")
    seq = sent.seq or 0
    cases = {
        "no-group": (GetGroupMsgReceipt("nope", [ReceiptSeq(seq)]), 10010),
        "av-chat-room": (GetGroupMsgReceipt("live", [ReceiptSeq(1)]), 10007),
        "community": (GroupMsgReceipt("town", "alice", [ReceiptSeq(1)]), 10007),
        "empty-list": (GetGroupMsgReceipt(GROUP, []), 10004),
        "not-a-member": (GroupMsgReceipt(GROUP, "carol", [ReceiptSeq(seq)]), 10007),
        "detail-count-0": (GetGroupMsgReceiptDetail(GROUP, seq, Count=0), 10004),
        "detail-count-201": (GetGroupMsgReceiptDetail(GROUP, seq, Count=201), 10004),
        "detail-filter": (GetGroupMsgReceiptDetail(GROUP, seq, Filter=2), 10004),
        "detail-cursor": (GetGroupMsgReceiptDetail(GROUP, seq, Cursor="x"), 10004),
        "detail-no-message": (GetGroupMsgReceiptDetail(GROUP, seq + 9), 10030),
    }
    await server.add_accounts("carol")
    assert {n: await call(alice, r) for n, (r, _) in cases.items()} == {n: c for n, (_, c) in cases.items()}
    [receipt] = await alice.msg.get_message_read_receipts([sent])
    assert (receipt.read_count, receipt.unread_count) == (0, 1)


async def test_a_missing_group_message_answers_10030_per_seq(alice):
    with pytest.raises(TIMError) as caught:
        await alice.msg.get_message_read_receipts([text("x", conv_id=GROUP, conv_type=2, seq=99, rand=1,
                                                        server_time=T0)])  # fmt: skip
    assert caught.value.code == 10030


# --- bad input: refused before any I/O ------------------------------------------------------------


def _bad_lists(sent: Message) -> dict[str, object]:
    other = msgspec.structs.replace(sent, conv_id="carol")
    return {
        "malformed": "[",
        "empty": [],
        "too-many": [sent] * 101,
        "two-conversations": [sent, other],
        "no-conversation": [msgspec.structs.replace(sent, conv_id=None)],
        "no-locator": [msgspec.structs.replace(sent, seq=None, rand=None, server_time=None, client_time=0)],
        "bad-conv-type": [msgspec.structs.replace(sent, conv_type=3)],
    }


@pytest.mark.parametrize("case", list(_bad_lists(text("x"))))
async def test_receipt_bad_input_is_refused_offline(alice, case):
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("x", need_read_receipt=True))
    calls = alice._connection.calls
    for operation in (alice.msg.send_message_read_receipts, alice.msg.get_message_read_receipts):
        with pytest.raises(UsageError):
            await operation(_bad_lists(sent)[case])
    assert alice._connection.calls == calls


async def test_receipts_for_ones_own_or_unasked_messages_are_refused_offline(server, alice, bob, clock):
    mine = await alice.msg.send_new_msg("bob", ConvType.C2C, text("x", need_read_receipt=True))
    [theirs] = await received(server, "bob", ("alice", ConvType.C2C), clock)
    calls = alice._connection.calls, bob._connection.calls
    with pytest.raises(UsageError, match="own"):
        await alice.msg.send_message_read_receipts([mine])
    with pytest.raises(UsageError, match="asked for no"):
        await bob.msg.send_message_read_receipts([msgspec.structs.replace(theirs, need_read_receipt=False)])
    assert (alice._connection.calls, bob._connection.calls) == calls
    [receipt] = await alice.msg.get_message_read_receipts([mine])
    assert receipt.is_peer_read is False  # nothing was sent


@pytest.mark.parametrize(
    ("change", "filter_", "page_size"),
    [({}, 2, 10), ({}, 0, 0), ({}, 0, 101), ({"conv_id": "bob", "conv_type": 1}, 0, 10), ({"seq": 0}, 0, 10)],
)
async def test_read_member_list_bad_input_is_refused_at_the_call(alice, change, filter_, page_size):
    sent = await alice.msg.send_new_msg(GROUP, ConvType.GROUP, text("x", need_read_receipt=True))
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        alice.msg.get_group_message_read_member_list(
            msgspec.structs.replace(sent, **change), filter_, page_size=page_size
        )
    assert alice._connection.calls == calls
