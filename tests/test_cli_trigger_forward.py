"""`aio-tim trigger` and `aio-tim listen --forward-to`, against an app handler written without
aio_tim: a plain aiohttp handler that checks TIM's signature (sha256 of token + RequestTime) itself."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from cli_support import free_port
from test_callback_fidelity import mismatches

from aio_tim import Client, ConvType, Message, TextElem
from aio_tim.cli import callback_kit as kit
from aio_tim.cli import main
from aio_tim.devserver import DevServer
from aio_tim.protocol import callbacks as cb
from aio_tim.testing import client_for

APP_TOKEN = "app-token-7f3a"
Answer = Callable[[dict[str, Any]], Any]


def ok(body: dict[str, Any]) -> Any:
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


class App:
    """The user's own handler: refuses a request whose Sign is not sha256(token + RequestTime) or
    whose RequestTime is over a minute away, and records the rest."""

    def __init__(self, token: str = APP_TOKEN) -> None:
        self.token = token
        self.answer: Answer = ok
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.refused = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        request_time, sign = request.query.get("RequestTime", ""), request.query.get("Sign", "")
        expected = hashlib.sha256((self.token + request_time).encode()).hexdigest()
        if sign != expected or not request_time.isdigit() or abs(time.time() - int(request_time)) > 60:
            self.refused += 1
            return web.Response(status=401, text="bad signature")
        body = json.loads(await request.read())
        self.seen.append((dict(request.query), body))
        return web.json_response(self.answer(body))


@pytest_asyncio.fixture
async def app() -> AsyncIterator[App]:
    handler = App()
    server = web.Application()
    server.router.add_post("/im/callback", handler.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    handler.url = f"http://127.0.0.1:{runner.addresses[0][1]}/im/callback"
    yield handler
    await runner.cleanup()


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`aio-tim ARGS` in a thread (the handlers answer on this loop): exit code, stdout, stderr."""
    try:
        status = await asyncio.to_thread(main, list(args))
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


# --- trigger ------------------------------------------------------------------------------------------


