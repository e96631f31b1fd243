"""The webhook receiver on its own: verification, hostile requests, dedup, the ack cursor, backlog.

Webhooks are POSTed over real loopback to `tim.listen()`; the inbox is a real sqlite file.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from aio_tim import Client
from aio_tim.events.model import RawCallback
from aio_tim.protocol import callbacks as cb

APP = 1400000000
TOKEN = "a-token"
NOW = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def client(tmp_path: Path, clock: Clock | None = None, token: str | None = TOKEN) -> Client:
    return Client(
        sdk_app_id=APP, user_id="bob", secret_key="k" * 32, base_url="http://127.0.0.1:9",
        store_path=tmp_path / "bob.db", webhook_token=token, clock=clock or Clock(),
    )  # fmt: skip


@pytest_asyncio.fixture
async def tim(tmp_path: Path) -> AsyncIterator[Client]:
    async with client(tmp_path) as c:
        yield c


@pytest_asyncio.fixture
async def url(tim: Client) -> str:
    return await tim.listen()


def c2c_body(n: int, text: str = "hi") -> dict[str, Any]:
    return {
        "CallbackCommand": cb.C2C_AFTER_SEND_MSG, "From_Account": "alice", "To_Account": "bob",
        "MsgSeq": n, "MsgRandom": 1000 + n, "MsgTime": NOW, "MsgKey": f"{n}_{1000 + n}_{NOW}",
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
    }  # fmt: skip


def query(command: str, *, app: int = APP, token: str | None = TOKEN, at: int = NOW) -> dict[str, str]:
    q = {"SdkAppid": str(app), "CallbackCommand": command, "contenttype": "json", "ClientIP": "1.2.3.4",
         "OptPlatform": "RESTAPI"}  # fmt: skip
    if token is not None:
        q |= {"RequestTime": str(at), "Sign": cb.sign(token, at)}
    return q


async def post(
    url: str, body: Any, q: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    data: Any = body if isinstance(body, bytes) else msgspec.json.encode(body)
    if len(data) > 512 * 1024:
        data = io.BytesIO(data)  # aiohttp warns about large raw bytes
    if q is None:
        q = query(body["CallbackCommand"])
    async with aiohttp.ClientSession() as session, session.request(method, url, params=q, data=data) as r:
        return r.status, msgspec.json.decode(await r.read())


async def take(tim: Client, n: int, **options: Any) -> list[Any]:
    got = []
    async with asyncio.timeout(10):
        async for event in tim.events(**options):
            got.append(event)
            if len(got) == n:
                break
    return got


async def test_a_signed_webhook_is_committed_then_answered_ok(tim: Client, url: str) -> None:
    """A valid webhook gets TIM's OK answer and becomes one event with its query kept."""
    status, answer = await post(url, c2c_body(1))
    assert (status, answer) == (200, {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
    [event] = await take(tim, 1)
    assert event.command == cb.C2C_AFTER_SEND_MSG and event.query["ClientIP"] == "1.2.3.4"
    assert isinstance(event.body, cb.C2CAfterSendMsg) and event.body.MsgSeq == 1


BAD_QUERIES = [
    ("wrong SdkAppid", query(cb.C2C_AFTER_SEND_MSG, app=1400000001), 403),
    ("no signature", query(cb.C2C_AFTER_SEND_MSG, token=None), 403),
    ("wrong token", query(cb.C2C_AFTER_SEND_MSG, token="guess"), 403),
    ("stale RequestTime", query(cb.C2C_AFTER_SEND_MSG, at=NOW - 61), 403),
    ("future RequestTime", query(cb.C2C_AFTER_SEND_MSG, at=NOW + 61), 403),
    ("RequestTime not a number", query(cb.C2C_AFTER_SEND_MSG) | {"RequestTime": "17e8"}, 403),
    ("RequestTime absurdly long", query(cb.C2C_AFTER_SEND_MSG) | {"RequestTime": "1" * 40}, 403),
    ("Sign not ASCII", query(cb.C2C_AFTER_SEND_MSG) | {"Sign": "ü" * 64}, 403),
    ("no command", {k: v for k, v in query(cb.C2C_AFTER_SEND_MSG).items() if k != "CallbackCommand"}, 400),
    ("command mismatch", query(cb.GROUP_AFTER_SEND_MSG), 400),
]


@pytest.mark.parametrize(("why", "q", "status"), BAD_QUERIES, ids=[row[0] for row in BAD_QUERIES])
async def test_requests_not_from_tim_are_refused(
    tim: Client, url: str, why: str, q: dict[str, str], status: int
) -> None:
    """Wrong app, missing/wrong/stale signature: a TIM-shaped refusal, and nothing reaches the inbox."""
    got, answer = await post(url, c2c_body(1), q)
    assert got == status
    assert answer["ActionStatus"] == "FAIL" and answer["ErrorCode"] == 1 and answer["ErrorInfo"]
    assert await tim.inbox_backlog() == 0
    assert tim.webhook_statistics() == {f"refused_{status}": 1}


def test_a_tampered_sign_with_the_right_length_is_refused() -> None:
    """Sign comparison is of the whole digest: a one-character change fails."""
    good = cb.sign(TOKEN, NOW)
    bad = ("0" if good[0] != "0" else "1") + good[1:]
    assert cb.sign_matches(TOKEN, str(NOW), good)
    assert not cb.sign_matches(TOKEN, str(NOW), bad)
    assert not cb.sign_matches(TOKEN, str(NOW), "é" * 64)


MALFORMED = [
    ("not JSON", b"{not json"),
    ("JSON array", b"[1, 2]"),
    ("wrong field type", msgspec.json.encode(c2c_body(1) | {"MsgSeq": "one"})),
    ("element content does not fit", msgspec.json.encode(
        c2c_body(1) | {"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]})),
    ("deep nesting", b"[" * 5000 + b"]" * 5000),
]  # fmt: skip


@pytest.mark.parametrize(("why", "raw"), MALFORMED, ids=[row[0] for row in MALFORMED])
async def test_malformed_bodies_are_refused_not_trusted(tim: Client, url: str, why: str, raw: bytes) -> None:
    """A body that is not JSON, or does not fit its command, gets a 400 refusal; the receiver lives on."""
    status, answer = await post(url, raw, query(cb.C2C_AFTER_SEND_MSG))
    assert status == 400 and answer["ActionStatus"] == "FAIL"
    assert await tim.inbox_backlog() == 0
    assert (await post(url, c2c_body(2)))[0] == 200  # still serving


async def test_a_huge_body_is_refused_with_413(tim: Client, url: str) -> None:
    """A body over the 1 MiB cap is refused before it is parsed or stored."""
    status, answer = await post(
        url, b'{"x":"' + b"a" * (1024 * 1024 + 10) + b'"}', query(cb.C2C_AFTER_SEND_MSG)
    )
    assert status == 413 and answer["ActionStatus"] == "FAIL"
    assert await tim.inbox_backlog() == 0


async def test_get_is_not_a_webhook(url: str) -> None:
    """Only POST is routed to the receiver."""
    async with aiohttp.ClientSession() as session, session.get(url, params=query(cb.C2C_AFTER_SEND_MSG)) as r:
        assert r.status == 405


async def test_unknown_commands_are_kept_raw_never_dropped(tim: Client, url: str) -> None:
    """A command aio_tim does not type is answered OK and reaches the consumer as a RawCallback."""
    body = {
        "CallbackCommand": "Sns.CallbackFriendAdd",
        "PairList": [{"From_Account": "a", "To_Account": "b"}],
    }
    status, _ = await post(url, body)
    assert status == 200
    [event] = await take(tim, 1)
    assert event.command == "Sns.CallbackFriendAdd" and event.message is None
    assert isinstance(event.body, RawCallback) and event.body.fields["PairList"][0]["To_Account"] == "b"


async def test_every_group_membership_command_is_typed(tim: Client, url: str) -> None:
    """Join, exit, create and destroy decode into their Structs."""
    bodies = [
        {"CallbackCommand": cb.AFTER_CREATE_GROUP, "GroupId": "g", "Type": "Public", "Owner_Account": "bob",
         "MemberList": [{"Member_Account": "carol"}], "EventTime": "1670574414123"},
        {"CallbackCommand": cb.AFTER_NEW_MEMBER_JOIN, "GroupId": "g", "JoinType": "Apply",
         "NewMemberList": [{"Member_Account": "dave"}]},
        {"CallbackCommand": cb.AFTER_MEMBER_EXIT, "GroupId": "g", "ExitType": "Quit",
         "ExitMemberList": [{"Member_Account": "dave"}]},
        {"CallbackCommand": cb.GROUP_SEND_MSG_EXCEPTION, "GroupId": "g", "From_Account": "bob", "Random": 7,
         "ErrorCode": 10017, "MsgBody": []},
        {"CallbackCommand": cb.AFTER_GROUP_DESTROYED, "GroupId": "g", "Owner_Account": "bob",
         "MemberList": []},
    ]  # fmt: skip
    for body in bodies:
        assert (await post(url, body))[0] == 200
    events = await take(tim, len(bodies))
    kinds = [type(e.body) for e in events]
    assert kinds == [cb.GroupAfterCreateGroup, cb.GroupAfterNewMemberJoin, cb.GroupAfterMemberExit,
                     cb.GroupSendMsgException, cb.GroupAfterGroupDestroyed]  # fmt: skip
    assert events[3].message is not None and events[3].message.status == 3  # SendFail


async def test_a_redelivered_webhook_is_one_event(tim: Client, url: str) -> None:
    """The same webhook POSTed three times (TIM retrying) is committed once: dedup by its natural key."""
    for _ in range(3):
        assert (await post(url, c2c_body(7)))[0] == 200
    assert await tim.inbox_backlog() == 1
    [event] = await take(tim, 1)
    assert event.id == f"{cb.C2C_AFTER_SEND_MSG}|alice|bob|7_1007_{NOW}"


async def test_a_new_stream_resumes_after_the_last_acknowledged_event(tim: Client, url: str) -> None:
    """Events are acknowledged when the loop asks for the next one; a new stream starts after them."""
    for n in range(1, 6):
        await post(url, c2c_body(n))
    first = await take(tim, 3)  # 1 and 2 acknowledged by asking for 3; 3 is not
    assert [e.body.MsgSeq for e in first] == [1, 2, 3]
    assert await tim.inbox_backlog() == 3
    again = await take(tim, 3)
    assert [e.body.MsgSeq for e in again] == [3, 4, 5]
    assert again[0].id == first[2].id  # the same event, the same id


async def test_explicit_acks_move_the_cursor_only_past_a_done_prefix(tim: Client, url: str) -> None:
    """With auto_ack off, acking 2 and 3 before 1 keeps the cursor at 0 until 1 is acked too."""
    for n in range(1, 5):
        await post(url, c2c_body(n))
    events = tim.events(auto_ack=False)
    got = [await anext(events) for _ in range(4)]
    await got[1].ack()
    await got[2].ack()
    assert await tim.inbox_backlog() == 4
    await got[0].ack()
    assert await tim.inbox_backlog() == 1
    [left] = await take(tim, 1)
    assert left.body.MsgSeq == 4


async def test_a_slow_consumer_never_blocks_the_receiver(tim: Client, url: str) -> None:
    """With nobody consuming, 300 webhooks are all answered OK and wait in the inbox (its backlog)."""
    statuses = await asyncio.gather(*(post(url, c2c_body(n)) for n in range(1, 301)))
    assert {s for s, _ in statuses} == {200}
    assert await tim.inbox_backlog() == 300
    got = await take(tim, 300)
    assert sorted(e.body.MsgSeq for e in got) == list(range(1, 301))


async def test_the_inbox_survives_a_restart(tmp_path: Path) -> None:
    """Events committed but not acknowledged are there for the next client on the same store."""
    async with client(tmp_path) as tim:
        url = await tim.listen()
        await post(url, c2c_body(1))
        await post(url, c2c_body(2))
        [first] = await take(tim, 1)
    async with client(tmp_path) as tim:
        got = await take(tim, 2)
    assert [e.body.MsgSeq for e in got] == [1, 2] and got[0].id == first.id


async def test_without_a_token_no_signature_is_needed(tmp_path: Path) -> None:
    """An app without webhook authentication accepts unsigned requests (SdkAppid still checked)."""
    async with client(tmp_path, token=None) as tim:
        url = await tim.listen()
        assert (await post(url, c2c_body(1), query(cb.C2C_AFTER_SEND_MSG, token=None)))[0] == 200
        assert (await post(url, c2c_body(2), query(cb.C2C_AFTER_SEND_MSG, app=1)))[0] == 403
        assert await tim.inbox_backlog() == 1


async def test_webhook_handler_mounts_at_any_path(tim: Client) -> None:
    """The handler mounted in a user's own aiohttp app receives webhooks at the path they chose."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/my/own/hook", tim.webhook_handler)
    app.add_subapp("/sub", tim.webhook_app("/tim"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        assert (await post(f"{base}/my/own/hook", c2c_body(1)))[0] == 200
        assert (await post(f"{base}/sub/tim", c2c_body(2)))[0] == 200
        assert await tim.inbox_backlog() == 2
    finally:
        await runner.cleanup()


async def test_a_full_disk_is_a_refusal_and_nothing_answered_ok_is_lost(tiny_fs: Path) -> None:
    """When the disk fills, webhooks get 503 (TIM hears a failure); every one answered OK is in the
    inbox, and receiving works again once space is freed."""
    ballast = tiny_fs / "ballast"
    ballast.write_bytes(b"\0" * 192 * 1024)
    async with client(tiny_fs) as tim:
        url = await tim.listen()
        accepted = 0
        for n in range(1, 500):
            status, answer = await post(url, c2c_body(n, "x" * 6000))
            if status != 200:
                assert status == 503 and answer["ActionStatus"] == "FAIL"
                break
            accepted += 1
        else:
            pytest.fail("the disk never filled up")
        assert accepted > 0 and await tim.inbox_backlog() == accepted
        ballast.unlink()
        assert (await post(url, c2c_body(1000)))[0] == 200
        assert await tim.inbox_backlog() == accepted + 1
