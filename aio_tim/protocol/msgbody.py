"""REST `MsgBody` elements and their one two-way conversion to the C SDK's elements.

`MsgBody` is `[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}, ...]`. The content shape
depends on the outer `MsgType`, so the item keeps `MsgContent` as an object and the content Structs
below give it types. `to_msg_body` and `from_msg_body` are the only place elements cross over;
the table `_KINDS` pairs each C SDK element with its REST kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from ..errors import ERR_BAD_REPLY, TIM_ERR_PARAM, UsageError, error_for
from ..types import (
    CustomElem,
    Elem,
    FaceElem,
    FileElem,
    ImageElem,
    LocationElem,
    SoundElem,
    TextElem,
    VideoElem,
)

__all__ = [
    "DOWNLOAD_BY_URL",
    "MsgBodyItem",
    "content_type_for",
    "from_msg_body",
    "msg_body_size",
    "to_msg_body",
]

DOWNLOAD_BY_URL: Final = 2  # REST attachment elements must say Download_Flag 2


class MsgBodyItem(msgspec.Struct):
    MsgType: str
    MsgContent: dict[str, Any]


class _Content(msgspec.Struct, omit_defaults=True):
    pass


class TextContent(_Content):
    Text: str


class FaceContent(_Content):
    Index: int
    Data: str | None = None


class LocationContent(_Content):
    Desc: str | None = None
    Latitude: float | None = None  # required by REST: None only so that 0.0 is still written
    Longitude: float | None = None


class CustomContent(_Content):
    Data: str | None = None  # required by REST: the out-conversion always writes it
    Desc: str | None = None
    Ext: str | None = None
    Sound: str | None = None


class SoundContent(_Content):
    Url: str | None = None
    UUID: str | None = None
    Size: int | None = None
    Second: int | None = None
    Download_Flag: int | None = None


class ImageInfo(_Content):
    Type: int  # 1 original, 2 large, 3 thumbnail
    Size: int | None = None
    Width: int | None = None
    Height: int | None = None
    URL: str | None = None


class ImageContent(_Content):
    UUID: str | None = None
    ImageFormat: int | None = None
    ImageInfoArray: list[ImageInfo] = msgspec.field(default_factory=list)


class FileContent(_Content):
    Url: str | None = None
    UUID: str | None = None
    FileSize: int | None = None
    FileName: str | None = None
    Download_Flag: int | None = None


class VideoContent(_Content):
    VideoUrl: str | None = None
    VideoUUID: str | None = None
    VideoSize: int | None = None
    VideoSecond: int | None = None
    VideoFormat: str | None = None
    VideoDownloadFlag: int | None = None
    ThumbUrl: str | None = None
    ThumbUUID: str | None = None
    ThumbSize: int | None = None
    ThumbWidth: int | None = None
    ThumbHeight: int | None = None
    ThumbFormat: str | None = None
    ThumbDownloadFlag: int | None = None


# --- one pair of functions per kind: C SDK element -> REST content, and back ---------------------


def _text_out(e: TextElem) -> TextContent:
    return TextContent(Text=e.content)


def _text_in(c: TextContent) -> TextElem:
    return TextElem(content=c.Text)


def _face_out(e: FaceElem) -> FaceContent:
    return FaceContent(Index=e.index, Data=e.buf)


def _face_in(c: FaceContent) -> FaceElem:
    return FaceElem(index=c.Index, buf=c.Data)


def _location_out(e: LocationElem) -> LocationContent:
    return LocationContent(Desc=e.desc, Latitude=e.latitude or 0.0, Longitude=e.longitude or 0.0)


def _location_in(c: LocationContent) -> LocationElem:
    return LocationElem(desc=c.Desc, latitude=c.Latitude, longitude=c.Longitude)


def _custom_out(e: CustomElem) -> CustomContent:
    return CustomContent(Data=e.data or "", Desc=e.desc, Ext=e.ext, Sound=e.sound)


def _custom_in(c: CustomContent) -> CustomElem:
    return CustomElem(data=c.Data or "", desc=c.Desc, ext=c.Ext, sound=c.Sound)


def _sound_out(e: SoundElem) -> SoundContent:
    return SoundContent(
        Url=e.url, UUID=e.file_id, Size=e.file_size, Second=e.file_time,
        Download_Flag=DOWNLOAD_BY_URL,
    )  # fmt: skip


def _sound_in(c: SoundContent) -> SoundElem:
    return SoundElem(
        url=c.Url, file_id=c.UUID, file_size=c.Size, file_time=c.Second,
        download_flag=c.Download_Flag,
    )  # fmt: skip


def _file_out(e: FileElem) -> FileContent:
    return FileContent(
        Url=e.url, UUID=e.file_id, FileSize=e.file_size, FileName=e.file_name,
        Download_Flag=DOWNLOAD_BY_URL,
    )  # fmt: skip


def _file_in(c: FileContent) -> FileElem:
    return FileElem(
        url=c.Url, file_id=c.UUID, file_size=c.FileSize, file_name=c.FileName,
        download_flag=c.Download_Flag,
    )  # fmt: skip


_IMAGE_LEVELS: Final = ((1, "orig"), (2, "large"), (3, "thumb"))


def _image_out(e: ImageElem) -> ImageContent:
    infos = [
        ImageInfo(
            Type=kind,
            URL=getattr(e, f"{level}_url"),
            Size=getattr(e, f"{level}_pic_size"),
            Width=getattr(e, f"{level}_pic_width"),
            Height=getattr(e, f"{level}_pic_height"),
        )
        for kind, level in _IMAGE_LEVELS
        if getattr(e, f"{level}_url") is not None
    ]
    return ImageContent(UUID=e.orig_id, ImageFormat=e.format, ImageInfoArray=infos)


def _image_in(c: ImageContent) -> ImageElem:
    levels = dict(_IMAGE_LEVELS)
    fields: dict[str, Any] = {"orig_id": c.UUID, "format": c.ImageFormat}
    for info in c.ImageInfoArray:
        level = levels.get(info.Type)
        if level is None:
            continue
        fields[f"{level}_url"] = info.URL
        fields[f"{level}_pic_size"] = info.Size
        fields[f"{level}_pic_width"] = info.Width
        fields[f"{level}_pic_height"] = info.Height
    return ImageElem(**fields)


def _video_out(e: VideoElem) -> VideoContent:
    return VideoContent(
        VideoUrl=e.video_url, VideoUUID=e.video_id, VideoSize=e.video_size,
        VideoSecond=e.video_duration, VideoFormat=e.video_type,
        VideoDownloadFlag=DOWNLOAD_BY_URL, ThumbDownloadFlag=DOWNLOAD_BY_URL,
        ThumbUrl=e.image_url, ThumbUUID=e.image_id, ThumbSize=e.image_size,
        ThumbWidth=e.image_width, ThumbHeight=e.image_height, ThumbFormat=e.image_type,
    )  # fmt: skip


def _video_in(c: VideoContent) -> VideoElem:
    return VideoElem(
        video_url=c.VideoUrl, video_id=c.VideoUUID, video_size=c.VideoSize,
        video_duration=c.VideoSecond, video_type=c.VideoFormat,
        video_download_flag=c.VideoDownloadFlag,
        image_url=c.ThumbUrl, image_id=c.ThumbUUID, image_size=c.ThumbSize,
        image_width=c.ThumbWidth, image_height=c.ThumbHeight, image_type=c.ThumbFormat,
        image_download_flag=c.ThumbDownloadFlag,
    )  # fmt: skip


@dataclass(frozen=True)
class _Kind:
    msg_type: str
    content: type[_Content]
    to_rest: Callable[[Any], _Content]
    from_rest: Callable[[Any], Elem]


_KINDS: Final[dict[type[Any], _Kind]] = {
    TextElem: _Kind("TIMTextElem", TextContent, _text_out, _text_in),
    FaceElem: _Kind("TIMFaceElem", FaceContent, _face_out, _face_in),
    LocationElem: _Kind("TIMLocationElem", LocationContent, _location_out, _location_in),
    CustomElem: _Kind("TIMCustomElem", CustomContent, _custom_out, _custom_in),
    SoundElem: _Kind("TIMSoundElem", SoundContent, _sound_out, _sound_in),
    ImageElem: _Kind("TIMImageElem", ImageContent, _image_out, _image_in),
    FileElem: _Kind("TIMFileElem", FileContent, _file_out, _file_in),
    VideoElem: _Kind("TIMVideoFileElem", VideoContent, _video_out, _video_in),
}
_BY_MSG_TYPE: Final = {kind.msg_type: kind for kind in _KINDS.values()}


def content_type_for(msg_type: str) -> type[_Content] | None:
    """The content Struct of a REST `MsgType`, or None when the kind is unknown."""
    kind = _BY_MSG_TYPE.get(msg_type)
    return kind.content if kind else None


def to_msg_body(elems: list[Elem]) -> list[MsgBodyItem]:
    """C SDK elements -> REST `MsgBody`; an element with no REST form is a TIM_ERR_PARAM."""
    return [_elem_to_item(e) for e in elems]


def _elem_to_item(elem: Elem) -> MsgBodyItem:
    kind = _KINDS.get(type(elem))
    if kind is None:
        raise UsageError(TIM_ERR_PARAM, f"{type(elem).__name__} cannot be sent through REST")
    return MsgBodyItem(kind.msg_type, msgspec.to_builtins(kind.to_rest(elem)))


def from_msg_body(items: list[MsgBodyItem]) -> list[Elem]:
    """REST `MsgBody` -> C SDK elements; unknown kinds (e.g. TIMRelayElem) are skipped."""
    elems: list[Elem] = []
    for index, item in enumerate(items):
        kind = _BY_MSG_TYPE.get(item.MsgType)
        if kind is None:
            continue
        try:
            content = msgspec.convert(item.MsgContent, kind.content)
        except msgspec.ValidationError as exc:
            raise error_for(ERR_BAD_REPLY, f"MsgBody[{index}] ({item.MsgType}): {exc}") from None
        elems.append(kind.from_rest(content))
    return elems


def msg_body_size(items: list[MsgBodyItem]) -> int:
    """Bytes of the JSON `MsgBody`: TIM caps a message body (80002 past 12 KB)."""
    return len(msgspec.json.encode(items))
