"""Before-send webhooks decide, over loopback: the dev server asks the app's `on_before_send` handler
before storing a message, and the REST caller gets TIM's answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from aio_tim import Client, ConvType, GetMsgListParam, Message, TextElem, TIMError
from aio_tim.devserver import DevServer
from aio_tim.events.decide import Allow, Discard, Reject
from aio_tim.events.model import Event
from aio_tim.protocol import callbacks as cb
from aio_tim.testing import client_for


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as srv:
        await srv.create_group("team", owner="alice", members=["bob", "app"])
        yield srv


@pytest_asyncio.fixture
async def app(server: DevServer, tmp_path: Path) -> AsyncIterator[Client]:
    """The app's backend: it receives every webhook (as user "app")."""
    async with client_for(server, "app", store_path=tmp_path / "app.db") as client:
        server.set_webhook(await client.listen())
        yield client


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


async def bob_sees(server: DevServer, conv: str = "alice") -> list[str]:
    async with client_for(server, "bob") as bob:
        conv_type = ConvType.GROUP if conv == "team" else ConvType.C2C
        page = await bob.msg.get_msg_list(conv, conv_type, GetMsgListParam(count=10, is_remble=True))
    return [e.content for m in page for e in m.elem_array if isinstance(e, TextElem)]


async def test_rejected_c2c_message_is_not_stored_and_the_sender_gets_20006(
    server: DevServer, app: Client, alice: Client
) -> None:
    """Reject(): sendmsg fails with 20006, bob never gets it, no after-send webhook fires."""
    seen: list[Event] = []

    @app.on_before_send
    def moderate(event: Event) -> Reject | None:
        seen.append(event)
        return Reject(info="no spam") if "spam" in event.message.elem_array[0].content else None  # type: ignore[union-attr]

    with pytest.raises(TIMError) as caught:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("buy spam"))
    assert caught.value.code == 20006 and caught.value.desc.endswith("no spam")
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("hello"))
    await server.webhooks_idle()
    assert await bob_sees(server) == ["hello"]
    assert [e.command for e in seen] == [cb.C2C_BEFORE_SEND_MSG] * 2
    assert seen[0].message is not None and seen[0].message.sender == "alice"


async def test_a_custom_code_reaches_the_sender(app: Client, alice: Client) -> None:
    """Reject(code=120001..130000): the REST caller gets that very code."""
    app.on_before_send(lambda event: Reject(code=120042, info="level too low"))
    with pytest.raises(TIMError) as caught:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("hi"))
    assert caught.value.code == 120042


async def test_rejected_group_message_gets_10016(server: DevServer, app: Client, alice: Client) -> None:
    """A refused group message: send_group_msg fails with 10016 and the group history stays empty."""
    app.on_before_send(lambda event: False)
    with pytest.raises(TIMError) as caught:
        await alice.msg.send_new_msg("team", ConvType.GROUP, text("hi all"))
    assert caught.value.code == 10016
    assert await bob_sees(server, "team") == []


async def test_a_rewritten_body_is_what_gets_stored_and_delivered(
    server: DevServer, app: Client, alice: Client
) -> None:
    """Allow(message=...): the rewritten elements are stored, and the after-send webhook carries them."""

    async def censor(event: Event) -> Allow:
        return Allow(Message(elem_array=[TextElem(content="***")], cloud_custom_str="censored"))

    app.on_before_send(censor)
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("a bad word"))
    assert await bob_sees(server) == ["***"]
    async with asyncio.timeout(10):
        async for event in app.events(commands={cb.C2C_AFTER_SEND_MSG}):
            assert event.message is not None
            assert [e.content for e in event.message.elem_array] == ["***"]  # type: ignore[union-attr]
            assert event.message.cloud_custom_str == "censored"
            break


async def test_discarded_message_looks_sent_but_nobody_gets_it(
    server: DevServer, app: Client, alice: Client
) -> None:
    """Discard(): the sender sees success, nothing is stored."""
    app.on_before_send(lambda event: Discard())
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("into the void"))
    assert sent.server_time
    assert await bob_sees(server) == []


@pytest.mark.parametrize("kind", ["slow async", "slow sync", "raises"])
async def test_a_failing_handler_lets_the_message_through(
    server: DevServer, app: Client, alice: Client, kind: str
) -> None:
    """A handler that times out or raises gets TIM's default: the message goes through, answered in time."""

    async def slow_async(event: Event) -> Reject:
        await asyncio.sleep(5)
        return Reject()

    def slow_sync(event: Event) -> Reject:
        time.sleep(0.6)
        return Reject()

    def raises(event: Event) -> None:
        raise RuntimeError("handler bug")

    handler = {"slow async": slow_async, "slow sync": slow_sync, "raises": raises}[kind]
    app.on_before_send(handler, timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("still here"))
    assert loop.time() - started < 1.9  # inside TIM's 2 s
    assert await bob_sees(server) == ["still here"]


async def test_an_unreachable_app_lets_messages_through(server: DevServer, alice: Client) -> None:
    """When the callback URL does not answer at all, the dev server sends the message (TIM's default)."""
    server.set_webhook("http://127.0.0.1:9/tim/callback")
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("no app"))
    assert await bob_sees(server) == ["no app"]
    await server.webhooks_idle()
    assert server.webhook_statistics()["failed"] >= 1


async def test_before_send_timeout_must_fit_tims_answer_time(app: Client) -> None:
    """A decision budget of 2 s or more could never be answered in time: refused."""
    with pytest.raises(ValueError, match="2 s"):
        app.on_before_send(lambda e: None, timeout=2.5)


def test_reject_codes_are_checked() -> None:
    """Reject takes 1 or a custom code in 120001..130000, nothing else."""
    assert Reject(code=120001).code == 120001
    with pytest.raises(TIMError):
        Reject(code=20006)
