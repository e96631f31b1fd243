"""The inspector's server side over real loopback HTTP: the journal, the JSON API and its checks,
the live stream, who may open it, and `aio-tim serve` printing where it is."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

import aiohttp
import pytest
from cli_support import CLI, stop, user_env
from inspector_support import Rest, receiver, text_body

from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.devserver.journal import Journal, Subscriber


async def send(rest: Rest, sender: str, to: str, text: str, random: int = 1) -> dict[str, object]:
    body = {"From_Account": sender, "To_Account": to, "MsgRandom": random, "MsgBody": text_body(text)}
    return await rest.call("openim/sendmsg", body)


async def get(session: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, str]:
    async with session.get(url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.text()


async def test_rest_calls_are_journaled_by_caller_never_by_usersig(dev_server: DevServer) -> None:
    async with aiohttp.ClientSession() as session:
        rest = Rest(dev_server, session)
        await send(rest, "alice", "bob", "hello")
        await rest.call("openim/sendmsg", {"To_Account": "bob"})  # malformed: 90000-ish, still recorded
        rest_entries = dev_server.journal.recent("rest")
        messages = dev_server.journal.recent("message")
        status, overview = await get(session, dev_server.inspector_url + "api/overview")
    newest, oldest = rest_entries
    assert oldest["endpoint"] == "openim/sendmsg" and oldest["caller"] == dev_server.admin
    assert oldest["code"] == 0 and oldest["ms"] > 0 and newest["code"] != 0
    assert messages == [
        {**messages[0], "action": "sent", "conversations": [["c2c", "alice", "bob"]]}
    ]  # the failed call changed no message
    assert status == 200 and rest.usersig not in overview and dev_server.secret_key not in overview
    assert rest.usersig not in json.dumps(rest_entries)


def test_the_journal_forgets_its_oldest_entries_and_a_slow_subscriber_overflows() -> None:
    journal = Journal(capacity={"rest": 3})
    with journal.subscribe() as subscriber:
        for n in range(5):
            journal.add("rest", {"n": n})
        seen = len(subscriber._pending)
    assert [e["n"] for e in journal.recent("rest")] == [4, 3, 2]
    assert journal.get(1) is None and journal.get(5) is not None and journal.counts["rest"] == 5
    assert seen == 5
    slow = Subscriber(backlog=2)
    for n in range(3):
        slow.push({"n": n})
    assert slow.overflowed and slow.pending


async def test_the_api_says_what_is_wrong_with_a_request(dev_server: DevServer) -> None:
    base = dev_server.inspector_url + "api/"
    async with aiohttp.ClientSession() as session:
        answers = {
            path: await get(session, base + path)
            for path in (
                "messages?conv=alice",
                'messages?conv=["c2c","alice"]',
                'messages?conv=["group","g"]&offset=-1',
                "search?field=nick&q=x",
                "search?field=text&q=",
                "members",
                "webhooks/12345",
                "journal?kind=secrets",
            )
        }
        ok = await get(session, base + 'messages?conv=["group","nobody"]')
    assert {path: status for path, (status, _) in answers.items()} == {
        "messages?conv=alice": 400,
        'messages?conv=["c2c","alice"]': 400,
        'messages?conv=["group","g"]&offset=-1': 400,
        "search?field=nick&q=x": 400,
        "search?field=text&q=": 400,
        "members": 400,
        "webhooks/12345": 404,
        "journal?kind=secrets": 400,
    }
    assert "offset must be a whole number" in answers['messages?conv=["group","g"]&offset=-1'][1]
    assert ok[0] == 200 and json.loads(ok[1])["messages"] == []


async def test_search_looks_at_words_not_at_the_json_around_them(dev_server: DevServer) -> None:
    await dev_server.create_group("team", owner="alice", members=["bob"], name="Team room")
    async with aiohttp.ClientSession() as session:
        rest = Rest(dev_server, session)
        await send(rest, "alice", "bob", "100% sure")
        await send(rest, "carol", "bob", "MsgContent is a word here", random=2)
        body = {"GroupId": "team", "From_Account": "bob", "Random": 1, "MsgBody": text_body("to the team")}
        await rest.call("group_open_http_svc/send_group_msg", body)

        async def found(field: str, q: str) -> list[str]:
            url = dev_server.inspector_url + "api/search"
            _, text = await get(session, url, params={"field": field, "q": q})
            return [json.loads(m["body"])[0]["MsgContent"]["Text"] for m in json.loads(text)["messages"]]

        assert await found("text", "MsgType") == []  # a key of every body, not a word of any
        assert await found("text", "%") == ["100% sure"]  # LIKE's wildcard taken literally
        assert await found("text", "MsgContent") == ["MsgContent is a word here"]
        assert sorted(await found("user", "carol")) == ["MsgContent is a word here"]
        assert await found("group", "Team") == ["to the team"]


async def test_the_stream_carries_each_call_as_it_happens(dev_server: DevServer) -> None:
    async with aiohttp.ClientSession() as session:
        rest = Rest(dev_server, session)
        async with session.get(dev_server.inspector_url + "api/events") as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert await stream.content.readline() == b": connected\n"
            await send(rest, "alice", "bob", "live")
            event = b""
            while not event.startswith(b"data: "):
                event = await asyncio.wait_for(stream.content.readline(), 10)
    entries = json.loads(event[len(b"data: ") :])
    assert [e["kind"] for e in entries] == ["rest", "message"]
    assert entries[0]["endpoint"] == "openim/sendmsg" and rest.usersig.encode() not in event


async def test_a_page_of_another_domain_is_refused(dev_server: DevServer) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    async with aiohttp.ClientSession() as session:
        status, text = await get(session, dev_server.inspector_url, headers={"Host": "evil.example:80"})
        local = await get(session, dev_server.inspector_url, headers={"Host": f"localhost:{dev_server.port}"})
    assert status == 403 and "loopback" in text
    assert local[0] == 200 and "<title>aio_tim dev server inspector</title>" in local[1]


async def test_a_change_must_be_a_json_post(dev_server: DevServer) -> None:
    """A form on another site can POST only form encodings; JSON needs a preflight, never granted."""
    url = dev_server.inspector_url + "api/webhooks/1/redeliver"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data={"x": "1"}) as form:
            form_text = await form.text()
        async with session.post(url, json={}) as own:
            pass
    assert form.status == 415 and "application/json" in form_text
    assert own.status == 404  # allowed through; there is no delivery #1


async def test_bound_elsewhere_it_needs_the_admins_credentials() -> None:
    async with DevServer(host="0.0.0.0") as server, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{server.port}/_dev/inspector/api/lists"

        def basic(user: str, usersig: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{usersig}".encode()).decode()}

        admin_sig = mint_usersig(server.sdk_app_id, server.secret_key, server.admin)
        bob_sig = mint_usersig(server.sdk_app_id, server.secret_key, "bob")
        async with session.get(url) as anonymous:
            challenge = anonymous.headers.get("WWW-Authenticate", "")
        tries = (basic(server.admin, "garbage"), basic("bob", bob_sig), basic(server.admin, admin_sig))
        statuses = [(await get(session, url, headers=headers))[0] for headers in tries]
    assert anonymous.status == 401 and challenge.startswith("Basic")
    assert statuses == [401, 401, 200]


async def test_bound_elsewhere_the_fault_panel_takes_the_same_credentials() -> None:
    """The page's fetches carry the browser's HTTP Basic credentials, never a UserSig in a URL."""
    async with DevServer(host="0.0.0.0") as server, aiohttp.ClientSession() as session:
        usersig = mint_usersig(server.sdk_app_id, server.secret_key, server.admin)
        token = base64.b64encode(f"{server.admin}:{usersig}".encode()).decode()
        url = f"http://127.0.0.1:{server.port}/_dev/faults"
        status, text = await get(session, url, headers={"Authorization": f"Basic {token}"})
        anonymous = await get(session, url)
    assert status == 200 and json.loads(text) == {"faults": []}
    assert anonymous[0] == 401


def test_serve_prints_where_the_inspector_is(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [*CLI, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True, env=user_env(tmp_path)
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(6)]
    finally:
        stop(server)
    printed = [line.split("inspector:", 1)[1].strip() for line in lines if "inspector:" in line]
    assert len(printed) == 1 and printed[0].startswith("http://127.0.0.1:")
    assert printed[0].endswith("/_dev/inspector/")


@pytest.mark.parametrize("path", ["/_dev/inspector", "/_dev/inspector/static/inspector.js"])
async def test_the_page_and_its_script_are_served(dev_server: DevServer, path: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(dev_server.url + path) as response:
        body = await response.text()
        csp = response.headers.get("Content-Security-Policy", "")
    assert response.status == 200 and "script-src 'self'" in csp
    assert ("<script" in body) if path.endswith("inspector") else ("EventSource" in body)


async def test_a_delivery_is_journaled_without_the_urls_secrets(dev_server: DevServer) -> None:
    """The webhook URL's user:password@ and query (where a Sign or a key may sit) stay off the page."""
    async with receiver() as (hook, hook_url), aiohttp.ClientSession() as session:
        secret_url = hook_url.replace("http://", "http://me:pa55word@") + "?key=k3y"
        dev_server.set_webhook(secret_url, token="s3cret", commands=["C2C.CallbackAfterSendMsg"])
        await send(Rest(dev_server, session), "alice", "bob", "hooked")
        await dev_server.webhooks_idle()
        (entry,) = dev_server.journal.recent("webhook")
        _, full = await get(session, f"{dev_server.inspector_url}api/webhooks/{entry['id']}")
    assert hook.calls and entry["url"] == hook_url and entry["status"] == 200
    for secret in ("pa55word", "k3y", "Sign", hook.calls[0][0]["Sign"]):
        assert secret not in full
    assert json.loads(full)["body"]["MsgBody"][0]["MsgContent"]["Text"] == "hooked"


