"""save_msg, import_msg_list, delete and find_by_msg_locator_list, local and roaming, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import msgspec
import pytest
import pytest_asyncio
from scenario import GROUP, T0, Clock, text

from aio_tim import (
    Client,
    ConvType,
    Message,
    MsgDeleteParam,
    MsgLocator,
    MsgStatus,
    NotFoundError,
    TextElem,
    UsageError,
)
from aio_tim.devserver import DevServer
from aio_tim.store import locator_key
from aio_tim.testing import client_for

C2C = ("bob", ConvType.C2C)
GRP = (GROUP, ConvType.GROUP)


def texts(msgs: list[Message]) -> list[str | None]:
    return [m.elem_array[0].content if m.elem_array else None for m in msgs]  # type: ignore[union-attr]


def locator(msg: Message) -> MsgLocator:
    return MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand, is_self=bool(msg.is_from_self))


def history(i: int, *, sender: str = "alice", seq: int | None = None) -> Message:
    """An old message with its full locator, as an export from another system carries it."""
    return text(
        f"old{i}",
        sender=sender,
        server_time=T0 - 1000 + i,
        seq=seq if seq is not None else 500 + i,
        rand=7000 + i,
    )


@pytest_asyncio.fixture
async def alice2(server: DevServer, clock: Clock) -> AsyncIterator[Client]:
    """Alice on a second device: same user, empty store."""
    async with client_for(server, "alice", clock=clock) as client:
        yield client


async def roaming(client: Client, conv_id: str, conv_type: int) -> list[str | None]:
    """The conversation as the server keeps it for `client`'s user, oldest first."""
    return texts([m async for m in client.msg.iter_msg_list(conv_id, conv_type, forward=True, remble=True)])


async def local(client: Client, conv_id: str, conv_type: int) -> list[str | None]:
    return texts([m async for m in client.msg.iter_msg_list(conv_id, conv_type, forward=True)])


# --- save_msg -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_save_msg_stores_locally_without_a_request(alice, conv):
    """save_msg stores the message as LocalImported with its conversation filled in, and sends nothing."""
    calls = alice._connection.calls
    saved = await alice.msg.save_msg(
        *conv, {"message_elem_array": [{"elem_type": 0, "text_elem_content": "note"}]}
    )
    assert alice._connection.calls == calls
    assert (saved.conv_id, saved.conv_type, saved.status) == (conv[0], conv[1], MsgStatus.LOCAL_IMPORTED)
    assert saved.sender == "alice" and saved.is_from_self and saved.server_time == T0
    assert await alice.msg.find_by_msg_locator_list(*conv, [locator(saved)]) == [saved]
    assert alice._connection.calls == calls


async def test_save_msg_keeps_a_given_status_and_replaces_the_same_locator(alice):
    """Saving twice under one locator keeps one message, the last saved, with the status it carries."""
    first = await alice.msg.save_msg(*C2C, history(1))
    again = await alice.msg.save_msg(
        *C2C, msgspec.structs.replace(history(1), elem_array=[TextElem("edited")], status=2)
    )
    assert locator_key(first) == locator_key(again)
    assert await local(alice, *C2C) == ["edited"]
    assert again.status == MsgStatus.SEND_SUCC


@pytest.mark.parametrize(
    ("msg", "code"),
    [
        ("{", -3),
        ({"message_elem_array": []}, -4),
        (
            {
                "message_status": 99,
                **json.loads('{"message_elem_array":[{"elem_type":0,"text_elem_content":"x"}]}'),
            },
            -4,
        ),
    ],
    ids=["malformed", "no-elements", "bad-status"],
)
async def test_save_msg_bad_input(alice, msg, code):
    """save_msg refuses malformed JSON (-3), a message without elements or a bad status (-4)."""
    with pytest.raises(UsageError) as caught:
        await alice.msg.save_msg(*C2C, msg)
    assert caught.value.code == code


