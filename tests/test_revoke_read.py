"""revoke and report_readed over loopback HTTP: what the sender, the peer and the server see."""

from __future__ import annotations

import msgspec
import pytest
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
from aio_tim.protocol.openim import GetC2CUnreadMsgNum, GetC2CUnreadMsgNumResponse
from aio_tim.testing import client_for

REVOKED = MsgStatus.REVOKED


def locator(msg: Message, *, revoked: bool = False) -> MsgLocator:
    return MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand, is_revoked=revoked)


# (conversation as alice sees it, as bob sees it)
CONVS = {
    "c2c": (("bob", ConvType.C2C), ("alice", ConvType.C2C)),
    "group": ((GROUP, ConvType.GROUP), (GROUP, ConvType.GROUP)),
}


async def send_three(alice: Client, conv: tuple[str, ConvType], clock: Clock) -> list[Message]:
    sent = []
    for i in range(3):
        sent.append(await alice.msg.send_new_msg(*conv, text(str(i))))
        clock.now += 1
    return sent


async def statuses(client: Client, conv: tuple[str, ConvType], *, remble: bool) -> list[int | None]:
    return [m.status async for m in client.msg.iter_msg_list(*conv, forward=True, remble=remble)]


# --- revoke ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CONVS)
async def test_revoke_is_seen_by_the_sender_and_the_peer(alice, bob, clock, kind):
    """After revoke the message is Revoked in the sender's store and recalled in the peer's roaming."""
    mine, theirs = CONVS[kind]
    sent = await send_three(alice, mine, clock)
    await alice.msg.revoke(*mine, sent[1])
    assert await statuses(alice, mine, remble=False) == [2, REVOKED, 2]
    [found] = await bob.msg.find_by_msg_locator_list(*theirs, [locator(sent[1], revoked=True)])
    assert found.status == REVOKED and found.seq == sent[1].seq
    assert await statuses(bob, theirs, remble=True) == [2, REVOKED, 2]


@pytest.mark.parametrize("kind", CONVS)
async def test_revoked_message_is_found_by_a_revoked_locator(alice, clock, kind):
    """find_by_msg_locator_list with message_locator_is_revoked finds the revoked message."""
    mine, _ = CONVS[kind]
    sent = await send_three(alice, mine, clock)
    await alice.msg.revoke(*mine, sent[0])
    found = await alice.msg.find_by_msg_locator_list(*mine, [locator(sent[0], revoked=True)])
    assert [(m.status, m.msg_id) for m in found] == [(REVOKED, sent[0].msg_id)]


async def test_revoke_from_another_device_with_a_message_found_by_locator(server, alice, clock):
    """A C2C message found by locator on a device with an empty store can be revoked there."""
    sent = await send_three(alice, ("bob", ConvType.C2C), clock)
    async with client_for(server, "alice", clock=clock) as other:
        [found] = await other.msg.find_by_msg_locator_list("bob", ConvType.C2C, [locator(sent[2])])
        await other.msg.revoke("bob", ConvType.C2C, msgspec.json.encode(found))
    async with client_for(server, "bob", clock=clock) as reader:
        assert await statuses(reader, ("alice", ConvType.C2C), remble=True) == [2, 2, REVOKED]


@pytest.mark.parametrize("kind", CONVS)
async def test_a_message_deleted_here_stays_deleted_when_revoked(alice, clock, kind):
    """Revoking a locally deleted message recalls it on the server without bringing it back here."""
    mine, _ = CONVS[kind]
    sent = await send_three(alice, mine, clock)
    await alice.msg.delete(*mine, MsgDeleteParam(msg=sent[2]))
    await alice.msg.revoke(*mine, sent[2])
    assert await alice.msg.find_by_msg_locator_list(*mine, [locator(sent[2], revoked=True)]) == []
    assert await statuses(alice, mine, remble=True) == [2, 2]


def unknown() -> Message:
    return Message(
        elem_array=[TextElem(content="x")], server_time=T0, seq=99, rand=4242, msg_id="99_4242_1700000000"
    )


@pytest.mark.parametrize(
    ("kind", "twice", "error", "code"),
    [
        ("c2c", False, NotFoundError, 20022),
        ("c2c", True, UsageError, 20023),
        ("group", False, NotFoundError, 10030),
        ("group", True, UsageError, 10032),
    ],
    ids=["c2c-unknown", "c2c-already", "group-unknown", "group-already"],
)
async def test_revoking_an_unknown_or_recalled_message_raises_tims_code(
    alice, clock, kind, twice, error, code
):
    """Revoking a message the server does not have, or has recalled already, raises TIM's code."""
    mine, _ = CONVS[kind]
    sent = await send_three(alice, mine, clock)
    target = sent[0] if twice else unknown()
    if twice:
        await alice.msg.revoke(*mine, target)
    with pytest.raises(error) as caught:
        await alice.msg.revoke(*mine, target)
    assert caught.value.code == code
    assert await statuses(alice, mine, remble=False) == ([REVOKED, 2, 2] if twice else [2, 2, 2])