async def test_a_page_of_messages_carries_receipts_and_extensions(dev_server: DevServer) -> None:
    async with aiohttp.ClientSession() as session:
        rest = Rest(dev_server, session)
        body = {"From_Account": "alice", "To_Account": "bob", "MsgRandom": 5, "MsgBody": text_body("ack me"),
                "IsNeedReadReceipt": 1, "SupportMessageExtension": 1}  # fmt: skip
        sent = await rest.call("openim/sendmsg", body)
        key = sent["MsgKey"]
        receipt = {"Operator_Account": "bob", "Peer_Account": "alice",
                   "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}]}  # fmt: skip
        assert (await rest.call("openim/c2c_msg_read_receipt", receipt))["ErrorCode"] == 0
        ext = {"From_Account": "alice", "To_Account": "bob", "MsgKey": key, "OperateType": 1,
               "ExtensionList": [{"Key": "likes", "Value": "3"}]}  # fmt: skip
        assert (await rest.call("openim_msg_ext_http_svc/set_key_values", ext))["ErrorCode"] == 0
        _, text = await get(session, dev_server.inspector_url + 'api/messages?conv=["c2c","bob","alice"]')
    (message,) = json.loads(text)["messages"]
    assert message["receipts"] == ["bob"] and message["extensions"] == {"likes": "3"}
    actions = [e["action"] for e in dev_server.journal.recent("message")]
    assert actions == ["extended", "read", "sent"]
    assert dev_server.journal.recent("message")[1]["conversations"] == [["c2c", "alice", "bob"]]