# --- import_msg_list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_local_import_is_idempotent_and_sends_nothing(alice, conv):
    """Importing the same history twice stores each message once, as LocalImported, in time order."""
    calls = alice._connection.calls
    batch = [history(2), history(0, sender="bob"), history(1)]
    await alice.msg.import_msg_list(*conv, batch)
    await alice.msg.import_msg_list(*conv, json.dumps([json.loads(msgspec.json.encode(m)) for m in batch]))
    page = [m async for m in alice.msg.iter_msg_list(*conv, forward=True)]
    assert texts(page) == ["old0", "old1", "old2"]
    assert {m.status for m in page} == {MsgStatus.LOCAL_IMPORTED}
    assert [m.is_from_self for m in page] == [False, True, True]
    assert alice._connection.calls == calls


async def test_c2c_cloud_import_is_idempotent_on_both_sides(alice, bob):
    """A cloud import twice leaves each message once locally and once in both parties' roaming."""
    batch = [history(i, sender="bob" if i % 2 else "alice") for i in range(4)]
    await alice.msg.import_msg_list(*C2C, batch, cloud=True)
    await alice.msg.import_msg_list(*C2C, batch, cloud=True)
    expected = ["old0", "old1", "old2", "old3"]
    assert await local(alice, *C2C) == expected
    assert await roaming(bob, "alice", ConvType.C2C) == expected
    found = await bob.msg.find_by_msg_locator_list("alice", ConvType.C2C, [locator(batch[1])])
    assert [(m.sender, m.is_from_self) for m in found] == [("bob", True)]


async def test_group_cloud_import_is_idempotent_and_takes_the_servers_seq(alice, bob):
    """A group cloud import twice stores each message once, under the seq the group gave it."""
    batch = [history(i, seq=0) for i in range(9)]  # more than one import_group_msg call (7 max)
    await alice.msg.import_msg_list(*GRP, batch, cloud=True)
    await alice.msg.import_msg_list(*GRP, batch, cloud=True)
    page = [m async for m in alice.msg.iter_msg_list(*GRP, forward=True)]
    assert texts(page) == [f"old{i}" for i in range(9)]
    assert [m.seq for m in page] == list(range(1, 10))
    assert await roaming(bob, *GRP) == [f"old{i}" for i in range(9)]


@pytest.mark.parametrize(
    ("conv", "msgs", "code"),
    [
        (C2C, "[{", -3),
        (C2C, {"message_elem_array": []}, -3),
        (C2C, [{"message_elem_array": []}], -4),
        (("bob", 5), [], -5),
    ],
    ids=["malformed", "not-an-array", "no-elements", "bad-conv"],
)
async def test_import_bad_input(alice, conv, msgs, code):
    """import_msg_list refuses malformed input with the C SDK's codes and stores nothing."""
    with pytest.raises(UsageError) as caught:
        await alice.msg.import_msg_list(*conv, msgs)
    assert caught.value.code == code
    assert await local(alice, *C2C) == []


# --- delete ----------------------------------------------------------------------------------------------


async def send_texts(client: Client, conv: tuple[str, ConvType], clock: Clock, n: int) -> list[Message]:
    sent = []
    for i in range(n):
        clock.now += i % 2  # two to a second: ties in time
        sent.append(await client.msg.send_new_msg(*conv, text(str(i))))
    return sent


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_local_delete_hides_the_message_here_only(alice, alice2, clock, conv):
    """A local delete removes the message from this store, for good, but not from roaming."""
    sent = await send_texts(alice, conv, clock, 4)
    await alice.msg.delete(*conv, MsgDeleteParam(msg=sent[1]))
    assert await local(alice, *conv) == ["0", "2", "3"]
    assert await alice.msg.find_by_msg_locator_list(*conv, [locator(sent[1])]) == []
    assert await roaming(alice, *conv) == ["0", "2", "3"]  # roaming does not bring it back here
    assert await roaming(alice2, *conv) == ["0", "1", "2", "3"]


