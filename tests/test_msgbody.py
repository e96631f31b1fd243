"""C SDK elements ⇄ REST `MsgBody`: the exact REST JSON of every sendable kind, the way back, and
the kinds that have no REST form."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from aio_tim.errors import UsageError
from aio_tim.protocol.msgbody import MsgBodyItem, from_msg_body, to_msg_body
from aio_tim.types import (
    CustomElem,
    FaceElem,
    FileElem,
    FriendChangeElem,
    GroupReportElem,
    GroupTipsElem,
    ImageElem,
    LocationElem,
    MergeElem,
    Message,
    ProfileChangeElem,
    SoundElem,
    TextElem,
    VideoElem,
)

# (id, C SDK element, expected REST item, the element attributes REST carries)
CASES: list[tuple[str, Any, dict[str, Any], tuple[str, ...]]] = [
    (
        "text",
        TextElem(content="hello 世界"),
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello 世界"}},
        ("content",),
    ),
    (
        "face",
        FaceElem(index=5, buf="smile"),
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 5, "Data": "smile"}},
        ("index", "buf"),
    ),
    (
        "face-index-zero",
        FaceElem(index=0, buf=""),
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 0, "Data": ""}},
        ("index", "buf"),
    ),
    (
        "location",
        LocationElem(desc="Tencent Binhai", latitude=22.5228, longitude=113.9345),
        {
            "MsgType": "TIMLocationElem",
            "MsgContent": {"Desc": "Tencent Binhai", "Latitude": 22.5228, "Longitude": 113.9345},
        },
        ("desc", "latitude", "longitude"),
    ),
    (
        "location-zero",
        LocationElem(desc="Null Island", latitude=0.0, longitude=0.0),
        {
            "MsgType": "TIMLocationElem",
            "MsgContent": {"Desc": "Null Island", "Latitude": 0.0, "Longitude": 0.0},
        },
        ("desc", "latitude", "longitude"),
    ),
    (
        "custom",
        CustomElem(data='{"cmd":"ping"}', desc="push text", ext="apns ext", sound="ding.aiff"),
        {
            "MsgType": "TIMCustomElem",
            "MsgContent": {
                "Data": '{"cmd":"ping"}',
                "Desc": "push text",
                "Ext": "apns ext",
                "Sound": "ding.aiff",
            },
        },
        ("data", "desc", "ext", "sound"),
    ),
    (
        "custom-empty-data",
        CustomElem(data="", desc="push only"),
        {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "", "Desc": "push only"}},
        ("data", "desc"),
    ),
    (
        "image-all-levels",
        ImageElem(
            orig_path="/tmp/cat.png",
            level=0,
            format=3,
            orig_id="img-uuid",
            orig_url="https://cos.example/orig.png",
            orig_pic_size=204800,
            orig_pic_width=1920,
            orig_pic_height=1080,
            large_url="https://cos.example/large.png",
            large_pic_size=80000,
            large_pic_width=1280,
            large_pic_height=720,
            thumb_url="https://cos.example/thumb.png",
            thumb_pic_size=9000,
            thumb_pic_width=352,
            thumb_pic_height=198,
            task_id=3,
        ),
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "img-uuid",
                "ImageFormat": 3,
                "ImageInfoArray": [
                    {
                        "Type": 1,
                        "Size": 204800,
                        "Width": 1920,
                        "Height": 1080,
                        "URL": "https://cos.example/orig.png",
                    },
                    {
                        "Type": 2,
                        "Size": 80000,
                        "Width": 1280,
                        "Height": 720,
                        "URL": "https://cos.example/large.png",
                    },
                    {
                        "Type": 3,
                        "Size": 9000,
                        "Width": 352,
                        "Height": 198,
                        "URL": "https://cos.example/thumb.png",
                    },
                ],
            },
        },
        (
            "format",
            "orig_id",
            "orig_url",
            "orig_pic_size",
            "orig_pic_width",
            "orig_pic_height",
            "large_url",
            "large_pic_size",
            "large_pic_width",
            "large_pic_height",
            "thumb_url",
            "thumb_pic_size",
            "thumb_pic_width",
            "thumb_pic_height",
        ),
    ),
    (
        "image-thumb-only",
        ImageElem(
            format=255,
            orig_id="img-2",
            thumb_url="https://cos.example/t.gif",
            thumb_pic_size=100,
            thumb_pic_width=10,
            thumb_pic_height=20,
        ),
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "img-2",
                "ImageFormat": 255,
                "ImageInfoArray": [
                    {"Type": 3, "Size": 100, "Width": 10, "Height": 20, "URL": "https://cos.example/t.gif"}
                ],
            },
        },
        ("format", "orig_id", "orig_url", "large_url", "thumb_url", "thumb_pic_size", "thumb_pic_width"),
    ),
    (
        "sound",
        SoundElem(
            file_path="/tmp/voice.amr",
            url="https://cos.example/voice.amr",
            file_id="snd-uuid",
            file_size=3072,
            file_time=4,
            business_id=1,
            download_flag=0,
        ),
        {
            "MsgType": "TIMSoundElem",
            "MsgContent": {
                "Url": "https://cos.example/voice.amr",
                "UUID": "snd-uuid",
                "Size": 3072,
                "Second": 4,
                "Download_Flag": 2,
            },
        },
        ("url", "file_id", "file_size", "file_time"),
    ),
    (
        "file",
        FileElem(
            file_path="/tmp/report.pdf",
            url="https://cos.example/report.pdf",
            file_id="file-uuid",
            file_size=65536,
            file_name="report.pdf",
        ),
        {
            "MsgType": "TIMFileElem",
            "MsgContent": {
                "Url": "https://cos.example/report.pdf",
                "UUID": "file-uuid",
                "FileSize": 65536,
                "FileName": "report.pdf",
                "Download_Flag": 2,
            },
        },
        ("url", "file_id", "file_size", "file_name"),
    ),
    (
        "video",
        VideoElem(
            video_path="/tmp/clip.mp4",
            video_url="https://cos.example/clip.mp4",
            video_id="vid-uuid",
            video_size=1048576,
            video_duration=12,
            video_type="mp4",
            image_path="/tmp/clip.jpg",
            image_url="https://cos.example/clip.jpg",
            image_id="thumb-uuid",
            image_size=20480,
            image_width=640,
            image_height=360,
            image_type="jpg",
            video_download_flag=1,
        ),
        {
            "MsgType": "TIMVideoFileElem",
            "MsgContent": {
                "VideoUrl": "https://cos.example/clip.mp4",
                "VideoUUID": "vid-uuid",
                "VideoSize": 1048576,
                "VideoSecond": 12,
                "VideoFormat": "mp4",
                "VideoDownloadFlag": 2,
                "ThumbUrl": "https://cos.example/clip.jpg",
                "ThumbUUID": "thumb-uuid",
                "ThumbSize": 20480,
                "ThumbWidth": 640,
                "ThumbHeight": 360,
                "ThumbFormat": "jpg",
                "ThumbDownloadFlag": 2,
            },
        },
        (
            "video_url",
            "video_id",
            "video_size",
            "video_duration",
            "video_type",
            "image_url",
            "image_id",
            "image_size",
            "image_width",
            "image_height",
            "image_type",
        ),
    ),
]
CASE_IDS = [case[0] for case in CASES]


def _json(value: Any) -> Any:
    return json.loads(msgspec.json.encode(value))


@pytest.mark.parametrize(("name", "elem", "rest", "fields"), CASES, ids=CASE_IDS)
def test_to_msg_body_gives_the_rest_json(
    name: str, elem: Any, rest: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """to_msg_body turns each sendable element into exactly its documented REST MsgBody item."""
    assert _json(to_msg_body([elem])) == [rest]


@pytest.mark.parametrize(("name", "elem", "rest", "fields"), CASES, ids=CASE_IDS)
def test_from_msg_body_restores_the_rest_fields(
    name: str, elem: Any, rest: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """from_msg_body of the REST JSON gives back the element class with the REST-carried fields equal."""
    items = msgspec.convert([rest], list[MsgBodyItem])
    (back,) = from_msg_body(items)
    assert type(back) is type(elem)
    for field in fields:
        assert getattr(back, field) == getattr(elem, field), field


@pytest.mark.parametrize(("name", "elem", "rest", "fields"), CASES, ids=CASE_IDS)
def test_element_survives_a_rest_round_trip(
    name: str, elem: Any, rest: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """from_msg_body(to_msg_body(e)) keeps every REST-carried field of e."""
    (back,) = from_msg_body(to_msg_body([elem]))
    assert type(back) is type(elem)
    for field in fields:
        assert getattr(back, field) == getattr(elem, field), field


@pytest.mark.parametrize(
    ("elem", "flags"),
    [
        (SoundElem(url="u", file_id="s"), ("download_flag",)),
        (FileElem(url="u", file_id="f", file_name="n", file_size=1), ("download_flag",)),
        (VideoElem(video_url="v", image_url="i"), ("video_download_flag", "image_download_flag")),
    ],
    ids=["sound", "file", "video"],
)
def test_received_attachments_say_download_by_url(elem: Any, flags: tuple[str, ...]) -> None:
    """Attachments coming back from REST carry the C SDK download flag 2 (use the URL directly)."""
    (back,) = from_msg_body(to_msg_body([elem]))
    for flag in flags:
        assert getattr(back, flag) == 2, flag


def test_multi_element_body_keeps_order() -> None:
    """A body of several elements converts element by element, in order, both ways."""
    elems: list[Any] = [TextElem(content="a"), FaceElem(index=1, buf="b"), TextElem(content="c")]
    body = to_msg_body(elems)
    assert [item.MsgType for item in body] == ["TIMTextElem", "TIMFaceElem", "TIMTextElem"]
    assert from_msg_body(body) == elems


@pytest.mark.parametrize(
    "elem",
    [
        GroupTipsElem(tip_type=1, group_id="@TGS#1"),
        GroupReportElem(report_type=2, group_id="@TGS#1"),
        MergeElem(title="history", message_array=[Message(elem_array=[TextElem(content="x")])]),
        FriendChangeElem(),
        ProfileChangeElem(),
    ],
    ids=["group-tips", "group-report", "merge", "friend-change", "profile-change"],
)
def test_element_without_rest_form_is_param_error(elem: Any) -> None:
    """to_msg_body of an element with no REST form raises UsageError TIM_ERR_PARAM (-4) naming it."""
    with pytest.raises(UsageError) as caught:
        to_msg_body([TextElem(content="ok"), elem])
    assert caught.value.code == -4
    assert type(elem).__name__ in str(caught.value)


@pytest.mark.parametrize(
    "unknown",
    [
        {"MsgType": "TIMRelayElem", "MsgContent": {"Title": "history", "MsgNum": 2}},
        {"MsgType": "TIMSomethingNewElem", "MsgContent": {}},
    ],
    ids=["relay", "future-kind"],
)
def test_from_msg_body_skips_unknown_kinds(unknown: dict[str, Any]) -> None:
    """from_msg_body drops MsgTypes it does not know (e.g. TIMRelayElem) and keeps the rest."""
    raw = [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "before"}},
        unknown,
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "after"}},
    ]
    items = msgspec.convert(raw, list[MsgBodyItem])
    assert from_msg_body(items) == [TextElem(content="before"), TextElem(content="after")]


def test_from_msg_body_ignores_unknown_image_levels() -> None:
    """An ImageInfoArray entry of an unknown Type is ignored; the known levels still convert."""
    raw = [
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "u",
                "ImageFormat": 1,
                "ImageInfoArray": [{"Type": 9, "URL": "x"}, {"Type": 2, "URL": "large", "Width": 5}],
            },
        }
    ]
    (image,) = from_msg_body(msgspec.convert(raw, list[MsgBodyItem]))
    assert isinstance(image, ImageElem)
    assert (image.orig_url, image.large_url, image.thumb_url) == (None, "large", None)
    assert image.large_pic_width == 5
