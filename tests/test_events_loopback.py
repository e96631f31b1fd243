"""Receiving over real loopback: the dev server fires TIM's webhooks at a client's `tim.listen()`
site, and the client's `tim.events()` yields them in the C SDK's JSON, kept in its local store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from aio_tim import (
    Client,
    ConvType,
    CustomElem,
    FaceElem,
    FileElem,
    GetMsgListParam,
    ImageElem,
    LocationElem,
    Message,
    MsgStatus,
    SoundElem,
    TextElem,
    VideoElem,
)
from aio_tim.devserver import DevServer
from aio_tim.events.model import Event
from aio_tim.protocol import callbacks as cb
from aio_tim.testing import client_for
from aio_tim.types import encode

TOKEN = "webhook-token-for-tests"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


@pytest_asyncio.fixture
async def bob(server: DevServer, tmp_path: Path) -> AsyncIterator[Client]:
    """Bob receives: his client listens, with a file store, and the server calls him (signed)."""
    async with client_for(server, "bob", store_path=tmp_path / "bob.db", webhook_token=TOKEN) as client:
        server.set_webhook(await client.listen(), token=TOKEN)
        yield client


async def next_event(events: AsyncIterator[Event], command: str) -> Event:
    """The next event with this command (others are passed over), within 10 s."""
    async with asyncio.timeout(10):
        async for event in events:
            if event.command == command:
                return event
    raise AssertionError("the event stream ended")


ATTACHMENTS = [
    TextElem(content="hello bob"),
    FaceElem(index=3, buf="smile"),
    LocationElem(desc="office", latitude=22.5, longitude=113.9),
    CustomElem(data='{"kind":"order"}', desc="an order", ext="ext"),
]
MEDIA = [
    ImageElem(format=3, orig_id="img-1", orig_url="https://cos.example/o.png", orig_pic_size=2048,
              orig_pic_width=64, orig_pic_height=48, thumb_url="https://cos.example/t.png",
              thumb_pic_size=100, thumb_pic_width=16, thumb_pic_height=12),
    SoundElem(url="https://cos.example/v.amr", file_id="snd-1", file_size=300, file_time=3),
    FileElem(url="https://cos.example/r.pdf", file_id="file-1", file_size=4096, file_name="r.pdf"),
    VideoElem(video_url="https://cos.example/c.mp4", video_id="vid-1", video_size=9000, video_duration=5,
              video_type="mp4", image_url="https://cos.example/c.jpg", image_id="th-1", image_size=300,
              image_width=32, image_height=18, image_type="jpg"),
]  # fmt: skip


def sent_keys(elem: object) -> dict[str, object]:
    """The element's JSON without the keys only a receiver gets (download flags)."""
    return {k: v for k, v in json.loads(encode(elem)).items() if not k.endswith("download_flag")}


async def test_c2c_text_and_every_element_arrive_in_c_sdk_json(alice: Client, bob: Client) -> None:
    """Each element alice sends reaches bob's event stream as the same C SDK element, from alice."""
    events = bob.events(commands={cb.C2C_AFTER_SEND_MSG})
    for elem in [*ATTACHMENTS, *MEDIA]:
        sent = await alice.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[elem]))
        event = await next_event(events, cb.C2C_AFTER_SEND_MSG)
        got = event.message
        assert got is not None
        assert (got.conv_id, got.conv_type, got.sender, got.is_from_self) == ("alice", 1, "alice", False)
        assert (got.seq, got.rand, got.server_time) == (sent.seq, sent.rand, sent.server_time)
        assert [sent_keys(e) for e in got.elem_array] == [sent_keys(elem)]
        assert event.id == f"{cb.C2C_AFTER_SEND_MSG}|alice|bob|{sent.msg_id}"