async def test_trigger_fires_every_command_signed_with_the_pages_fields(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(kit.COMMANDS) == set(cb.KNOWN_COMMANDS)
    for command in kit.COMMANDS:
        status, out, err = await cli(capsys, "trigger", command, "--to", app.url, "--token", APP_TOKEN)
        assert status == 0, out + err
        assert out.startswith("HTTP 200 in ") and "valid TIM callback answer: " in out
    assert app.refused == 0 and len(app.seen) == len(kit.COMMANDS)
    for query, body in app.seen:
        assert query["CallbackCommand"] == body["CallbackCommand"]
        assert query["SdkAppid"] == "1400000000" and query["contenttype"] == "json"
        assert mismatches(body) == []  # every field TIM's page lists, of the page's type
        assert abs(int(query["RequestTime"]) - time.time()) < 5


async def test_trigger_sets_fields_as_json_or_text(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    sets = ["--set", "To_Account=bob", "--set", "MsgBody.0.MsgContent.Text=hello there",
            "--set", "OnlineOnlyFlag=1", "--set", 'CloudCustomData="42"',
            "--set", "Extra=[1, 2]"]  # fmt: skip
    status, _, _ = await cli(
        capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", app.url, "--token", APP_TOKEN, *sets
    )
    assert status == 0
    [(_, body)] = app.seen
    assert (body["To_Account"], body["OnlineOnlyFlag"], body["CloudCustomData"]) == ("bob", 1, "42")
    assert body["MsgBody"][0]["MsgContent"]["Text"] == "hello there" and body["Extra"] == [1, 2]


async def test_trigger_says_what_is_wrong_with_an_answer(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ("trigger", cb.C2C_BEFORE_SEND_MSG, "--to", app.url, "--token", APP_TOKEN)
    rewritten = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]
    app.answer = lambda body: {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "MsgBody": rewritten}
    status, out, _ = await cli(capsys, *before)
    assert status == 0 and "valid TIM callback answer: allow, with the message rewritten" in out
    app.answer = lambda body: {"ActionStatus": "OK", "ErrorCode": 120005, "ErrorInfo": "no ads"}
    status, out, _ = await cli(capsys, *before)
    assert status == 0 and "refuse (the sender gets 120005)" in out
    app.answer = lambda body: {"ActionStatus": "fine", "ErrorCode": "0", "MsgBody": "x"}
    status, out, _ = await cli(
        capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", app.url, "--token", APP_TOKEN
    )
    assert status == 5 and "not a valid TIM callback answer:" in out
    for problem in ("ErrorInfo missing", "ErrorCode must be int", 'ActionStatus must be "OK" or "FAIL"',
                    "MsgBody: not a field of this answer"):  # fmt: skip
        assert problem in out, out
    status, out, _ = await cli(capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", app.url, "--token", "wrong")
    assert status == 5 and "HTTP 401" in out and app.refused == 1  # the handler's own check refused it


def test_answer_checks_by_command() -> None:
    def problems(command: str, answer: Any, status: int = 200) -> list[str]:
        return kit.answer_problems(command, status, json.dumps(answer).encode())

    good = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert problems(cb.GROUP_AFTER_SEND_MSG, good) == problems(cb.GROUP_BEFORE_SEND_MSG, good) == []
    assert problems(cb.GROUP_BEFORE_SEND_MSG, {**good, "ErrorCode": 7}) == [
        "ErrorCode 7: a before-send answer is 0 allow, 1 refuse, 2 drop or 120001..130000"
    ]
    assert problems(cb.GROUP_BEFORE_SEND_MSG, {**good, "MsgBody": [{"MsgType": 1}]})[0].startswith(
        "MsgBody is not TIM's message elements"
    )
    assert problems(cb.GROUP_BEFORE_SEND_MSG, {**good, "CloudCustomData": 5}) == [
        "CloudCustomData must be a string"
    ]
    assert problems(cb.AFTER_CREATE_GROUP, [good]) == ["the answer is not a JSON object"]
    assert problems(cb.AFTER_CREATE_GROUP, {**good, "ErrorCode": True}) == ["ErrorCode must be int, not true"]
    assert problems(cb.AFTER_CREATE_GROUP, good, status=500)[0].startswith("HTTP 500")


async def test_trigger_refuses_bad_lines_before_sending(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = await cli(capsys, "trigger", "C2C.CallbackBeforSendMsg", "--to", app.url)
    assert status == 2 and "did you mean C2C.CallbackBeforeSendMsg?" in err
    status, _, err = await cli(capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", app.url, "--set", "Nope.x=1")
    assert status == 2 and "--set Nope: the body has no such field" in err
    status, _, err = await cli(capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", "127.0.0.1:8080")
    assert status == 2 and "must start with http://" in err
    status, _, err = await cli(
        capsys, "trigger", cb.C2C_AFTER_SEND_MSG, "--to", f"http://127.0.0.1:{free_port()}/"
    )
    assert status == 3 and "connection refused" in err
    assert app.seen == [] and app.refused == 0


# --- listen --forward-to ------------------------------------------------------------------------------


async def until_listening(port: int, runner: asyncio.Task[Any]) -> None:
    while not runner.done():
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"the relay stopped before it listened: {runner.result()}")


def forward(port: int, app_url: str, count: int, *flags: str) -> asyncio.Task[int]:
    line = ["listen", "--forward-to", app_url, "--port", str(port), "--count", str(count), *flags]
    return asyncio.create_task(asyncio.to_thread(main, line))


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


@pytest_asyncio.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def alice(server: DevServer) -> AsyncIterator[Client]:
    async with client_for(server, "alice") as client:
        yield client


async def test_forward_relays_re_signed_and_the_sender_gets_the_answer(
    server: DevServer, alice: Client, app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dev server signs with its token; the relay checks it, re-signs with the app's token, and
    the app's before-send answer (a rewritten message) is what the dev server acts on."""
    port = free_port()
    relay = forward(port, app.url, 2, "--token", APP_TOKEN, "--inbound-token", "server-token")
    await until_listening(port, relay)
    server.set_webhook(f"http://127.0.0.1:{port}/tim/callback", token="server-token",
                       commands={cb.C2C_BEFORE_SEND_MSG, cb.C2C_AFTER_SEND_MSG})  # fmt: skip
    stars = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]
    app.answer = lambda body: (
        {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "MsgBody": stars}
        if body["CallbackCommand"] == cb.C2C_BEFORE_SEND_MSG else ok(body)
    )  # fmt: skip
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("bad word"))
    await server.webhooks_idle()
    assert await asyncio.wait_for(relay, 30) == 0
    assert [body["CallbackCommand"] for _, body in app.seen] == [
        cb.C2C_BEFORE_SEND_MSG,
        cb.C2C_AFTER_SEND_MSG,
    ]
    assert app.refused == 0 and app.seen[1][1]["MsgBody"] == stars  # stored as the app rewrote it
    assert all(query["SdkAppid"] == str(server.sdk_app_id) for query, _ in app.seen)
    out, err = capsys.readouterr()
    assert f"forwarding webhooks from http://127.0.0.1:{port}/tim/callback to {app.url}" in err
    lines = out.splitlines()
    assert len(lines) == 2 and cb.C2C_BEFORE_SEND_MSG in lines[0] and cb.C2C_AFTER_SEND_MSG in lines[1]
    assert all(" 200 {" in line and line.endswith(" ms") for line in lines), lines


async def test_forward_refuses_a_wrong_signature_and_reports_a_dead_handler(
    server: DevServer, alice: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    port, dead = free_port(), f"http://127.0.0.1:{free_port()}/gone"
    relay = forward(port, dead, 2, "--token", APP_TOKEN)
    await until_listening(port, relay)
    server.set_webhook(f"http://127.0.0.1:{port}/tim/callback", token="not-the-token",
                       commands={cb.C2C_AFTER_SEND_MSG})  # fmt: skip
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("one"))
    await server.webhooks_idle()
    server.set_webhook(
        f"http://127.0.0.1:{port}/tim/callback", token=APP_TOKEN, commands={cb.C2C_BEFORE_SEND_MSG}
    )
    sent = await alice.msg.send_new_msg("bob", ConvType.C2C, text("two"))  # the failed check lets it through
    assert sent.msg_id and server.webhook_statistics()["failed"] == 1
    assert await asyncio.wait_for(relay, 30) == 0  # --count counts refused and failed ones too
    out, _ = capsys.readouterr()
    refused, failed = out.splitlines()
    assert cb.C2C_AFTER_SEND_MSG in refused and "refused: Sign does not match the token" in refused
    assert cb.C2C_BEFORE_SEND_MSG in failed and "connection refused" in failed and "502" in failed


async def test_trigger_flags_a_before_send_answer_slower_than_tims_two_seconds(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = App()
    server = web.Application()

    async def late(request: web.Request) -> web.Response:
        await asyncio.sleep(cb.BEFORE_TIMEOUT + 0.2)
        return await slow.handle(request)

    server.router.add_post("/slow", late)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slow"
        status, out, _ = await cli(
            capsys, "trigger", cb.GROUP_BEFORE_SEND_MSG, "--to", url, "--token", APP_TOKEN
        )
    finally:
        await runner.cleanup()
    assert status == 5 and "TIM waits 2 s, then lets the message pass" in out


async def test_forward_without_a_token_passes_unsigned_and_shows_the_refusal(
    server: DevServer, alice: Client, app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --token: nothing is checked or signed, and the handler that wants a signature says so."""
    port = free_port()
    relay = forward(port, app.url, 1)
    await until_listening(port, relay)
    server.set_webhook(f"http://127.0.0.1:{port}/tim/callback", commands={cb.C2C_AFTER_SEND_MSG})
    await alice.msg.send_new_msg("bob", ConvType.C2C, text("unsigned"))
    await server.webhooks_idle()
    assert await asyncio.wait_for(relay, 30) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert " 401 bad signature " in line and "(not a valid TIM answer: HTTP 401" in line
    assert app.refused == 1 and server.webhook_statistics()["failed"] == 1
