"""The dev server's file service over loopback: uploads, ranges, validators, storage, hooks."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from pathlib import Path

import aiohttp
import pytest
from disk_support import tiny_tmpfs
from multidict import CIMultiDict
from test_transfer_support import conn_fixture, data_of  # noqa: F401  (fixtures)
from yarl import URL

from aio_tim.auth import UserSigCache
from aio_tim.connection import ConnectionManager
from aio_tim.devserver import DevServer
from aio_tim.devserver.files import CutAt, StallAt, byte_range

DATA = data_of(100_000)


async def upload(
    conn: ConnectionManager, body: bytes, *, name: str = "a.bin"
) -> tuple[int, dict[str, object]]:
    """POST a raw upload; (HTTP status, JSON reply)."""
    headers = {"Content-Type": "application/octet-stream", "X-File-Name": name, "X-File-Kind": "file"}
    # BytesIO: aiohttp warns about large bytes bodies (they are sent in one piece).
    async with conn.session.post(
        conn.signed_url("files"), data=io.BytesIO(body), headers=headers
    ) as response:
        return response.status, await response.json()


async def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
    """A plain GET: (status, headers, body)."""
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
        return response.status, response.headers.copy(), await response.read()


# --- uploads -------------------------------------------------------------------------------------


async def test_upload_returns_id_url_size_and_digest(dev_server: DevServer, conn: ConnectionManager) -> None:
    """A raw upload answers a server-made id, its URL, the size and the sha-256 of the bytes."""
    status, reply = await upload(conn, DATA)
    assert status == 200
    assert reply["ActionStatus"] == "OK" and reply["ErrorCode"] == 0
    assert re.fullmatch(r"[0-9a-f]{32}", str(reply["FileId"]))
    assert reply["Url"] == f"{dev_server.url}/files/{reply['FileId']}"
    assert reply["Size"] == len(DATA)
    assert reply["Sha256"] == hashlib.sha256(DATA).hexdigest()
    assert (await fetch(str(reply["Url"])))[2] == DATA


async def test_multipart_upload_stores_the_file_part(conn: ConnectionManager) -> None:
    """A multipart/form-data upload stores its file part and names it after the part's filename."""
    form = aiohttp.FormData()
    form.add_field("note", "ignored")
    form.add_field("file", DATA, filename="report.pdf", content_type="application/pdf")
    # A session of its own: the client's session defaults to Content-Type: application/json.
    async with (
        aiohttp.ClientSession() as session,
        session.post(conn.signed_url("files"), data=form) as response,
    ):
        reply = await response.json()
    status, headers, body = await fetch(reply["Url"])
    assert (status, body) == (200, DATA)
    assert "report.pdf" in headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("drop", "code"),
    [("usersig", 70002), ("identifier", 60004), ("sdkappid", 60012)],
)
async def test_upload_needs_the_admin_signature(conn: ConnectionManager, drop: str, code: int) -> None:
    """An upload without the admin's signed query is refused with TIM's code and stores nothing."""
    url = conn.signed_url("files")
    url = url.with_query({k: v for k, v in url.query.items() if k != drop})
    async with conn.session.post(url, data=DATA) as response:
        assert response.status == 403
        assert (await response.json())["ErrorCode"] == code


async def test_upload_signed_by_another_key_is_refused(
    dev_server: DevServer, conn: ConnectionManager
) -> None:
    """A UserSig made with another secret key fails verification (70009) and stores nothing."""
    url = conn.signed_url("files")
    query = dict(url.query) | {"usersig": "eJyrVspMSc0rycxLVbJSMjAwUNIBy5QWpSoZGRgaGOgD"}
    async with conn.session.post(url.with_query(query), data=DATA) as response:
        assert response.status == 403
        assert (await response.json())["ErrorCode"] in (70003, 70009)
    assert dev_server.files.statistics().uploads == 0


@pytest.mark.parametrize(("body", "status", "code"), [(b"", 400, 7006), (DATA, 413, 7005)])
async def test_upload_limits(
    dev_server: DevServer, conn: ConnectionManager, body: bytes, status: int, code: int
) -> None:
    """Empty uploads are 7006; uploads over the server's limit are 413 with 7005, before reading."""
    dev_server.files.max_upload_size = len(DATA) - 1
    got_status, reply = await upload(conn, body)
    assert (got_status, reply["ErrorCode"]) == (status, code)
    assert dev_server.files.statistics().uploads == 0
    assert [p.name for p in dev_server.files.root.iterdir()] == []


# --- downloads -----------------------------------------------------------------------------------