async def test_received_messages_land_in_the_store_beside_sent_ones(alice: Client, bob: Client) -> None:
    """get_msg_list on bob's side shows alice's message (received) and bob's reply (sent)."""
    events = bob.events()
    await alice.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content="ping")]))
    await next_event(events, cb.C2C_AFTER_SEND_MSG)
    await bob.msg.send_new_msg("alice", ConvType.C2C, Message(elem_array=[TextElem(content="pong")]))
    page = await bob.msg.get_msg_list("alice", ConvType.C2C, GetMsgListParam(count=10))
    texts = sorted((m.sender, m.is_from_self, m.elem_array[0].content) for m in page)  # type: ignore[union-attr]
    assert texts == [("alice", False, "ping"), ("bob", True, "pong")]  # one second: order is by seq
    assert await bob.store.unread_count((ConvType.C2C, "alice")) == 1


async def test_recall_and_read_report_arrive_and_update_the_store(
    alice: Client, bob: Client, server: DevServer
) -> None:
    """alice's recall and bob's read report arrive as events, and bob's stored copy follows them."""
    events = bob.events()
    msg = Message(elem_array=[TextElem(content="oops")])
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, msg)
    await next_event(events, cb.C2C_AFTER_SEND_MSG)
    await bob.msg.report_readed("alice", ConvType.C2C)
    report = await next_event(events, cb.C2C_AFTER_MSG_REPORT)
    assert isinstance(report.body, cb.C2CAfterMsgReport)
    assert (report.body.Report_Account, report.body.Peer_Account) == ("bob", "alice")
    await alice.msg.revoke("bob", ConvType.C2C, sent)
    recall = await next_event(events, cb.C2C_AFTER_MSG_WITHDRAW)
    assert recall.message is None
    assert [(loc.seq, loc.rand, loc.time, loc.is_revoked) for loc in recall.locators] == [
        (sent.seq, sent.rand, sent.server_time, True)
    ]
    [stored] = await bob.msg.get_msg_list("alice", ConvType.C2C, GetMsgListParam(count=5))
    assert stored.status == MsgStatus.REVOKED


async def test_group_messages_and_recalls_arrive_for_members(
    alice: Client, bob: Client, server: DevServer
) -> None:
    """Bob learns he is in the group from its creation, gets its messages, stored, and can recall one."""
    events = bob.events()
    await server.create_group("team", owner="alice", members=["bob"])
    created = await next_event(events, cb.AFTER_CREATE_GROUP)
    assert isinstance(created.body, cb.GroupAfterCreateGroup) and created.body.GroupId == "team"
    sent = await alice.msg.send_new_msg("team", ConvType.GROUP, Message(elem_array=[*ATTACHMENTS, *MEDIA]))
    event = await next_event(events, cb.GROUP_AFTER_SEND_MSG)
    got = event.message
    assert got is not None
    assert (got.conv_id, got.conv_type, got.sender, got.seq) == ("team", 2, "alice", sent.seq)
    assert [sent_keys(e) for e in got.elem_array] == [sent_keys(e) for e in [*ATTACHMENTS, *MEDIA]]
    await bob.msg.revoke("team", ConvType.GROUP, got)  # the received copy is enough to recall it
    recall = await next_event(events, cb.GROUP_AFTER_RECALL_MSG)
    assert [loc.seq for loc in recall.locators] == [sent.seq]
    [stored] = await bob.msg.get_msg_list("team", ConvType.GROUP, GetMsgListParam(count=5))
    assert (stored.seq, stored.status) == (sent.seq, MsgStatus.REVOKED)


async def test_group_messages_of_other_groups_are_events_but_not_stored(
    alice: Client, bob: Client, server: DevServer
) -> None:
    """A group bob is not in still yields events (the app sees everything) but stays out of his store."""
    events = bob.events()
    await server.create_group("others", owner="alice", members=["carol"])
    await alice.msg.send_new_msg("others", ConvType.GROUP, Message(elem_array=[TextElem(content="hi")]))
    event = await next_event(events, cb.GROUP_AFTER_SEND_MSG)
    assert event.message is not None and event.message.conv_id == "others"
    assert await bob.msg.get_msg_list("others", ConvType.GROUP, GetMsgListParam(count=5)) == []


