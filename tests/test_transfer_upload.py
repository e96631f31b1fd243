"""Uploads of the local files elements name: limits first, progress, filled fields, round trips."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from test_transfer_support import (  # noqa: F401  (fixtures)
    conn_fixture,
    data_of,
    image_bytes,
    transfers_fixture,
)

from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError, UsageError
from aio_tim.transfer import (
    FileKind,
    ProgressCallback,
    TransferManager,
    UploadedFile,
    UploadProgress,
    download_param,
)
from aio_tim.types import (
    Elem,
    FileElem,
    ImageElem,
    Message,
    SoundElem,
    TextElem,
    VideoElem,
)

MB = 1024 * 1024


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def sparse_file(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no disk space (a 100 MB file costs nothing)."""
    with open(path, "wb") as file:
        file.truncate(size)


def element(kind: str, folder: Path) -> tuple[Elem, dict[str, bytes]]:
    """An element of `kind` naming fresh local files, and the bytes each URL field must serve."""
    if kind == "image":
        data = image_bytes("png", 640, 480, pad=300_000)
        return ImageElem(orig_path=write(folder / "p.png", data)), {"orig_url": data}
    if kind == "sound":
        data = data_of(200_000, seed=3)
        return SoundElem(file_path=write(folder / "s.amr", data), file_time=3), {"url": data}
    if kind == "file":
        data = data_of(2 * MB + 1, seed=4)
        return FileElem(file_path=write(folder / "doc.pdf", data)), {"url": data}
    video, thumb = data_of(MB, seed=5), image_bytes("jpeg", 320, 240)
    elem = VideoElem(video_path=write(folder / "v.mp4", video), image_path=write(folder / "t.jpg", thumb))
    return elem, {"video_url": video, "image_url": thumb}


@pytest.mark.parametrize("kind", ["image", "sound", "file", "video"])
async def test_upload_then_download_every_kind_byte_for_byte(
    transfers: TransferManager, tmp_path: Path, kind: str
) -> None:
    """Each attachment kind uploads, gets id/URL/size filled in, and downloads back identical."""
    elem, expected = element(kind, tmp_path)
    sent = await transfers.upload_attachments(Message(elem_array=[TextElem(content="see"), elem]))
    filled = sent.elem_array[1]
    assert sent.elem_array[0] == TextElem(content="see")
    for field, data in expected.items():
        url = getattr(filled, field)
        target = tmp_path / f"back-{field}"
        await transfers.download({"msg_download_elem_param_url": url}, target)
        assert target.read_bytes() == data, field


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("image", {"orig_pic_size": None, "orig_pic_width": 640, "orig_pic_height": 480, "format": 3}),
        ("sound", {"file_size": None, "file_time": 3, "download_flag": 2}),
        ("file", {"file_size": None, "file_name": "doc.pdf", "download_flag": 2}),
        ("video", {"video_size": None, "video_type": "mp4", "image_width": 320, "image_height": 240}),
    ],
)
async def test_upload_fills_the_elements_fields(
    transfers: TransferManager, tmp_path: Path, kind: str, fields: dict[str, object]
) -> None:
    """An upload fills id, URL and size, plus what the file's header tells (image format and size)."""
    elem, expected = element(kind, tmp_path)
    filled = (await transfers.upload_attachments(Message(elem_array=[elem]))).elem_array[0]
    size_field = next(name for name, value in fields.items() if value is None)
    assert getattr(filled, size_field) == len(next(iter(expected.values())))
    for name, value in fields.items():
        if value is not None:
            assert getattr(filled, name) == value, name
    param = download_param(filled)
    assert param.url is not None and param.id is not None


@pytest.mark.parametrize(
    ("kind", "size", "code"),
    [
        ("image", 28 * MB + 1, 7005),
        ("sound", 28 * MB + 1, 7005),
        ("file", 100 * MB + 1, 7005),
        ("video", 100 * MB + 1, 7005),
        ("file", 0, 7006),
        ("image", 0, 7006),
        ("file", None, 7004),
        ("sound", -1, 7004),
    ],
)
async def test_limits_are_checked_before_any_byte_moves(
    dev_server: DevServer, transfers: TransferManager, tmp_path: Path, kind: str, size: int | None, code: int
) -> None:
    """Too large (7005), empty (7006), missing or a folder (7004): a UsageError and no upload at all."""
    path = tmp_path / "f"
    if size == -1:
        path.mkdir()
    elif size is not None:
        sparse_file(path, size)
    ok = FileElem(file_path=write(tmp_path / "ok.txt", b"fine"))
    bad: Elem = {
        "image": ImageElem(orig_path=str(path)),
        "sound": SoundElem(file_path=str(path)),
        "file": FileElem(file_path=str(path)),
        "video": VideoElem(video_path=str(path)),
    }[kind]
    # The good file comes first: it must not be uploaded either.
    elems: list[Elem] = [ok, bad] if kind != "file" else [bad]
    with pytest.raises(UsageError) as caught:
        await transfers.upload_attachments(Message(elem_array=elems))
    assert caught.value.code == code
    assert dev_server.files.statistics().uploads == 0


