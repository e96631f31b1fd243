"""list_delete (TIMMsgListDelete) over loopback HTTP: what the store, this user's roaming and the
peer's roaming hold afterwards, and the input it refuses before any I/O."""

from __future__ import annotations

import msgspec
import pytest
from scenario import GROUP, Clock, text

from aio_tim import Client, ConvType, Message, UsageError
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

C2C = ("bob", ConvType.C2C)
CONVS = {
    "c2c": (C2C, ("alice", ConvType.C2C)),
    "group": ((GROUP, ConvType.GROUP), (GROUP, ConvType.GROUP)),
}


async def send(client: Client, conv: tuple[str, ConvType], clock: Clock, n: int) -> list[Message]:
    sent = []
    for i in range(n):
        sent.append(await client.msg.send_new_msg(*conv, text(f"#{i}")))
        clock.now += 1
    return sent


def contents(msgs: list[Message]) -> list[str]:
    return [getattr(m.elem_array[0], "content", "") for m in msgs]


async def local(client: Client, conv: tuple[str, ConvType], *, remble: bool = False) -> list[str]:
    return contents([m async for m in client.msg.iter_msg_list(*conv, forward=True, remble=remble)])


async def roaming(server: DevServer, user: str, conv: tuple[str, ConvType], clock: Clock) -> list[str]:
    async with client_for(server, user, clock=clock) as device:
        return await local(device, conv, remble=True)


@pytest.mark.parametrize("kind", CONVS)
async def test_list_delete_removes_the_messages_here_and_from_c2c_roaming(server, alice, clock, kind):
    """The store loses them and roaming does not bring them back; C2C roaming loses them for this
    user only (the peer keeps theirs); a group's server history keeps them."""
    mine, theirs = CONVS[kind]
    sent = await send(alice, mine, clock, 5)
    await alice.msg.list_delete(*mine, [sent[0], sent[2], sent[4]])
    assert await local(alice, mine) == ["#1", "#3"]
    assert await local(alice, mine, remble=True) == ["#1", "#3"]
    own_roaming = ["#1", "#3"] if kind == "c2c" else ["#0", "#1", "#2", "#3", "#4"]
    assert await roaming(server, "alice", mine, clock) == own_roaming
    assert await roaming(server, "bob", theirs, clock) == ["#0", "#1", "#2", "#3", "#4"]


async def test_messages_only_in_roaming_are_deleted_there(server, alice, clock):
    """Messages another device sent (not in this store) go from roaming, by their MsgKey."""
    async with client_for(server, "alice", clock=clock) as other:
        sent = await send(other, C2C, clock, 3)
    await alice.msg.list_delete(*C2C, msgspec.json.encode(sent[:2]))  # the C SDK hands JSON text
    assert await roaming(server, "alice", C2C, clock) == ["#2"]


async def test_fifty_messages_take_one_roaming_call(alice, clock):
    """The cap, 50, fits in one openim/delete_c2c_msg_ramble call (its own cap is 100)."""
    sent = await send(alice, C2C, clock, 50)
    calls = alice._connection.calls
    await alice.msg.list_delete(*C2C, sent)
    assert alice._connection.calls == calls + 1
    assert await local(alice, C2C, remble=True) == []


async def test_messages_the_server_no_longer_has_are_no_error(server, alice, clock):
    """Deleting twice: the second call finds nothing in roaming (InvalidMsgKeyList) and succeeds."""
    sent = await send(alice, C2C, clock, 2)
    await alice.msg.list_delete(*C2C, sent[:1])
    await alice.msg.list_delete(*C2C, sent[:1])
    assert await roaming(server, "alice", C2C, clock) == ["#1"]


def _bad_inputs(sent: list[Message]) -> dict[str, tuple[tuple[str, int], object]]:
    nameless = msgspec.structs.replace(sent[0], seq=None, rand=None, server_time=None, client_time=None)
    return {
        "malformed": (C2C, "["),
        "empty": (C2C, []),
        "fifty-one": (C2C, sent * 51),
        "no-locator": (C2C, [sent[1], nameless]),
        "other-conversation": (("carol", ConvType.C2C), [sent[0]]),
        "other-conv-type": ((GROUP, ConvType.GROUP), [msgspec.structs.replace(sent[0], conv_id=GROUP)]),
        "bad-conv": (("bob", 3), [sent[0]]),
    }


@pytest.mark.parametrize("case", list(_bad_inputs([text("x")] * 2)))
async def test_list_delete_bad_input_is_refused_offline(alice, clock, case):
    """UsageError before any I/O, and nothing deleted."""
    sent = await send(alice, C2C, clock, 2)
    conv, msgs = _bad_inputs(sent)[case]
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        await alice.msg.list_delete(*conv, msgs)
    assert alice._connection.calls == calls
    assert await local(alice, C2C) == ["#0", "#1"]
