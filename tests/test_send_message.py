"""send_message (TIMMsgSendMessage) and cancel_send (TIMMsgCancelSend) over loopback HTTP: the id
is known before anything goes out, a cancelled message never reaches the dev server, and a
message already on the wire (or unknown) cannot be cancelled."""

from __future__ import annotations

import asyncio

import pytest
from scenario import GROUP, T0, text

from aio_tim import ConvType, MsgStatus, UsageError
from aio_tim.errors import TIMError
from aio_tim.testing import FaultPlan, FaultProxy, client_for


async def roaming_texts(server, user: str, conv: tuple[str, ConvType]) -> list[str]:
    async with client_for(server, user, clock=lambda: T0) as device:
        msgs = [m async for m in device.msg.iter_msg_list(*conv, forward=True, remble=True)]
    return [e.content for m in msgs for e in m.elem_array]  # type: ignore[attr-defined]


@pytest.mark.parametrize("conv", [("bob", ConvType.C2C), (GROUP, ConvType.GROUP)])
async def test_the_id_is_known_at_once_and_the_handle_gives_the_sent_message(server, alice, conv):
    handle = await alice.msg.send_message(*conv, text("hi"))
    assert isinstance(handle.msg_id, str) and handle.msg_id.count("_") == 2
    sent = await handle
    assert (sent.status, sent.conv_id) == (MsgStatus.SEND_SUCC, conv[0])
    if conv[1] == ConvType.C2C:  # same clock: the pending id is the server's MsgKey
        assert sent.msg_id == handle.msg_id
    assert await handle == sent  # awaiting again gives the same message
    assert await roaming_texts(server, "alice", conv) == ["hi"]


async def test_a_cancelled_message_never_reaches_the_dev_server(server):
    """The first send is held on the wire by a slow proxy; the second waits behind it in its
    conversation's lane and is withdrawn there: the server only ever sees the first."""
    plan = FaultPlan(delay=1.0, delay_seconds=0.5)
    async with FaultProxy("127.0.0.1", server.port, plan=plan) as proxy:
        async with client_for(server, "alice", base_url=proxy.url, clock=lambda: T0) as alice:
            first = await alice.msg.send_message("bob", ConvType.C2C, text("first"))
            second = await alice.msg.send_message("bob", ConvType.C2C, text("second"))
            for _ in range(5):  # let both reach the pipeline: the first goes out, the second waits
                await asyncio.sleep(0)
            assert first.on_the_wire and not second.on_the_wire
            await alice.msg.cancel_send("bob", ConvType.C2C, second.msg_id)
            with pytest.raises(TIMError) as caught:
                await second
            assert caught.value.code == 8021
            with pytest.raises(TIMError) as on_the_wire:
                await alice.msg.cancel_send("bob", ConvType.C2C, first.msg_id)
            assert on_the_wire.value.code == 8020
            assert (await first).msg_id == first.msg_id
            page = await alice.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 10})
            assert [m.elem_array[0].content for m in page] == ["first"]  # type: ignore[attr-defined]
        assert proxy.counters.requests == 1
    assert await roaming_texts(server, "bob", ("alice", ConvType.C2C)) == ["first"]


async def test_a_message_cancelled_before_it_starts_sends_nothing(server, alice):
    calls = alice._connection.calls
    handle = await alice.msg.send_message(GROUP, ConvType.GROUP, text("never"))
    await alice.msg.cancel_send(GROUP, ConvType.GROUP, handle.msg_id)
    with pytest.raises(TIMError) as caught:
        await handle
    assert caught.value.code == 8021
    assert alice._connection.calls == calls
    assert await roaming_texts(server, "alice", (GROUP, ConvType.GROUP)) == []


async def test_cancelling_a_sent_or_unknown_message_answers_8020(server, alice):
    sent = await alice.msg.send_message("bob", ConvType.C2C, text("done"))
    await sent
    for msg_id in (sent.msg_id, "1_2_3"):
        with pytest.raises(TIMError) as caught:
            await alice.msg.cancel_send("bob", ConvType.C2C, msg_id)
        assert caught.value.code == 8020
    with pytest.raises(TIMError):  # the right id in another conversation is another message
        await alice.msg.cancel_send(GROUP, ConvType.GROUP, sent.msg_id)


@pytest.mark.parametrize(
    ("conv", "msg"),
    [(("bob", 7), text("x")), (("", 1), text("x")), (("bob", 1), "{"), (("bob", 1), text(""))],
)
async def test_send_message_bad_input_is_refused_before_any_io(server, alice, conv, msg):
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        await alice.msg.send_message(*conv, msg)
    assert alice._connection.calls == calls
    assert await roaming_texts(server, "alice", ("bob", ConvType.C2C)) == []


@pytest.mark.parametrize("args", [("bob", 7, "1_2_3"), ("bob", 1, ""), ("bob", 1, 5)])
async def test_cancel_send_bad_input_is_a_usage_error(alice, args):
    with pytest.raises(UsageError):
        await alice.msg.cancel_send(*args)


async def test_a_failed_send_message_raises_from_the_handle(server, alice):
    handle = await alice.msg.send_message("no-such-group", ConvType.GROUP, text("x"))
    with pytest.raises(TIMError) as caught:
        await handle
    assert caught.value.code == 10010
    with pytest.raises(TIMError):
        await alice.msg.cancel_send("no-such-group", ConvType.GROUP, handle.msg_id)


async def test_a_queued_outbox_message_can_be_cancelled_until_a_drainer_claims_it(server, tmp_path):
    """enqueue_new_msg's row is withdrawn while the drainer is busy with an earlier one: it fails
    with 8021 and the dev server never sees it; the claimed row cannot be cancelled (8020)."""
    plan = FaultPlan(delay=1.0, delay_seconds=0.5)
    async with FaultProxy("127.0.0.1", server.port, plan=plan) as proxy:
        options = {
            "base_url": proxy.url,
            "clock": lambda: T0,
            "outbox": True,
            "store_path": tmp_path / "a.db",
        }
        async with client_for(server, "alice", **options) as alice:
            first = await alice.msg.enqueue_new_msg("bob", ConvType.C2C, text("first"))
            for _ in range(100):  # until the drainer has claimed it (it is then held on the wire)
                if (await alice.outbox_statistics())["inflight"]:
                    break
                await asyncio.sleep(0.01)
            second = await alice.msg.enqueue_new_msg("bob", ConvType.C2C, text("second"))
            await alice.msg.cancel_send("bob", ConvType.C2C, pending_id(second))
            with pytest.raises(TIMError) as claimed:
                await alice.msg.cancel_send("bob", ConvType.C2C, pending_id(first))
            assert claimed.value.code == 8020
            with pytest.raises(TIMError) as cancelled:
                await alice.outbox_result(second, timeout=5)
            assert cancelled.value.code == 8021
            await alice.outbox_result(first, timeout=5)
        assert proxy.counters.requests == 1
    assert await roaming_texts(server, "bob", ("alice", ConvType.C2C)) == ["first"]


def pending_id(queued) -> str:
    return f"{queued.seq}_{queued.rand}_{queued.client_time}"
