"""The receiving side applies edits made elsewhere: a C2C modify (C2C.CallbackAfterModifyMsg)
rewrites the local copy, a read receipt (C2C.CallbackAfterMsgReadReceipt) marks the sender's copy
read by the peer. Over real loopback: the dev server fires the webhooks at bob's `tim.listen()`."""

from __future__ import annotations

import msgspec
from test_events_loopback import TOKEN, alice, bob, next_event, server  # noqa: F401

from aio_tim import Client, ConvType, GetMsgListParam, Message, TextElem
from aio_tim.devserver import DevServer
from aio_tim.protocol import callbacks as cb


def text(content: str, **fields: object) -> Message:
    return Message(elem_array=[TextElem(content=content)], **fields)  # type: ignore[arg-type]


async def test_a_modify_made_elsewhere_rewrites_the_received_copy(alice: Client, bob: Client) -> None:  # noqa: F811
    events = bob.events()
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("helo", cloud_custom_str="c1"))
    await next_event(events, cb.C2C_AFTER_SEND_MSG)
    await alice.msg.modify_message(msgspec.structs.replace(sent, elem_array=[TextElem(content="hello")]))
    modified = await next_event(events, cb.C2C_AFTER_MODIFY_MSG)
    assert isinstance(modified.body, cb.C2CAfterModifyMsg)
    [stored] = await bob.msg.get_msg_list("alice", ConvType.C2C, GetMsgListParam(count=5))
    assert [e.content for e in stored.elem_array] == ["hello"]  # type: ignore[attr-defined]
    assert (stored.cloud_custom_str, stored.seq, stored.msg_id) == ("c1", sent.seq, sent.msg_id)


async def test_a_read_receipt_marks_the_senders_copy(
    alice: Client,  # noqa: F811
    bob: Client,  # noqa: F811
    server: DevServer,  # noqa: F811
) -> None:
    """bob listens and sends; alice acknowledges: bob's stored copy says the peer read it."""
    events = bob.events()
    mine = await bob.msg.send_new_msg("alice", ConvType.C2C, text("read me", need_read_receipt=True))
    [theirs] = [m async for m in alice.msg.iter_msg_list("bob", ConvType.C2C, remble=True)]
    await alice.msg.send_message_read_receipts([theirs])
    receipt = await next_event(events, cb.C2C_AFTER_MSG_READ_RECEIPT)
    assert isinstance(receipt.body, cb.C2CAfterMsgReadReceipt)
    [stored] = await bob.msg.get_msg_list("alice", ConvType.C2C, GetMsgListParam(count=5))
    assert (stored.msg_id, stored.receipt_peer_read) == (mine.msg_id, True)
