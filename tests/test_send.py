"""send_new_msg and batch_send against the dev server over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from aio_tim import (
    AuthError,
    BatchSendParam,
    ConvType,
    CustomElem,
    Message,
    MsgStatus,
    TextElem,
    UsageError,
)
from aio_tim.devserver import DevServer
from aio_tim.msg import MsgManager, SendContext
from aio_tim.pipeline import MessagePipeline
from aio_tim.protocol.openim import BatchSendMsg, BatchSendMsgResponse, RecipientError
from aio_tim.protocol.validate import check_identifier, check_identifiers
from aio_tim.store import LocalStore
from aio_tim.testing import client_for

TEXT = {"message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]}


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(text("hi"), id="struct"),
        pytest.param(TEXT, id="dict"),
        pytest.param(json.dumps(TEXT), id="str"),
        pytest.param(json.dumps(TEXT).encode(), id="bytes"),
    ],
)
async def test_c2c_send_accepts_every_parameter_form(tim, msg):
    """A C2C send takes a Struct, dict, str or bytes and returns the sent message."""
    sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
    assert sent.status == MsgStatus.SEND_SUCC
    assert sent.conv_id == "bob" and sent.conv_type == ConvType.C2C
    assert sent.sender == "alice" and sent.is_from_self
    assert sent.server_time and sent.seq and sent.rand and sent.msg_id
    assert sent.elem_array == [TextElem(content="hi")]


async def test_c2c_sends_get_increasing_seqs(tim):
    """Messages to one conversation get increasing MsgSeqs, so same-second ones keep their order."""
    seqs = [(await tim.msg.send_new_msg("bob", ConvType.C2C, text(str(i)))).seq for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5


async def test_gathered_sends_wait_their_turn_in_order_and_all_arrive(dev_server):
    """300 sends gathered at once, 4 in flight, over 3 peers: each peer's messages go in call order
    with increasing seqs, and all are stored."""
    async with client_for(dev_server, "alice", max_in_flight=4) as alice:
        sent = await asyncio.gather(
            *(alice.msg.send_new_msg(f"peer{n % 3}", ConvType.C2C, text(str(n))) for n in range(300))
        )
        for peer in range(3):
            mine = sent[peer::3]
            assert [m.elem_array[0].content for m in mine] == [str(n) for n in range(peer, 300, 3)]
            assert [m.seq for m in mine] == sorted({m.seq for m in mine})
            assert await alice.store.count((int(ConvType.C2C), f"peer{peer}")) == 100
        assert alice.pipeline.statistics().peak_queued > 200


async def test_group_send_gets_the_groups_seq(dev_server, tim):
    """Group sends return the group's MsgSeq, counting from 1."""
    await dev_server.create_group("g1", owner="alice", members=("bob",))
    first = await tim.msg.send_new_msg("g1", ConvType.GROUP, text("one"))
    second = await tim.msg.send_new_msg("g1", ConvType.GROUP, text("two"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.conv_type == ConvType.GROUP and first.status == MsgStatus.SEND_SUCC


async def test_group_send_to_unknown_group_raises(tim):
    """Sending to a group that does not exist raises TIM's 10010."""
    with pytest.raises(Exception) as caught:
        await tim.msg.send_new_msg("no-such-group", ConvType.GROUP, text("x"))
    assert getattr(caught.value, "code", None) == 10010


BAD_INPUT = [
    ("bob", ConvType.C2C, "{not json", -3),
    ("bob", ConvType.C2C, {"message_elem_array": "x"}, -3),
    ("bob", ConvType.C2C, {"message_elem_array": []}, -4),
    ("bob", ConvType.C2C, {"message_elem_array": [{"elem_type": 5}]}, -4),
    ("bob", ConvType.C2C, {"message_elem_array": [{"elem_type": 8}]}, -4),
    ("bob", 7, TEXT, -5),
    ("bob", 0, TEXT, -5),
    ("", ConvType.C2C, TEXT, -5),
]


@pytest.mark.parametrize(("conv_id", "conv_type", "msg", "code"), BAD_INPUT)
async def test_bad_input_raises_before_any_io(tim, conv_id, conv_type, msg, code):
    """Bad input raises UsageError with the C SDK's result code and makes no request."""
    calls = tim._connection.calls
    with pytest.raises(UsageError) as caught:
        await tim.msg.send_new_msg(conv_id, conv_type, msg)
    assert caught.value.code == code
    assert tim._connection.calls == calls


async def test_two_custom_elements_are_refused(tim):
    """A message may carry only one custom element, as TIM requires."""
    msg = Message(elem_array=[CustomElem(data="a"), CustomElem(data="b")])
    with pytest.raises(UsageError) as caught:
        await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
    assert caught.value.code == -4


async def test_oversized_body_is_refused_before_sending(tim):
    """A body over 12 KB is refused locally with TIM's 80002."""
    with pytest.raises(Exception) as caught:
        await tim.msg.send_new_msg("bob", ConvType.C2C, text("x" * 13000))
    assert getattr(caught.value, "code", None) == 80002


async def test_batch_send_to_1234_with_unknown_accounts():
    """Batch send to 1,234 ids reports a result per id, in order, unknown accounts failed."""
    async with DevServer(auto_accounts=False) as server:
        ids = [f"u{i:04d}" for i in range(1234)]
        unknown = set(ids[::97])
        await server.add_accounts("alice", *(i for i in ids if i not in unknown))
        async with client_for(server, "alice") as tim:
            results = await tim.msg.batch_send(BatchSendParam(identifier_array=ids, msg=text("n")))
    assert [r.identifier for r in results] == ids
    assert {r.identifier for r in results if r.code} == unknown
    assert all(r.code in (70107, 90012) for r in results if r.identifier in unknown)
    delivered = [r for r in results if r.code == 0]
    assert all(r.msg is not None and r.msg.status == MsgStatus.SEND_SUCC for r in delivered)


async def test_batch_send_accepts_json_text(tim):
    """The seed's batch-send JSON text works as written."""
    param = (
        '{"msg_batch_send_param_identifier_array": ["user2", "user3"],'
        '"msg_batch_send_param_msg": {"message_client_time": 1551340614,'
        '"message_elem_array": [{"elem_type": 0, "text_elem_content": "this is batch send msg"}],'
        '"message_sender": "user1", "message_server_time": 1551340614}}'
    )
    results = await tim.msg.batch_send(param)
    assert [(r.identifier, r.code) for r in results] == [("user2", 0), ("user3", 0)]


@pytest.mark.parametrize(
    ("param", "code"),
    [
        ({"msg_batch_send_param_identifier_array": [], "msg_batch_send_param_msg": TEXT}, -4),
        ({"msg_batch_send_param_identifier_array": [""], "msg_batch_send_param_msg": TEXT}, -4),
        ({"msg_batch_send_param_identifier_array": ["a"]}, -3),
        ("[1, 2", -3),
        (
            {
                "msg_batch_send_param_identifier_array": ["a"],
                "msg_batch_send_param_msg": {"message_elem_array": []},
            },
            -4,
        ),
    ],
)
async def test_batch_send_bad_input(tim, param, code):
    """Bad batch-send parameters raise UsageError with the C SDK's code."""
    with pytest.raises(UsageError) as caught:
        await tim.msg.batch_send(param)
    assert caught.value.code == code


async def test_wrong_secret_key_is_an_auth_error(dev_server):
    """A client signing with the wrong key gets an AuthError (70009), not a crash."""
    async with client_for(dev_server, "alice") as good:
        await good.msg.send_new_msg("bob", ConvType.C2C, text("warm-up"))
    from aio_tim import Client

    bad = Client(
        sdk_app_id=dev_server.sdk_app_id,
        user_id="alice",
        secret_key="0" * 64,
        base_url=dev_server.url,
    )
    async with bad:
        with pytest.raises(AuthError) as caught:
            await bad.msg.send_new_msg("bob", ConvType.C2C, text("x"))
    assert caught.value.code == 70009
    assert "0" * 64 not in str(caught.value) + repr(caught.value)


async def test_client_repr_hides_the_secret(dev_server):
    """The client's repr names the app and user but never the key."""
    client = client_for(dev_server, "alice")
    async with client:
        assert dev_server.secret_key not in repr(client)
        assert "alice" in repr(client)


@pytest.mark.parametrize(
    "identifier",
    ["a", "a" * 32, "a" * 33, "", "é" * 16, "é" * 17, "lone\udc80", "nul\x00", 7, None, b"bytes"],
)
def test_a_batchs_identifier_check_agrees_with_the_single_check(identifier: object) -> None:
    """check_identifiers' fast path (ASCII, 1-32 characters) passes exactly what check_identifier
    passes, and anything else gets check_identifier's own error."""
    try:
        check_identifier(identifier, "item")
    except UsageError as single:
        with pytest.raises(UsageError) as batch:
            check_identifiers(["fine", identifier], "item")
        assert (batch.value.code, str(batch.value)) == (single.code, str(single))
    else:
        check_identifiers(["fine", identifier], "item")


async def test_iter_batch_send_yields_every_recipient_once(dev_server):
    """iter_batch_send streams one result per recipient as chunks finish, 1,100 ids in 3 chunks."""
    ids = [f"s{i:04d}" for i in range(1100)]
    async with client_for(dev_server, "alice") as tim:
        param = BatchSendParam(identifier_array=ids, msg=text("stream"))
        seen = [result async for result in tim.msg.iter_batch_send(param)]
    assert sorted(r.identifier for r in seen) == ids
    assert all(r.code == 0 and r.msg is not None for r in seen)


async def test_batch_send_resends_only_transiently_failed_recipients():
    """Recipients the server reports with a transient code are sent again with the same random;
    permanent codes are reported without a retry."""
    requests: list[BatchSendMsg] = []

    async def flaky_server(request):  # a server whose internal errors hit "t1" once, "gone" always
        requests.append(request)
        codes = {"gone": 70107} | ({"t1": 20005} if len(requests) == 1 else {})
        errors = [RecipientError(to, code) for to, code in codes.items() if to in request.To_Account]
        return BatchSendMsgResponse(MsgKey=f"1_{request.MsgRandom}_1700000000", ErrorList=errors)

    async with LocalStore() as store, MessagePipeline(flaky_server, limits=None) as pipeline:
        msg = MsgManager(SendContext("alice", pipeline, store, lambda: 1_700_000_000, random.Random(1)))
        results = await msg.batch_send(BatchSendParam(identifier_array=["ok", "t1", "gone"], msg=text("x")))
    assert [(r.identifier, r.code) for r in results] == [("ok", 0), ("t1", 0), ("gone", 70107)]
    assert [r.To_Account for r in requests] == [["ok", "t1", "gone"], ["t1"]]
    assert len({r.MsgRandom for r in requests}) == 1