async def test_an_invalid_message_uploads_nothing(
    dev_server: DevServer, transfers: TransferManager, tmp_path: Path
) -> None:
    """A message the C SDK would refuse (two file elements) fails before its files are uploaded."""
    one, two = write(tmp_path / "1", b"1"), write(tmp_path / "2", b"2")
    with pytest.raises(UsageError, match="only one FileElem"):
        await transfers.upload_attachments(
            Message(elem_array=[FileElem(file_path=one), FileElem(file_path=two)])
        )
    assert dev_server.files.statistics().uploads == 0


async def test_elements_with_a_url_are_not_uploaded_again(
    dev_server: DevServer, transfers: TransferManager, tmp_path: Path
) -> None:
    """An element that already has its URL (a forwarded or resent message) is left as it is."""
    elem = FileElem(file_path=write(tmp_path / "a", b"a"), url="http://cdn.example/a", file_id="a")
    msg = Message(elem_array=[elem])
    assert await transfers.upload_attachments(msg) is msg
    assert dev_server.files.statistics().uploads == 0


async def test_the_servers_refusal_is_the_servers_code(
    dev_server: DevServer, transfers: TransferManager, tmp_path: Path
) -> None:
    """A limit the file service enforces comes back as its TIM code (7005 here)."""
    dev_server.files.max_upload_size = 10
    with pytest.raises(TIMError) as caught:
        await transfers.upload_attachments(
            Message(elem_array=[FileElem(file_path=write(tmp_path / "a", bytes(11)))])
        )
    assert caught.value.code == 7005


async def test_upload_progress_is_observable_per_element(transfers: TransferManager, tmp_path: Path) -> None:
    """watch_uploads yields (message, element index, kind, current, total): monotonic, ending at total."""
    elem, expected = element("video", tmp_path)
    msg = Message(elem_array=[TextElem(content="clip"), elem])
    events: list[UploadProgress] = []

    async def watch() -> None:
        async for event in uploads:
            events.append(event)

    async with transfers.watch_uploads() as uploads:
        watcher = asyncio.create_task(watch())
        await transfers.upload_attachments(msg)
    await watcher
    by_kind: dict[FileKind, list[int]] = {}
    for event in events:
        assert (event.message, event.index) == (msg, 1)
        by_kind.setdefault(event.kind, []).append(event.current_size)
        assert event.total_size == len(expected["video_url" if event.kind is FileKind.VIDEO else "image_url"])
    assert set(by_kind) == {FileKind.VIDEO, FileKind.VIDEO_THUMB}
    for kind, sizes in by_kind.items():
        assert sizes == sorted(sizes), kind
        assert sizes[-1] == len(expected["video_url" if kind is FileKind.VIDEO else "image_url"])


class MemoryUploader:
    """A fake object store: keeps uploads in a dict and reports progress in two steps."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}

    async def upload(self, path: Path, kind: FileKind, progress: ProgressCallback) -> UploadedFile:
        data = await asyncio.to_thread(path.read_bytes)
        progress(len(data) // 2, len(data))
        file_id = hashlib.sha256(data).hexdigest()[:16]
        self.stored[file_id] = data
        progress(len(data), len(data))
        return UploadedFile(
            file_id, f"https://cdn.example/{kind}/{file_id}", len(data), hashlib.sha256(data).hexdigest()
        )


async def test_a_pluggable_uploader_replaces_the_dev_server(
    dev_server: DevServer, conn: object, tmp_path: Path
) -> None:
    """Any object with `async upload(path, kind, progress)` stores the files instead of the dev server."""
    fake = MemoryUploader()
    async with TransferManager(conn, uploader=fake) as manager:  # type: ignore[arg-type]
        msg = Message(elem_array=[SoundElem(file_path=write(tmp_path / "s", b"sound"))])
        sent = await manager.upload_attachments(msg)
    sound = sent.elem_array[0]
    assert isinstance(sound, SoundElem)
    assert sound.url == f"https://cdn.example/sound/{sound.file_id}"
    assert fake.stored == {sound.file_id: b"sound"}
    assert dev_server.files.statistics().uploads == 0
