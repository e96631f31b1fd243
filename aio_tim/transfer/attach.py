"""The one mapping between elements and files: which local paths to upload, what an upload fills
in, and which `DownloadElemParam` fetches a received element's file.

    >>> [a.kind for a in attachments(Message(elem_array=[FileElem(file_path="a.pdf")]))]
    [<FileKind.FILE: 'file'>]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.msgbody import DOWNLOAD_BY_URL
from ..types import (
    DownloadElemParam,
    DownloadType,
    Elem,
    FileElem,
    ImageElem,
    Message,
    SoundElem,
    VideoElem,
)
from .imageinfo import FORMAT_EXTENSIONS, UNKNOWN_FORMAT, image_info
from .upload import FileKind, LocalFile, UploadedFile

__all__ = ["Attachment", "attachments", "download_param", "elem_file_name", "fill"]


@dataclass(frozen=True)
class Attachment:
    """A local file an element names and that is not uploaded yet."""

    index: int
    kind: FileKind
    path: str


def attachments(msg: Message) -> list[Attachment]:
    """Every (element index, kind, path) to upload before `msg` can be sent, in element order."""
    found: list[Attachment] = []
    for index, elem in enumerate(msg.elem_array):
        found += [Attachment(index, kind, path) for kind, path in _local_files(elem)]
    return found


def _local_files(elem: Elem) -> list[tuple[FileKind, str]]:
    # An element that already has a URL was uploaded before (or came from elsewhere): keep it.
    if isinstance(elem, ImageElem):
        return [(FileKind.IMAGE, elem.orig_path)] if elem.orig_path and not elem.orig_url else []
    if isinstance(elem, SoundElem):
        return [(FileKind.SOUND, elem.file_path)] if elem.file_path and not elem.url else []
    if isinstance(elem, FileElem):
        return [(FileKind.FILE, elem.file_path)] if elem.file_path and not elem.url else []
    if isinstance(elem, VideoElem):
        video = [(FileKind.VIDEO, elem.video_path)] if elem.video_path and not elem.video_url else []
        thumb = [(FileKind.VIDEO_THUMB, elem.image_path)] if elem.image_path and not elem.image_url else []
        return video + thumb
    return []


def fill(elem: Elem, local: LocalFile, stored: UploadedFile) -> Elem:
    """`elem` with the uploaded file's id, URL and size (and image format/size from its header)."""
    if isinstance(elem, ImageElem):
        return _fill_image(elem, local, stored)
    changes: dict[str, Any]
    if isinstance(elem, SoundElem):
        changes = {"file_id": stored.id, "url": stored.url, "file_size": stored.size}
        changes["download_flag"] = DOWNLOAD_BY_URL
    elif isinstance(elem, FileElem):
        changes = {"file_id": stored.id, "url": stored.url, "file_size": stored.size}
        changes |= {"file_name": elem.file_name or local.path.name, "download_flag": DOWNLOAD_BY_URL}
    elif isinstance(elem, VideoElem):
        changes = _video_changes(elem, local, stored)
    else:
        raise UsageError(TIM_ERR_PARAM, f"{type(elem).__name__} carries no file")
    return msgspec.structs.replace(elem, **changes)


def _fill_image(elem: ImageElem, local: LocalFile, stored: UploadedFile) -> ImageElem:
    info = image_info(local.head)
    return msgspec.structs.replace(
        elem,
        orig_id=stored.id,
        orig_url=stored.url,
        orig_pic_size=stored.size,
        orig_pic_width=info.width,
        orig_pic_height=info.height,
        format=elem.format if info.format == UNKNOWN_FORMAT and elem.format is not None else info.format,
    )


def _video_changes(elem: VideoElem, local: LocalFile, stored: UploadedFile) -> dict[str, Any]:
    if local.kind is FileKind.VIDEO:
        suffix = local.path.suffix.lstrip(".").lower() or None
        return {
            "video_id": stored.id,
            "video_url": stored.url,
            "video_size": stored.size,
            "video_type": elem.video_type or suffix,
            "video_download_flag": DOWNLOAD_BY_URL,
        }
    info = image_info(local.head)
    return {
        "image_id": stored.id,
        "image_url": stored.url,
        "image_size": stored.size,
        "image_width": info.width if info.width is not None else elem.image_width,
        "image_height": info.height if info.height is not None else elem.image_height,
        "image_type": elem.image_type or FORMAT_EXTENSIONS.get(info.format),
        "image_download_flag": DOWNLOAD_BY_URL,
    }


ImageLevelName = Literal["orig", "large", "thumb"]


def download_param(elem: Elem, *, thumb: bool = False, level: ImageLevelName = "orig") -> DownloadElemParam:
    """The `DownloadElemParam` of a received element's file (a video's thumbnail with `thumb`,
    an image's `level`)."""
    if isinstance(elem, FileElem):
        return DownloadElemParam(type=DownloadType.FILE, id=elem.file_id, url=elem.url)
    if isinstance(elem, SoundElem):
        return DownloadElemParam(type=DownloadType.SOUND, id=elem.file_id, url=elem.url)
    if isinstance(elem, VideoElem) and thumb:
        return DownloadElemParam(type=DownloadType.VIDEO_THUMB, id=elem.image_id, url=elem.image_url)
    if isinstance(elem, VideoElem):
        return DownloadElemParam(type=DownloadType.VIDEO, id=elem.video_id, url=elem.video_url)
    if isinstance(elem, ImageElem):
        # TIMDownloadType has no image kind: images are fetched by URL alone.
        file_id = elem.orig_id if level == "orig" else getattr(elem, f"{level}_id")
        return DownloadElemParam(id=file_id, url=getattr(elem, f"{level}_url"))
    raise UsageError(TIM_ERR_PARAM, f"{type(elem).__name__} has no file to download")


def elem_file_name(elem: Elem) -> str | None:
    """The name the sender gave the file (`file_elem_file_name`), or the basename of its path."""
    if isinstance(elem, FileElem):
        return elem.file_name or (os.path.basename(elem.file_path) if elem.file_path else None)
    return None