async def test_get_serves_the_file_with_strong_etag_and_digest(dev_server: DevServer) -> None:
    """A GET answers 200 with the bytes, a strong ETag, Accept-Ranges and Repr-Digest: sha-256."""
    stored = await dev_server.files.put(DATA)
    status, headers, body = await fetch(stored.url)
    assert (status, body) == (200, DATA)
    assert re.fullmatch(r'"[^"]+"', headers["ETag"])
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(len(DATA))
    digest = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
    assert headers["Repr-Digest"] == f"sha-256=:{digest}:"


async def test_head_sends_the_headers_only(dev_server: DevServer) -> None:
    """HEAD answers the GET's headers without a body."""
    stored = await dev_server.files.put(DATA)
    async with aiohttp.ClientSession() as session, session.head(stored.url) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(DATA))
        assert await response.read() == b""


SIZE = len(DATA)


@pytest.mark.parametrize(
    ("header", "status", "part", "content_range"),
    [
        ("bytes=0-9", 206, slice(0, 10), f"bytes 0-9/{SIZE}"),
        ("bytes=10-", 206, slice(10, None), f"bytes 10-{SIZE - 1}/{SIZE}"),
        ("bytes=-5", 206, slice(SIZE - 5, None), f"bytes {SIZE - 5}-{SIZE - 1}/{SIZE}"),
        (f"bytes=99990-{SIZE * 2}", 206, slice(99990, None), f"bytes 99990-{SIZE - 1}/{SIZE}"),
        ("bytes=5-2", 200, slice(None), None),
        ("bytes=0-0,5-6", 200, slice(None), None),
        ("items=0-9", 200, slice(None), None),
        (f"bytes={SIZE}-", 416, slice(0), f"bytes */{SIZE}"),
        ("bytes=-0", 416, slice(0), f"bytes */{SIZE}"),
    ],
)
async def test_range_requests(
    dev_server: DevServer, header: str, status: int, part: slice, content_range: str | None
) -> None:
    """One satisfiable range is a 206 with Content-Range; bad or multiple ranges get the whole
    file; a range past the end is 416 naming the size."""
    stored = await dev_server.files.put(DATA)
    got_status, headers, body = await fetch(stored.url, {"Range": header})
    assert got_status == status
    assert body == DATA[part]
    assert headers.get("Content-Range") == content_range


@pytest.mark.parametrize(
    ("validator", "status"),
    [
        ("current", 206),
        ('"another-version"', 200),
        ("weak", 200),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 200),
    ],
)
async def test_if_range_needs_the_current_strong_etag(
    dev_server: DevServer, validator: str, status: int
) -> None:
    """If-Range with the current strong ETag keeps the range; any other validator gets the whole file."""
    stored = await dev_server.files.put(DATA)
    etag = (await fetch(stored.url))[1]["ETag"]
    value = {"current": etag, "weak": f"W/{etag}"}.get(validator, validator)
    got_status, _, body = await fetch(stored.url, {"Range": "bytes=100-", "If-Range": value})
    assert got_status == status
    assert body == (DATA[100:] if status == 206 else DATA)


@pytest.mark.parametrize(
    "path",
    [
        "/files/" + "0" * 32,
        "/files/ABCDEF0123456789ABCDEF0123456789",
        "/files/..%2f..%2fetc%2fpasswd",
        "/files/%2e%2e",
        "/files/.upload-0000",
        "/files/" + "0" * 31 + "%00",
    ],
)
async def test_unknown_or_malformed_ids_are_404(dev_server: DevServer, path: str) -> None:
    """Only a server-made id with a database row names a file; anything else is 404."""
    await dev_server.files.put(DATA)
    status, _, _ = await fetch(str(URL(dev_server.url + path, encoded=True)))
    assert status == 404


async def test_a_symlink_in_storage_is_not_followed(dev_server: DevServer, tmp_path: Path) -> None:
    """A stored file replaced by a symlink is not served (O_NOFOLLOW), whatever it points to."""
    stored = await dev_server.files.put(DATA)
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside the storage root")
    (dev_server.files.root / stored.id).unlink()
    (dev_server.files.root / stored.id).symlink_to(secret)
    assert (await fetch(stored.url))[0] == 404


# --- storage ---------------------------------------------------------------------------------------


async def test_files_survive_a_restart_with_a_file_db(tmp_path: Path) -> None:
    """A file-backed server keeps files in a folder beside its db, and serves them after a restart."""
    db = tmp_path / "tim.sqlite"
    async with DevServer(db_path=db) as first:
        stored = await first.files.put(DATA, name="keep.bin")
        assert first.files.root == tmp_path / "tim.sqlite.files"
    async with DevServer(db_path=db) as second:
        status, _, body = await fetch(f"{second.url}/files/{stored.id}")
    assert (status, body) == (200, DATA)


