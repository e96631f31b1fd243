"""Issue 11: the client against a hostile server: huge replies, redirects, hostile reply types,
echoed secrets. Each attack runs over loopback with its counts printed."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest
from aiohttp import web
from hostile import HostileServer, envelope

from aio_tim import Client, ConvType, FileElem, Message, MsgStatus, TextElem, TIMError, TransportError
from aio_tim.errors import ERR_BAD_REPLY
from aio_tim.pipeline import RetryPolicy
from aio_tim.transfer import DownloadOptions
from aio_tim.transfer.headers import parse_content_range

KEY = "hostile-test-secret-key-8d1f0c5e"
TEXT = Message(elem_array=[TextElem(content="hi")])
ONCE = RetryPolicy(max_attempts=1)


def client(url: str, store: Path | str = ":memory:", **options: object) -> Client:
    return Client(
        sdk_app_id=1400000000, user_id="alice", secret_key=KEY, admin="administrator",
        base_url=url, store_path=store, retry=ONCE, limits=None, **options,
    )  # fmt: skip


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_huge_rest_reply_is_refused_not_taken(tmp_path: Path) -> None:
    """A 300 MB JSON reply (declared, then chunked without a length) is a bad reply (9519), read
    no further than the cap; the send is not taken as a success."""
    chunk = b" " * (1024 * 1024)

    async def huge(request: web.Request) -> web.StreamResponse:
        chunked = request.query.get("random", "0")[-1] in "02468"  # alternate the two shapes
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if not chunked:
            response.content_length = 300 * len(chunk) + 2
        await response.prepare(request)
        await response.write(b"{")
        for _ in range(300):
            await response.write(chunk)
        await response.write(b"}")
        return response

    before = peak_rss_mib()
    errors = []
    async with HostileServer() as hostile:
        hostile.handler = huge
        async with client(hostile.url, max_reply_size=4 * 1024 * 1024) as tim:
            for _ in range(4):
                with pytest.raises(TransportError) as caught:
                    await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
                errors.append(caught.value)
            stored = await tim.store.page((1, "bob"), anchor=None, count=10, forward=False)
    grown = peak_rss_mib() - before
    print(f"\nhuge replies: {len(errors)} sends -> codes {[e.code for e in errors]}; "
          f"stored as {[m.status for m in stored]}; peak RSS grew {grown:.0f} MiB")  # fmt: skip
    assert all(e.code == ERR_BAD_REPLY and "limit" in e.desc for e in errors)
    assert all(m.status == MsgStatus.SEND_FAIL for m in stored)
    assert grown < 200  # the 300 MB were never held


async def test_rest_calls_never_follow_a_redirect() -> None:
    """A 307 to another host is not followed: the signed POST reaches one server only."""
    async with HostileServer() as elsewhere, HostileServer() as hostile:

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPTemporaryRedirect(f"{elsewhere.url}{request.path_qs}")

        hostile.handler = redirect
        elsewhere.handler = lambda request: _json(envelope(MsgTime=1, MsgKey="1_2_3"))
        async with client(hostile.url) as tim:
            with pytest.raises(TIMError) as caught:
                await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
    asked, other = len(hostile.requests), len(elsewhere.requests)
    print(f"\nREST redirect: asked {asked} time(s), the other host {other}; error {caught.value}")
    assert len(elsewhere.requests) == 0 and len(hostile.requests) == 1
    assert "307" in caught.value.desc


async def _json(body: dict[str, object]) -> web.StreamResponse:
    return web.json_response(body)


@pytest.mark.parametrize("msg_time", [-5, 2**70, 2**63, 0])
async def test_an_accepted_send_is_recorded_whatever_the_reply_time(tmp_path: Path, msg_time: int) -> None:
    """A reply with a hostile MsgTime (negative, past 64 bits): the send succeeds and the message
    is in the local store, with the client time in place of the unusable server time."""
    async with HostileServer() as hostile:
        hostile.handler = lambda request: _json(envelope(MsgTime=msg_time, MsgKey=f"1_2_{msg_time}"))
        async with client(hostile.url, tmp_path / "a.db") as tim:
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
            stored = await tim.store.page((1, "bob"), anchor=None, count=10, forward=False)
    print(f"\nMsgTime {msg_time}: sent with server_time={sent.server_time}; stored {len(stored)}")
    assert sent.status == MsgStatus.SEND_SUCC and 0 < (sent.server_time or 0) < 2**32
    assert [m.rand for m in stored] == [sent.rand]


@pytest.mark.parametrize(
    "reply",
    [b'{"ActionStatus":"OK","ErrorCode":0,"MsgTime":"x"}', b'{"ActionStatus":"OK","ErrorCode":"0"}',
     b"[1,2]", b'{"ActionStatus":"OK","ErrorCode":0,"MsgTime":1.5}', b"\xff\xfe", b"{" * 100_000],
    ids=["time-str", "code-str", "array", "time-float", "bytes", "deep"],
)  # fmt: skip
async def test_every_reply_decode_failure_is_a_bad_reply(reply: bytes) -> None:
    """Replies of the wrong types are a TIMError (9519 bad reply), never a raw decode error."""
    async with HostileServer() as hostile:
        hostile.handler = lambda request: asyncio.sleep(
            0, web.Response(body=reply, content_type="application/json")
        )
        async with client(hostile.url) as tim:
            with pytest.raises(TIMError) as caught:
                await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
    assert caught.value.code == ERR_BAD_REPLY


async def test_downloads_are_capped_and_stay_on_their_origin(tmp_path: Path) -> None:
    """A chunked body with no length past the cap is refused (no file kept); a cross-origin
    redirect is not followed unless asked; a same-origin one is."""
    async with HostileServer() as other, HostileServer() as hostile:

        async def serve(request: web.Request) -> web.StreamResponse:
            if request.path == "/endless":
                response = web.StreamResponse()
                await response.prepare(request)
                for _ in range(64):
                    await response.write(b"x" * 65536)
                return response
            if request.path == "/away":
                raise web.HTTPFound(f"{other.url}/file")
            if request.path == "/here":
                raise web.HTTPFound("/file")
            return web.Response(body=b"data")

        hostile.handler = other.handler = serve
        async with client(hostile.url) as tim:
            assert tim.transfers is not None
            tim.transfers.options = DownloadOptions(max_size=1024 * 1024)
            results = {}
            for name in ("endless", "away", "here"):
                try:
                    param = {"msg_download_elem_param_url": f"{hostile.url}/{name}"}
                    results[name] = await tim.msg.download_elem_to_path(param, tmp_path / name)
                except TIMError as error:
                    results[name] = error
            tim.transfers.options = DownloadOptions(cross_origin_redirects=True)
            param = {"msg_download_elem_param_url": f"{hostile.url}/away"}
            asked = await tim.msg.download_elem_to_path(param, tmp_path / "asked")
    outcomes = {k: str(v)[:70] for k, v in results.items()}
    print(f"\ndownloads: {outcomes}; the other host was asked {len(other.requests)}x")
    assert isinstance(results["endless"], TIMError) and "limit" in str(results["endless"])
    assert not (tmp_path / "endless").exists()
    assert isinstance(results["away"], TIMError) and "another origin" in str(results["away"])
    assert (tmp_path / "here").read_bytes() == b"data"
    assert asked.total_size == 4 and len(other.requests) == 1


@pytest.mark.parametrize("digits", [19, 4301, 8000])
def test_a_content_range_too_long_for_int_is_malformed(digits: int) -> None:
    """A server's Content-Range with numbers of 19 to 8,000 digits is malformed (None), not a ValueError."""
    huge = "9" * digits
    assert parse_content_range(f"bytes 0-{huge}/{huge}") is None
    assert parse_content_range(f"bytes {huge}-1/*") is None
    assert parse_content_range("bytes 0-9/10") is not None


@pytest.mark.parametrize(
    "reply", [b" " * (3 * 1024 * 1024), b"[" * 100_000, b'{"ActionStatus": "OK", "FileId": "\xff"}'],
    ids=["3 MiB", "deep", "bad utf-8"],
)  # fmt: skip
async def test_a_hostile_upload_reply_is_a_timerror(tmp_path: Path, reply: bytes) -> None:
    """An upload answered with a huge, deeply nested or undecodable reply fails with a TIMError."""
    attachment = tmp_path / "a.txt"
    attachment.write_text("attachment")
    msg = Message(elem_array=[FileElem(file_path=str(attachment))])

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=reply, content_type="application/json")

    async with HostileServer() as hostile:
        hostile.handler = answer
        async with client(hostile.url) as tim:
            with pytest.raises(TIMError) as caught:
                await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
    print(f"\nhostile upload reply ({len(reply)} bytes): {caught.value}")
    assert "upload of a.txt" in caught.value.desc
