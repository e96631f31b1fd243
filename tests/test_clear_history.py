"""clear_history_message (TIMMsgClearHistoryMessage) over loopback HTTP, and the dev server's
group_open_http_svc/clear_group_msg."""

from __future__ import annotations

import pytest
from scenario import GROUP, Clock, text

from aio_tim import AuthError, Client, ConvType, Message, NotFoundError, UsageError
from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError
from aio_tim.protocol.edits import ClearGroupMsg
from aio_tim.testing import client_for

C2C = ("bob", ConvType.C2C)
GROUP_CONV = (GROUP, ConvType.GROUP)


async def send(client: Client, conv: tuple[str, ConvType], clock: Clock, *contents: str) -> list[Message]:
    sent = []
    for content in contents:
        sent.append(await client.msg.send_new_msg(*conv, text(content)))
        clock.now += 1
    return sent


async def history(client: Client, conv: tuple[str, ConvType], *, remble: bool = False) -> list[str]:
    msgs = [m async for m in client.msg.iter_msg_list(*conv, forward=True, remble=remble)]
    return [getattr(m.elem_array[0], "content", "") for m in msgs]


async def roaming(server: DevServer, user: str, conv: tuple[str, ConvType], clock: Clock) -> list[str]:
    async with client_for(server, user, clock=clock) as device:
        return await history(device, conv, remble=True)


async def test_clearing_a_c2c_conversation_empties_it_here_and_in_own_roaming(server, alice, bob, clock):
    """Both directions go; the peer keeps theirs; the conversation takes new messages afterwards."""
    await send(alice, C2C, clock, "a1", "a2")
    await send(bob, ("alice", ConvType.C2C), clock, "b1")
    await alice.msg.get_msg_list(*C2C, {"msg_getmsglist_param_is_remble": True})
    await alice.msg.clear_history_message(*C2C)
    assert await history(alice, C2C) == []
    assert await history(alice, C2C, remble=True) == []
    assert await roaming(server, "alice", C2C, clock) == []
    assert await roaming(server, "bob", ("alice", ConvType.C2C), clock) == ["a1", "a2", "b1"]
    await send(alice, C2C, clock, "after")
    assert await history(alice, C2C, remble=True) == ["after"]


async def test_clearing_a_group_empties_it_here_for_good(server, alice, clock):
    """The stored messages become tombstones: roaming (which TIM still serves the admin) does not
    bring them back; a message sent afterwards shows."""
    await send(alice, GROUP_CONV, clock, "g1", "g2", "g3")
    await alice.msg.clear_history_message(*GROUP_CONV)
    assert await history(alice, GROUP_CONV) == []
    assert await history(alice, GROUP_CONV, remble=True) == []
    await send(alice, GROUP_CONV, clock, "after")
    assert await history(alice, GROUP_CONV, remble=True) == ["after"]
    # TIM hides them from the members' SDKs only; the admin's history, which a fresh client reads,
    # keeps them (trtc.io/document/65970).
    assert await roaming(server, "bob", GROUP_CONV, clock) == ["g1", "g2", "g3", "after"]


async def test_clearing_an_unknown_group_raises_10010_and_keeps_nothing_else(alice, clock):
    with pytest.raises(NotFoundError) as caught:
        await alice.msg.clear_history_message("no-such-group", ConvType.GROUP)
    assert caught.value.code == 10010


async def test_a_community_cannot_be_cleared(server, alice, clock):
    """10007 (the command does not support Community groups), and the local copy stays."""
    await server.create_group("club", owner="alice", type="Community")
    await send(alice, ("club", ConvType.GROUP), clock, "c1")
    with pytest.raises(AuthError) as caught:
        await alice.msg.clear_history_message("club", ConvType.GROUP)
    assert caught.value.code == 10007
    assert await history(alice, ("club", ConvType.GROUP)) == ["c1"]


@pytest.mark.parametrize(
    "conv",
    [("bob", 3), ("", ConvType.C2C), ("bob", 0), ("x" * 33, ConvType.C2C)],
    ids=["system-conv", "empty-id", "invalid-type", "too-long-user-id"],
)
async def test_clear_bad_input_is_refused_offline(alice, clock, conv):
    await send(alice, C2C, clock, "kept")
    calls = alice._connection.calls
    with pytest.raises(UsageError):
        await alice.msg.clear_history_message(*conv)
    assert alice._connection.calls == calls
    assert await history(alice, C2C) == ["kept"]


async def test_clear_group_msg_error_codes(server, alice):
    """As REST: a missing group 10010, a Community 10007; otherwise OK, with or without MsgSeq."""
    await server.create_group("club", owner="alice", type="Community")

    async def code(request: ClearGroupMsg) -> int:
        try:
            await alice._connection.call(request)
        except TIMError as error:
            return error.code
        return 0

    assert [
        await code(ClearGroupMsg(GroupId="nope")),
        await code(ClearGroupMsg(GroupId="club")),
        await code(ClearGroupMsg(GroupId=GROUP)),
        await code(ClearGroupMsg(GroupId=GROUP, MsgSeq=7)),
    ] == [10010, 10007, 0, 0]