async def test_roaming_delete_removes_it_from_this_users_roaming_only(alice, alice2, bob, clock):
    """A C2C roaming delete removes the message from the user's roaming; the peer keeps it."""
    sent = await send_texts(alice, C2C, clock, 4)
    await alice.msg.delete(
        *C2C,
        {
            "msg_delete_param_msg": json.loads(msgspec.json.encode(sent[2])),
            "msg_delete_param_is_ramble": True,
        },
    )
    assert await local(alice, *C2C) == ["0", "1", "3"]
    assert await roaming(alice2, *C2C) == ["0", "1", "3"]
    assert await roaming(bob, "alice", ConvType.C2C) == ["0", "1", "2", "3"]


async def test_roaming_delete_of_a_message_this_store_never_had(server, alice, alice2, clock):
    """A roaming delete works from another device, with the message found there by locator."""
    sent = await send_texts(alice, C2C, clock, 3)
    [found] = await alice2.msg.find_by_msg_locator_list(*C2C, [locator(sent[0])])
    await alice2.msg.delete(*C2C, MsgDeleteParam(msg=found, is_remble=True))
    async with client_for(server, "alice", clock=clock) as third:
        assert await roaming(third, *C2C) == ["1", "2"]


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_local_delete_of_the_whole_conversation(alice, clock, conv):
    """Deleting a conversation locally empties the store; roaming still has every message."""
    await send_texts(alice, conv, clock, 5)
    await alice.msg.delete(
        *conv, {"msg_delete_param_is_remble": False, "msg_delete_param_msg": {}}
    )  # the seed's
    assert await local(alice, *conv) == []
    assert await roaming(alice, *conv) == ["0", "1", "2", "3", "4"]


async def test_roaming_delete_of_the_whole_conversation(alice, alice2, bob, clock):
    """A whole-conversation roaming delete also reaches messages deleted or never seen locally."""
    sent = await send_texts(alice, C2C, clock, 5)
    await alice.msg.delete(*C2C, MsgDeleteParam(msg=sent[3]))  # a local tombstone
    clock.now += 1  # in a second of its own: within one, two senders' messages order by their seqs
    await bob.msg.send_new_msg("alice", ConvType.C2C, text("from bob"))  # not in alice's store
    await alice.msg.delete(*C2C, MsgDeleteParam(is_remble=True))
    assert await local(alice, *C2C) == []
    assert await roaming(alice2, *C2C) == []
    assert await roaming(bob, "alice", ConvType.C2C) == ["0", "1", "2", "3", "4", "from bob"]


async def test_roaming_delete_of_more_than_one_call_of_keys(alice, alice2, clock):
    """Deleting a long conversation from roaming takes several calls and leaves nothing."""
    await send_texts(alice, C2C, clock, 130)
    await alice.msg.delete(*C2C, MsgDeleteParam(is_remble=True))
    assert await roaming(alice2, *C2C) == []


@pytest.mark.parametrize(
    ("conv", "param", "error", "code"),
    [
        (
            C2C,
            {"msg_delete_param_msg": {"message_server_time": 5, "message_seq": 1, "message_rand": 2}},
            NotFoundError,
            20022,
        ),
        (
            C2C,
            MsgDeleteParam(msg=text("x", server_time=5, seq=1, rand=2), is_remble=True),
            NotFoundError,
            20022,
        ),
        (GRP, MsgDeleteParam(is_remble=True), UsageError, -4),
        (C2C, "{oops", UsageError, -3),
        (C2C, {"msg_delete_param_is_remble": "yes"}, UsageError, -3),
        (("bob", 9), {}, UsageError, -5),
    ],
    ids=[
        "unknown-local",
        "unknown-roaming",
        "group-roaming",
        "malformed",
        "flag-type",
        "bad-conv",
    ],
)
async def test_delete_bad_input(alice, clock, conv, param, error, code):
    """Deleting an unknown message or with bad parameters raises, and deletes nothing."""
    await send_texts(alice, C2C, clock, 2)
    with pytest.raises(error) as caught:
        await alice.msg.delete(*conv, param)
    assert caught.value.code == code
    assert await local(alice, *C2C) == ["0", "1"]


async def test_deleting_an_unknown_locator_names_it(alice):
    """The error for a message nobody has names its locator and conversation."""
    with pytest.raises(NotFoundError) as caught:
        await alice.msg.delete(*C2C, MsgDeleteParam(msg=text("x", server_time=T0, seq=11, rand=12)))
    assert f"({T0}, 11, 12)" in caught.value.desc and "'bob'" in caught.value.desc


