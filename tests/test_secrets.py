"""Issue 6, part 4: no secret key and no UserSig in any log record or exception of a run.

One run exercises the paths where credentials are most likely to leak: a good client, auth
failures with a wrong key, throttling (the server's rate limits and the 70050 lockout), a client
pointed at a closed port, and a server shut down while a request is in flight. Every log record
(root logger at DEBUG, so aiohttp.*, aiosqlite and aio_tim.* alike), every exception's text,
repr and traceback (following __cause__ and __context__, even when suppressed) and everything
asyncio's exception handler reports are searched for the secret keys and every UserSig minted.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from hostile import HostileServer

from aio_tim import Client, ConvType, FileElem, Message, TIMError
from aio_tim.auth import decode_usersig, mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.devserver.state import State
from aio_tim.pipeline import RetryPolicy
from aio_tim.testing import client_for

KEY = "s3cret-key-0f-the-no-secrets-test-5bd2850fff3ecb11"
WRONG_KEY = "wr0ng-key-0f-the-no-secrets-test-d7c805251c51ee46"
TEXT = {"message_elem_array": [{"elem_type": 0, "text_elem_content": "hello"}]}
# Fail fast: the run should take seconds, not the default minute of retrying.
FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, throttled_base_delay=0.01, deadline=0.5)
LOGGERS = ("", "aiohttp", "aiohttp.access", "aiohttp.server", "aiohttp.client", "aiohttp.web",
           "aiosqlite", "asyncio", "aio_tim")  # fmt: skip


class Evidence:
    """Everything a run showed to logs or raised, and every credential it used."""

    def __init__(self) -> None:
        self.secrets: set[str] = {KEY, WRONG_KEY}
        self.texts: list[str] = []

    def usersig(self, usersig: str) -> str:
        """Remember a UserSig, its URL-quoted spellings and its HMAC, all as secrets."""
        self.secrets |= {usersig, quote(usersig), quote(usersig, safe="*-_")}
        self.secrets.add(decode_usersig(usersig).sig)
        return usersig

    def exception(self, exc: BaseException) -> None:
        """Every exception in the chain, through __cause__ and __context__ both (even suppressed)."""
        seen: set[int] = set()
        pending: list[BaseException | None] = [exc]
        while pending:
            current = pending.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            self.texts += [str(current), repr(current), *traceback.format_exception(current)]
            self.texts += [repr(arg) for arg in current.args]
            self.texts += [repr(value) for value in vars(current).values()]
            pending += [current.__cause__, current.__context__]

    async def expect_error(self, call: Awaitable[Any]) -> TIMError:
        try:
            await call
        except TIMError as exc:
            self.exception(exc)
            return exc
        raise AssertionError("the call should have failed")

    def leaks(self) -> list[tuple[str, str]]:
        return [(secret[:12], text[:300]) for text in self.texts for secret in self.secrets if secret in text]


@contextlib.contextmanager
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield


@contextlib.asynccontextmanager
async def asyncio_reports(evidence: Evidence) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def collect(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        evidence.texts.append(repr(context))
        if isinstance(context.get("exception"), BaseException):
            evidence.exception(context["exception"])

    loop.set_exception_handler(collect)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


def tight_limits() -> dict[str, Any]:
    """Rate limits of one call per second, if this DevServer enforces limits at all."""
    if "limits" in inspect.signature(DevServer).parameters:
        return {"limits": {"*": 1}}
    return {}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(server: DevServer, **options: Any) -> Client:
    return client_for(server, "alice", retry=FAST, **options)


# --- the run -----------------------------------------------------------------------------------


async def good_and_throttled_calls(server: DevServer, evidence: Evidence) -> None:
    async with client(server) as tim:
        await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
        evidence.usersig(tim._connection._signer.current())
        if tight_limits():
            # Past one call per second the server answers 60007; FAST gives up quickly.
            results = await asyncio.gather(
                *(tim.msg.send_new_msg("bob", ConvType.C2C, TEXT) for _ in range(5)), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            assert errors, "tight limits should have refused some sends"
            for error in errors:
                evidence.exception(error)


async def wrong_key_calls(server: DevServer, evidence: Evidence) -> set[int]:
    """A client with the wrong key: 70009 until the identifier is locked out with 70050."""
    codes: set[int] = set()
    wrong = Client(sdk_app_id=server.sdk_app_id, user_id="alice", secret_key=WRONG_KEY, base_url=server.url,
                   admin=server.admin, store_path=":memory:", retry=FAST)  # fmt: skip
    async with wrong:
        evidence.usersig(wrong._connection._signer.current())
        for _ in range(12):
            codes.add((await evidence.expect_error(wrong.msg.send_new_msg("bob", ConvType.C2C, TEXT))).code)
    return codes


async def minted_usersig_calls(server: DevServer, evidence: Evidence) -> None:
    """A client given a ready UserSig (wrong key), and raw calls with malformed ones."""
    minted = evidence.usersig(mint_usersig(server.sdk_app_id, WRONG_KEY, "alice"))
    given = Client(sdk_app_id=server.sdk_app_id, user_id="alice", admin="alice", admin_user_sig=minted,
                   base_url=server.url, store_path=":memory:", retry=FAST)  # fmt: skip
    async with given:
        await evidence.expect_error(given.msg.send_new_msg("bob", ConvType.C2C, TEXT))
    good = evidence.usersig(mint_usersig(server.sdk_app_id, KEY, server.admin))
    async with aiohttp.ClientSession() as http:
        for usersig in (good[:-5], good + "x", good.upper(), minted):
            query = {"sdkappid": str(server.sdk_app_id), "identifier": "mallory", "usersig": usersig,
                     "random": "1", "contenttype": "json"}  # fmt: skip
            async with http.post(f"{server.url}/v4/openim/sendmsg", params=query, json={}) as resp:
                evidence.texts.append(await resp.text())


async def transport_failures(server: DevServer, evidence: Evidence) -> None:
    """A closed port, then a server shut down while a request is in flight."""
    nowhere = Client(sdk_app_id=server.sdk_app_id, user_id="alice", secret_key=KEY, admin=server.admin,
                     base_url=f"http://127.0.0.1:{closed_port()}", store_path=":memory:",
                     retry=FAST)  # fmt: skip
    async with nowhere:
        evidence.usersig(nowhere._connection._signer.current())
        await evidence.expect_error(nowhere.msg.send_new_msg("bob", ConvType.C2C, TEXT))


async def shutdown_mid_request(evidence: Evidence, monkeypatch: pytest.MonkeyPatch) -> None:
    entered = asyncio.Event()

    async def stuck(self: State, msg: Any, since: int) -> int:
        entered.set()
        await asyncio.Event().wait()  # until the shutdown cancels the handler
        raise AssertionError("unreachable")

    server = DevServer(secret_key=KEY)
    await server.start()
    try:
        async with client(server) as tim:
            evidence.usersig(tim._connection._signer.current())
            monkeypatch.setattr(State, "send_c2c_once", stuck)  # sendmsg's store call
            sending = asyncio.ensure_future(tim.msg.send_new_msg("bob", ConvType.C2C, TEXT))
            await asyncio.wait_for(entered.wait(), 10)
            await server.aclose()
            await evidence.expect_error(sending)
    finally:
        await server.aclose()


async def echoing_server_calls(evidence: Evidence, tmp_path: Path) -> int:
    """A server (or proxy) that echoes the signed URL into every answer: ErrorInfo of a REST
    call, an upload's reply, a 400 with the URL; then uploads and downloads whose connection is
    cut. Returns how many errors were examined."""
    token = "download-token-5ecret-9b1e"
    evidence.secrets.add(token)

    async def echo(request: web.Request) -> web.StreamResponse:
        url = str(request.url)
        if request.path.startswith("/v4/"):
            return web.json_response({"ActionStatus": "FAIL", "ErrorCode": 70500, "ErrorInfo": f"at {url}"})
        if request.path == "/files" and request.query.get("random", "0")[-1] in "02468":
            return web.json_response({"ActionStatus": "FAIL", "ErrorCode": 6009, "ErrorInfo": url})
        if request.path == "/files" and request.query.get("random", "0")[-1] in "13":
            raise web.HTTPTemporaryRedirect(url)  # not followed: the signed POST is not re-sent
        assert request.transport is not None
        # A garbled status line: aiohttp's ClientResponseError names the (signed) URL.
        request.transport.write(b"HTTP/1.1 abc\r\n\r\n")
        request.transport.close()
        return web.Response()

    count = 0
    attachment = tmp_path / "a.txt"
    attachment.write_text("attachment")
    upload = Message(elem_array=[FileElem(file_path=str(attachment))])
    async with HostileServer() as hostile:
        hostile.handler = echo
        tim = Client(sdk_app_id=1400000000, user_id="alice", secret_key=KEY, base_url=hostile.url,
                     store_path=":memory:", retry=FAST)  # fmt: skip
        async with tim:
            evidence.usersig(tim._connection._signer.current())
            for _ in range(2):
                await evidence.expect_error(tim.msg.send_new_msg("bob", ConvType.C2C, TEXT))
            for _ in range(4):
                await evidence.expect_error(tim.msg.send_new_msg("bob", ConvType.C2C, upload))
            for name in ("x.bin", "y.bin"):
                param = {"msg_download_elem_param_url": f"{hostile.url}/{name}?sign={token}&usersig={token}"}
                await evidence.expect_error(tim.msg.download_elem_to_path(param, tmp_path / name))
            count = 8
    return count


async def test_no_secret_in_any_log_record_or_exception(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Secret keys, UserSigs (raw, URL-quoted) and their HMACs appear in no log and no exception."""
    evidence = Evidence()
    with everything_logged(caplog):
        async with asyncio_reports(evidence):
            async with DevServer(secret_key=KEY, **tight_limits()) as server:
                await good_and_throttled_calls(server, evidence)
                codes = await wrong_key_calls(server, evidence)
                await minted_usersig_calls(server, evidence)
                await transport_failures(server, evidence)
            await shutdown_mid_request(evidence, monkeypatch)
            echoed = await echoing_server_calls(evidence, tmp_path)
            await asyncio.sleep(0.05)  # aiohttp logs access lines after the reply is written
    assert codes == {70009, 70050}
    print(f"\nsecrets: {len(evidence.secrets)} secrets searched in {len(evidence.texts)} texts "
          f"({echoed} errors from an echoing server); leaks: {len(evidence.leaks())}")  # fmt: skip
    records = caplog.records
    assert {"aiohttp.access", "aiosqlite"} <= {r.name for r in records}
    for record in records:
        evidence.texts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
        if record.exc_info and record.exc_info[1] is not None:
            evidence.exception(record.exc_info[1])
    evidence.texts.append(caplog.text)
    assert len(evidence.secrets) > 10 and len(evidence.texts) > 100
    assert evidence.leaks() == []