async def test_a_rest_answer_does_not_wait_for_a_slow_webhook(alice: Client, server: DevServer) -> None:
    """With the app's URL hanging, sends still answer at REST speed; the webhook fails in the background."""
    from aiohttp import web

    gate = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await gate.wait()
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    app = web.Application()
    app.router.add_post("/hook", stall)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        server.set_webhook(f"http://127.0.0.1:{port}/hook", commands={cb.C2C_AFTER_SEND_MSG})
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(5):
            await alice.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content=str(n))]))
        assert loop.time() - started < 2.0  # the hanging app would hold each send for 5 s otherwise
        assert server.webhook_statistics()["delivered"] == 0
        gate.set()
        await server.webhooks_idle()
        assert server.webhook_statistics()["delivered"] == 5
    finally:
        gate.set()
        await runner.cleanup()


async def test_leaving_a_group_stops_storing_its_messages(
    alice: Client, bob: Client, server: DevServer
) -> None:
    """Removed from the group (AfterMemberExit), bob still gets events but no longer stores its
    messages; dismissing the group arrives as AfterGroupDestroyed with its members."""
    events = bob.events()
    await server.create_group("club", owner="alice", members=["bob", "carol"])
    await next_event(events, cb.AFTER_CREATE_GROUP)
    await alice.group.delete_member({"group_delete_member_param_group_id": "club",
                                     "group_delete_member_param_identifier_array": ["bob"]})  # fmt: skip
    left = await next_event(events, cb.AFTER_MEMBER_EXIT)
    assert isinstance(left.body, cb.GroupAfterMemberExit)
    assert [m.Member_Account for m in left.body.ExitMemberList] == ["bob"]
    await alice.msg.send_new_msg(
        "club", ConvType.GROUP, Message(elem_array=[TextElem(content="without bob")])
    )
    await next_event(events, cb.GROUP_AFTER_SEND_MSG)
    assert await bob.msg.get_msg_list("club", ConvType.GROUP, GetMsgListParam(count=5)) == []
    await alice.group.delete("club")
    gone = await next_event(events, cb.AFTER_GROUP_DESTROYED)
    assert isinstance(gone.body, cb.GroupAfterGroupDestroyed)
    assert sorted(m.Member_Account for m in gone.body.MemberList) == ["alice", "carol"]


async def test_a_sent_message_comes_out_of_the_default_stream_once(alice: Client, bob: Client) -> None:
    """The README's loop sees each message once: the before-send question is not an event by default."""
    await alice.msg.send_text("bob", ConvType.C2C, "first")
    await alice.msg.send_text("bob", ConvType.C2C, "second")
    seen: list[tuple[str, str]] = []
    async with asyncio.timeout(10):
        async for event in bob.events():
            if event.message is not None and not event.message.is_from_self:
                text = event.message.elem_array[0]
                assert isinstance(text, TextElem)
                seen.append((event.command, text.content))
            if len(seen) == 2:
                break
    assert seen == [("C2C.CallbackAfterSendMsg", "first"), ("C2C.CallbackAfterSendMsg", "second")]


async def test_before_send_questions_come_out_when_asked_for(alice: Client, bob: Client) -> None:
    """`before_send=True` yields TIM's before-send webhook ahead of the after-send one."""
    await alice.msg.send_text("bob", ConvType.C2C, "asked")
    commands: list[str] = []
    async with asyncio.timeout(10):
        async for event in bob.events("moderation", before_send=True):
            commands.append(event.command)
            if event.command == "C2C.CallbackAfterSendMsg":
                break
    assert commands == ["C2C.CallbackBeforeSendMsg", "C2C.CallbackAfterSendMsg"]