# --- find_by_msg_locator_list -------------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_find_returns_one_message_per_locator_in_locator_order(alice, clock, conv):
    """Found messages come back in the order of the locators; unknown locators are left out."""
    sent = await send_texts(alice, conv, clock, 4)
    unknown = MsgLocator(time=T0 + 50, seq=77, rand=78)
    wanted = [locator(sent[3]), unknown, locator(sent[0])]
    assert texts(await alice.msg.find_by_msg_locator_list(*conv, wanted)) == ["3", "0"]


@pytest.mark.parametrize("conv", [("alice", ConvType.C2C), GRP], ids=["c2c", "group"])
async def test_find_falls_back_to_roaming_for_an_empty_store(alice, bob, clock, conv):
    """A reader with an empty store finds messages by locator in roaming, as the sender stored them."""
    sent = await send_texts(alice, (conv[0] if conv[1] == ConvType.GROUP else "bob", conv[1]), clock, 3)
    found = await bob.msg.find_by_msg_locator_list(*conv, [locator(sent[2]), locator(sent[1])])
    assert texts(found) == ["2", "1"]
    assert [locator_key(m) for m in found] == [locator_key(sent[2]), locator_key(sent[1])]
    assert [m.msg_id for m in found] == [sent[2].msg_id, sent[1].msg_id]
    assert all(not m.is_from_self and m.sender == "alice" for m in found)


@pytest.mark.parametrize(
    ("locators", "code"),
    [
        ("[{", -3),
        ([{"message_locator_time": -1, "message_locator_seq": 1, "message_locator_rand": 1}], -3),
        ({"message_locator_time": 1}, -3),
        ([{"message_locator_seq": 1, "message_locator_rand": 1}], -4),
        ([{"message_locator_time": 1, "message_locator_seq": 1}], -4),
    ],
    ids=["malformed", "negative-time", "not-an-array", "no-time", "no-rand"],
)
async def test_find_bad_input(alice, locators, code):
    """Malformed locators raise -3, locators missing time, seq or rand raise -4, before any request."""
    calls = alice._connection.calls
    with pytest.raises(UsageError) as caught:
        await alice.msg.find_by_msg_locator_list(*C2C, locators)
    assert caught.value.code == code
    assert alice._connection.calls == calls


# --- the sent message's locator ---------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [C2C, GRP], ids=["c2c", "group"])
async def test_sent_message_locator_matches_store_and_server(alice, bob, clock, conv):
    """The message send returns is the stored one, and the server holds it under the same locator."""
    sent = await alice.msg.send_new_msg(*conv, text("hi"))
    stored = await alice.store.get((int(conv[1]), conv[0]), locator_key(sent))
    assert stored == sent
    peer_conv = ("alice", ConvType.C2C) if conv == C2C else GRP
    [roamed] = await bob.msg.find_by_msg_locator_list(*peer_conv, [locator(sent)])
    assert (roamed.server_time, roamed.seq, roamed.rand, roamed.msg_id) == (
        sent.server_time,
        sent.seq,
        sent.rand,
        sent.msg_id,
    )


@pytest.mark.parametrize(
    "operation",
    [
        "save_msg",
        "import_msg_list",
        "get_msg_list",
        "find_by_msg_locator_list",
        "delete",
        "report_readed",
        "revoke",
    ],
)
@pytest.mark.parametrize(("conv_id", "conv_type"), [("bob", 0), ("bob", 3), ("bob", 7), ("", 1), (None, 1)])
async def test_every_operation_refuses_a_bad_conversation(alice, operation, conv_id, conv_type):
    """Every operation raises TIM_ERR_CONV (-5) for a bad conversation, before any request."""
    calls = alice._connection.calls
    with pytest.raises(UsageError) as caught:
        await getattr(alice.msg, operation)(conv_id, conv_type, [] if operation.endswith("list") else {})
    assert caught.value.code == -5
    assert alice._connection.calls == calls
