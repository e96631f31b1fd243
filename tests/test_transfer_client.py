"""Attachments through the public API: send_new_msg uploads, download_elem_to_path downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_transfer_support import data_of, image_bytes

from aio_tim import Client
from aio_tim.devserver import DevServer
from aio_tim.devserver.files import StallAt
from aio_tim.errors import UsageError
from aio_tim.testing import client_for
from aio_tim.transfer import Download, UploadProgress, download_param, elem_file_name
from aio_tim.types import ConvType, DownloadElemResult, FileElem, ImageElem, Message, MsgStatus

DOC = data_of(1024 * 1024 + 7, seed=9)


async def test_send_uploads_the_file_and_the_peer_downloads_it(
    dev_server: DevServer, tim: Client, tmp_path: Path
) -> None:
    """A file element naming a local path is uploaded before the send; the recipient finds its URL
    in roaming history and downloads the same bytes into a folder under the file's name."""
    (tmp_path / "report.pdf").write_bytes(DOC)
    msg = {"message_elem_array": [{"elem_type": 4, "file_elem_file_path": str(tmp_path / "report.pdf")}]}
    sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
    assert sent.status == MsgStatus.SEND_SUCC
    async with client_for(dev_server, "bob") as bob:
        page = await bob.msg.get_msg_list("alice", ConvType.C2C, {"msg_getmsglist_param_is_remble": True})
        received = page[0].elem_array[0]
        assert isinstance(received, FileElem) and received.url
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        dl = bob.msg.download_elem_to_path(
            download_param(received), inbox, file_name=elem_file_name(received)
        )
        assert isinstance(dl, Download)
        snapshots = [p async for p in dl]
    assert snapshots[-1] == DownloadElemResult(current_size=len(DOC), total_size=len(DOC))
    assert (inbox / "report.pdf").read_bytes() == DOC


async def test_send_fills_image_fields_from_the_header(tim: Client, tmp_path: Path) -> None:
    """An image element gets its id, URL, size, width, height and format before it is sent."""
    data = image_bytes("gif", 33, 44)
    (tmp_path / "a.gif").write_bytes(data)
    sent = await tim.msg.send_new_msg(
        "bob", ConvType.C2C, Message(elem_array=[ImageElem(orig_path=str(tmp_path / "a.gif"))])
    )
    image = sent.elem_array[0]
    assert isinstance(image, ImageElem)
    assert (image.format, image.orig_pic_width, image.orig_pic_height, image.orig_pic_size) == (
        2,
        33,
        44,
        len(data),
    )
    await tim.msg.download_elem_to_path(download_param(image), tmp_path / "back.gif")
    assert (tmp_path / "back.gif").read_bytes() == data


async def test_a_file_over_the_limit_fails_the_send_before_any_upload(
    dev_server: DevServer, tim: Client, tmp_path: Path
) -> None:
    """send_new_msg raises 7005 for an oversized image and neither uploads nor sends anything."""
    big = tmp_path / "big.png"
    with open(big, "wb") as file:  # noqa: ASYNC230 - a sparse file: nothing to wait for
        file.truncate(28 * 1024 * 1024 + 1)
    with pytest.raises(UsageError) as caught:
        await tim.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[ImageElem(orig_path=str(big))]))
    assert caught.value.code == 7005
    assert dev_server.files.statistics().uploads == 0
    assert await tim.msg.get_msg_list("bob", ConvType.C2C, {}) == []


async def test_upload_progress_of_a_send_is_observable(tim: Client, tmp_path: Path) -> None:
    """tim.transfers.watch_uploads reports the element index and bytes sent, ending at the total."""
    (tmp_path / "doc").write_bytes(DOC)
    msg = Message(elem_array=[FileElem(file_path=str(tmp_path / "doc"))])
    events: list[UploadProgress] = []
    async with tim.transfers.watch_uploads() as uploads:
        sending = asyncio.create_task(tim.msg.send_new_msg("bob", ConvType.C2C, msg))
        async for event in uploads:
            events.append(event)
            if event.current_size == event.total_size:
                break
        await sending
    assert [e.index for e in events] == [0] * len(events)
    assert [e.current_size for e in events] == sorted(e.current_size for e in events)
    assert events[-1].current_size == events[-1].total_size == len(DOC)


async def test_closing_the_client_cancels_downloads(dev_server: DevServer, tmp_path: Path) -> None:
    """A download still running when the client closes is cancelled and keeps its partial file."""
    stored = await dev_server.files.put(DOC)
    dev_server.files.fail_next(StallAt(len(DOC) // 2, seconds=30))
    async with client_for(dev_server, "alice") as alice:
        dl = alice.msg.download_elem_to_path({"msg_download_elem_param_url": stored.url}, tmp_path / "out")
        dl.start()
        await asyncio.sleep(0.3)
    assert dl.done and dl.part_path.stat().st_size == len(DOC) // 2
    assert not (tmp_path / "out").exists()