@pytest.mark.parametrize(
    ("conv", "msg", "code"),
    [
        (("bob", ConvType.C2C), "{", -3),
        (("bob", ConvType.C2C), {"message_elem_array": [{"elem_type": 0, "text_elem_content": "x"}]}, -4),
        ((GROUP, ConvType.GROUP), {"message_server_time": T0, "message_rand": 5}, -4),
        (("bob", 3), {"message_server_time": T0, "message_seq": 1, "message_rand": 5}, -5),
    ],
    ids=["malformed", "no-locator", "group-without-seq", "bad-conv"],
)
async def test_revoke_bad_input(alice, conv, msg, code):
    """Revoke refuses malformed JSON, a message without its locator and a bad conversation, offline."""
    calls = alice._connection.calls
    with pytest.raises(UsageError) as caught:
        await alice.msg.revoke(*conv, msg)
    assert caught.value.code == code
    assert alice._connection.calls == calls


# --- report_readed ----------------------------------------------------------------------------------------


async def server_unread(client: Client, reader: str, peer: str) -> int:
    """The unread count the server keeps, asked through a raw REST call."""
    reply = await client._connection.call(GetC2CUnreadMsgNum(To_Account=reader, Peer_Account=[peer]))
    assert isinstance(reply, GetC2CUnreadMsgNumResponse) and reply.C2CUnreadMsgNumList
    [entry] = reply.C2CUnreadMsgNumList
    assert entry.Peer_Account == peer
    return entry.C2CUnreadMsgNum


async def test_unread_counts_before_and_after_report_readed(alice, bob, clock):
    """Reading up to a message leaves the later ones unread; reading without one clears the rest."""
    sent = await send_three(alice, ("bob", ConvType.C2C), clock)
    conv = (int(ConvType.C2C), "alice")
    assert await server_unread(bob, "bob", "alice") == 3
    assert [m.is_read async for m in bob.msg.iter_msg_list("alice", ConvType.C2C, remble=True)] == [False] * 3
    assert await bob.store.unread_count(conv) == 3
    await bob.msg.report_readed("alice", ConvType.C2C, sent[1])
    assert (await server_unread(bob, "bob", "alice"), await bob.store.unread_count(conv)) == (1, 1)
    await bob.msg.report_readed("alice", ConvType.C2C)
    assert (await server_unread(bob, "bob", "alice"), await bob.store.unread_count(conv)) == (0, 0)
    assert await server_unread(alice, "alice", "bob") == 0  # the sender had nothing unread


@pytest.mark.parametrize("nothing", [None, "", b"", {}, "{}"], ids=["none", "str", "bytes", "dict", "json"])
async def test_report_readed_without_a_message_reads_everything_on_the_server(server, alice, clock, nothing):
    """With no message the server's own now is used, so a reader whose clock lags still reads all."""
    await send_three(alice, ("bob", ConvType.C2C), clock)
    lagging = Clock(clock.now - 120)
    async with client_for(server, "bob", clock=lagging) as bob:
        assert await server_unread(bob, "bob", "alice") == 3
        await bob.msg.report_readed("alice", ConvType.C2C, nothing)
        assert await server_unread(bob, "bob", "alice") == 0
        # Fetched afterwards, the messages arrive already read.
        assert [m.is_read async for m in bob.msg.iter_msg_list("alice", ConvType.C2C, remble=True)] == [
            True
        ] * 3
        assert await bob.store.unread_count((int(ConvType.C2C), "alice")) == 0


async def test_sender_sees_the_peers_read_mark_in_roaming(server, alice, bob, clock):
    """After the peer reads, the sender's roaming (on a fresh device) shows its messages as peer-read."""
    sent = await send_three(alice, ("bob", ConvType.C2C), clock)
    await bob.msg.report_readed("alice", ConvType.C2C, sent[0])
    async with client_for(server, "alice", clock=clock) as other:
        page = [m async for m in other.msg.iter_msg_list("bob", ConvType.C2C, forward=True, remble=True)]
    assert [(m.is_peer_read, m.is_read) for m in page] == [(True, True), (False, True), (False, True)]


async def test_group_report_readed_is_local_only(alice, bob, clock):
    """A group read report clears the local unread count and makes no request (TIM has none)."""
    await send_three(alice, (GROUP, ConvType.GROUP), clock)
    assert len([m async for m in bob.msg.iter_msg_list(GROUP, ConvType.GROUP, remble=True)]) == 3
    conv = (int(ConvType.GROUP), GROUP)
    assert await bob.store.unread_count(conv) == 3
    calls = bob._connection.calls
    await bob.msg.report_readed(GROUP, ConvType.GROUP)
    assert await bob.store.unread_count(conv) == 0
    assert bob._connection.calls == calls


@pytest.mark.parametrize(
    ("conv", "msg", "code"),
    [
        (("alice", ConvType.C2C), "{", -3),
        (("alice", ConvType.C2C), {"message_seq": -1}, -3),
        (("alice", 0), None, -5),
    ],
    ids=["malformed", "negative-seq", "bad-conv"],
)
async def test_report_readed_bad_input(bob, conv, msg, code):
    """report_readed refuses malformed JSON (-3) and a bad conversation (-5) before any request."""
    calls = bob._connection.calls
    with pytest.raises(UsageError) as caught:
        await bob.msg.report_readed(*conv, msg)
    assert caught.value.code == code
    assert bob._connection.calls == calls