async def test_a_memory_server_removes_its_folder_on_close() -> None:
    """A :memory: server keeps files in a temporary folder that is gone once it closes."""
    async with DevServer() as server:
        await server.files.put(DATA)
        root = server.files.root
        assert root.is_dir()
    assert not root.exists()


async def test_a_full_server_disk_is_a_500_with_an_envelope(tmp_path: Path) -> None:
    """When the file store runs out of space the upload gets 500 and TIM's internal-error code."""
    with tiny_tmpfs(tmp_path / "small", "1m") as small:
        async with DevServer(db_path=small / "tim.sqlite") as server:
            signer = UserSigCache(server.sdk_app_id, server.secret_key, server.admin)
            async with ConnectionManager(server.url, server.sdk_app_id, signer) as manager:
                status, reply = await upload(manager, data_of(2 * 1024 * 1024))
            assert (status, reply["ErrorCode"]) == (500, 70500)
            assert server.files.statistics().uploads == 0
            assert os.listdir(server.files.root) == []


# --- test hooks ----------------------------------------------------------------------------------


async def test_replace_content_changes_etag_and_digest(dev_server: DevServer) -> None:
    """replace_content gives the file new bytes, a new ETag and a new Repr-Digest."""
    stored = await dev_server.files.put(DATA)
    before = (await fetch(stored.url))[1]
    await dev_server.files.replace_content(stored.id, b"new content")
    _, after, body = await fetch(stored.url)
    assert body == b"new content"
    assert after["ETag"] != before["ETag"]
    assert after["Repr-Digest"] != before["Repr-Digest"]


async def test_corrupt_content_keeps_the_old_validators(dev_server: DevServer) -> None:
    """corrupt_content changes the bytes but not the ETag or digest (what a verifier must catch)."""
    stored = await dev_server.files.put(DATA)
    before = (await fetch(stored.url))[1]
    await dev_server.files.corrupt_content(stored.id, bytes(len(DATA)))
    _, after, body = await fetch(stored.url)
    assert body == bytes(len(DATA))
    assert (after["ETag"], after["Repr-Digest"]) == (before["ETag"], before["Repr-Digest"])


async def test_ignore_range_answers_the_whole_file(dev_server: DevServer) -> None:
    """With ignore_range the server answers every GET with 200 and all the bytes."""
    stored = await dev_server.files.put(DATA)
    dev_server.files.ignore_range = True
    status, _, body = await fetch(stored.url, {"Range": "bytes=10-"})
    assert (status, body) == (200, DATA)


async def test_cut_at_sends_exactly_the_bytes_before_the_offset(dev_server: DevServer) -> None:
    """CutAt(n) closes the connection after byte n of the file; the client sees a short body."""
    stored = await dev_server.files.put(DATA)
    dev_server.files.fail_next(CutAt(30_000))
    received = bytearray()
    async with aiohttp.ClientSession() as session, session.get(stored.url) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in response.content.iter_any():
                received += chunk
    assert bytes(received) == DATA[:30_000]
    assert dev_server.files.statistics().bytes_sent == 30_000


async def test_stall_at_pauses_the_body(dev_server: DevServer) -> None:
    """StallAt(n) stops sending at byte n; a reader with a read timeout gives up there."""
    stored = await dev_server.files.put(DATA)
    dev_server.files.fail_next(StallAt(40_000, seconds=5))
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(stored.url) as response:
        with pytest.raises(TimeoutError):
            await response.read()
    assert dev_server.files.statistics().bytes_sent == 40_000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 1)),
        ("bytes=3-", (3, 10)),
        ("bytes=-3", (7, 10)),
        ("bytes=-30", (0, 10)),
        ("bytes=8-20", (8, 10)),
        ("bytes=10-", None),
        ("bytes=9-", (9, 10)),
        ("bytes=-", (0, 10)),
        ("bytes=abc", (0, 10)),
        (" BYTES=1-2 ", (1, 3)),
    ],
)
def test_byte_range_table(header: str, expected: tuple[int, int] | None) -> None:
    """byte_range follows RFC 9110: suffixes, open ends, clamping, ignoring what it cannot parse."""
    assert byte_range(header, 10, (0, 10)) == expected


async def test_storage_names_files_by_id_only(dev_server: DevServer, conn: ConnectionManager) -> None:
    """An uploaded file is stored under its id; the name it was sent with never reaches the disk."""
    status, reply = await upload(conn, DATA, name="..%2F..%2Fevil")
    assert status == 200
    assert os.listdir(dev_server.files.root) == [reply["FileId"]]
