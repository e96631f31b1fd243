"""The C SDK's JSON objects as msgspec Structs: documented examples round-trip, every element kind
maps key ⇄ attribute, both `is_remble`/`is_ramble` spellings decode, and bad input is TIM_ERR_JSON."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from aio_tim.errors import UsageError
from aio_tim.types import (
    BatchSendParam,
    BatchSendResult,
    CustomElem,
    DownloadElemResult,
    FaceElem,
    FileElem,
    FriendChangeElem,
    GetMsgListParam,
    GroupReportElem,
    GroupTipsElem,
    ImageElem,
    LocationElem,
    MergeElem,
    Message,
    MsgDeleteParam,
    MsgLocator,
    ProfileChangeElem,
    SoundElem,
    TextElem,
    VideoElem,
    coerce,
    encode,
)

# --- the documented examples, copied verbatim (the tests must not read ../shared) ----------------

# seed/c-sdk-message-api.md, TIMMsgSendNewMsg
SEND_MSG_PARAM = """
{
   "message_client_time" : 1551446728,
   "message_elem_array" : [
      {
         "elem_type" : 0,
         "text_elem_content" : "send text"
      }
   ],
   "message_sender" : "user1",
   "message_server_time" : 1551446728
}
"""

# seed, TIMMsgFindByMsgLocatorList
LOCATOR_ARRAY = """
[
   {
      "message_locator_is_revoked" : false,
      "message_locator_is_self" : false,
      "message_locator_rand" : 12345678,
      "message_locator_seq" : 1,
      "message_locator_time" : 123
   }
]
"""

# seed, TIMMsgImportMsgList
IMPORT_MSG_ARRAY = """
[
   {
      "message_client_time" : 1551446728,
      "message_elem_array" : [
         {
            "elem_type" : 0,
            "text_elem_content" : "this is import msg"
         }
      ],
      "message_sender" : "user1",
      "message_server_time" : 1551446728
   }
]
"""

# seed, TIMMsgGetMsgList
GET_MSG_LIST_PARAM = """
{
   "msg_getmsglist_param_count" : 100,
   "msg_getmsglist_param_is_forward" : true,
   "msg_getmsglist_param_is_remble" : false,
   "msg_getmsglist_param_last_msg" : {}
}
"""

# seed, TIMMsgDelete
DELETE_PARAM = """
{
  "msg_delete_param_is_remble" : false,
  "msg_delete_param_msg" : {}
}
"""

# seed, TIMMsgBatchSend
BATCH_SEND_PARAM = """
{
   "msg_batch_send_param_identifier_array" : [ "user2", "user3" ],
   "msg_batch_send_param_msg" : {
      "message_client_time" : 1551340614,
      "message_elem_array" : [
         {
            "elem_type" : 0,
            "text_elem_content" : "this is batch send msg"
         }
      ],
      "message_sender" : "user1",
      "message_server_time" : 1551340614
   }
}
"""

# The C SDK docs' example of a received C2C text message
RECEIVED_C2C_TEXT = (
    '{"message_client_time":1551080111,"message_conv_id":"user2","message_conv_type":1,'
    '"message_elem_array":[{"elem_type":0,"text_elem_content":"123213213"}],"message_is_from_self":true,'
    '"message_is_read":true,"message_rand":2130485001,"message_sender":"user1","message_seq":1,'
    '"message_server_time":1551080111,"message_status":2}'
)

# The C SDK docs' download progress example
DOWNLOAD_PROGRESS = '{"msg_download_elem_result_current_size":10,"msg_download_elem_result_total_size":100}'

# A known C SDK quirk (TencentCloud/TIMSDK#404)
GET_MSG_LIST_PARAM_ISSUE_404 = (
    '{"msg_getmsglist_param_count":15,"msg_getmsglist_param_is_forward":false,'
    '"msg_getmsglist_param_is_remble":true,"msg_getmsglist_param_last_msg":{}}'
)

EXAMPLES: list[tuple[str, str, Any]] = [
    ("seed-send-msg-param", SEND_MSG_PARAM, Message),
    ("seed-locator-array", LOCATOR_ARRAY, list[MsgLocator]),
    ("seed-import-msg-array", IMPORT_MSG_ARRAY, list[Message]),
    ("seed-get-msg-list-param", GET_MSG_LIST_PARAM, GetMsgListParam),
    ("seed-delete-param", DELETE_PARAM, MsgDeleteParam),
    ("seed-batch-send-param", BATCH_SEND_PARAM, BatchSendParam),
    ("protocol-1.5-received-c2c-text", RECEIVED_C2C_TEXT, Message),
    ("protocol-1.9-download-progress", DOWNLOAD_PROGRESS, DownloadElemResult),
    ("protocol-part4-get-msg-list-param", GET_MSG_LIST_PARAM_ISSUE_404, GetMsgListParam),
]
EXAMPLE_IDS = [name for name, _, _ in EXAMPLES]


@pytest.mark.parametrize(("name", "text", "type_"), EXAMPLES, ids=EXAMPLE_IDS)
def test_documented_example_round_trips(name: str, text: str, type_: Any) -> None:
    """Every documented C SDK JSON example decodes and re-encodes to the same JSON."""
    value = coerce(text, type_, what=name)
    assert json.loads(encode(value)) == json.loads(text)


@pytest.mark.parametrize(("name", "text", "type_"), EXAMPLES, ids=EXAMPLE_IDS)
def test_coerce_gives_one_result_for_every_input_form(name: str, text: str, type_: Any) -> None:
    """coerce turns a dict, a str, bytes and an already-built Struct into equal values."""
    from_str = coerce(text, type_, what=name)
    from_bytes = coerce(text.encode(), type_, what=name)
    from_dict = coerce(json.loads(text), type_, what=name)
    from_struct = coerce(from_str, type_, what=name)
    assert from_bytes == from_str
    assert from_dict == from_str
    assert from_struct == from_str


def test_decoded_examples_have_the_documented_values() -> None:
    """The seed examples decode into the attributes named after their keys (key minus prefix)."""
    msg = coerce(SEND_MSG_PARAM, Message, what="msg")
    assert msg == Message(
        elem_array=[TextElem(content="send text")],
        sender="user1",
        client_time=1551446728,
        server_time=1551446728,
    )
    (locator,) = coerce(LOCATOR_ARRAY, list[MsgLocator], what="locators")
    assert locator == MsgLocator(is_revoked=False, is_self=False, rand=12345678, seq=1, time=123)
    param = coerce(GET_MSG_LIST_PARAM, GetMsgListParam, what="param")
    assert param == GetMsgListParam(last_msg=Message(), count=100, is_remble=False, is_forward=True)
    batch = coerce(BATCH_SEND_PARAM, BatchSendParam, what="param")
    assert batch.identifier_array == ["user2", "user3"]
    assert batch.msg.elem_array == [TextElem(content="this is batch send msg")]
    progress = coerce(DOWNLOAD_PROGRESS, DownloadElemResult, what="progress")
    assert (progress.current_size, progress.total_size) == (10, 100)


# --- one message with an element of every kind ----------------------------------------------------

NESTED_MESSAGE = {
    "message_conv_id": "user3",
    "message_conv_type": 1,
    "message_sender": "user3",
    "message_seq": 7,
    "message_rand": 99,
    "message_server_time": 1551000000,
    "message_status": 2,
    "message_elem_array": [{"elem_type": 0, "text_elem_content": "forwarded"}],
}

ELEMENTS: dict[str, dict[str, Any]] = {
    "text": {"elem_type": 0, "text_elem_content": "hello 世界"},
    "image": {
        "elem_type": 1,
        "image_elem_orig_path": "/tmp/cat.png",
        "image_elem_level": 1,
        "image_elem_format": 3,
        "image_elem_orig_id": "img-uuid",
        "image_elem_orig_pic_height": 1080,
        "image_elem_orig_pic_width": 1920,
        "image_elem_orig_pic_size": 204800,
        "image_elem_thumb_id": "img-thumb",
        "image_elem_thumb_pic_height": 198,
        "image_elem_thumb_pic_width": 352,
        "image_elem_thumb_pic_size": 9000,
        "image_elem_large_id": "img-large",
        "image_elem_large_pic_height": 720,
        "image_elem_large_pic_width": 1280,
        "image_elem_large_pic_size": 80000,
        "image_elem_orig_url": "https://cos.example/orig.png",
        "image_elem_thumb_url": "https://cos.example/thumb.png",
        "image_elem_large_url": "https://cos.example/large.png",
        "image_elem_task_id": 3,
    },
    "sound": {
        "elem_type": 2,
        "sound_elem_file_path": "/tmp/voice.amr",
        "sound_elem_file_size": 3072,
        "sound_elem_file_time": 4,
        "sound_elem_file_id": "snd-uuid",
        "sound_elem_business_id": 1,
        "sound_elem_download_flag": 2,
        "sound_elem_url": "https://cos.example/voice.amr",
        "sound_elem_task_id": 4,
    },
    "custom": {
        "elem_type": 3,
        "custom_elem_data": '{"cmd":"ping"}',
        "custom_elem_desc": "push text",
        "custom_elem_ext": "apns ext",
        "custom_elem_sound": "ding.aiff",
    },
    "file": {
        "elem_type": 4,
        "file_elem_file_path": "/tmp/report.pdf",
        "file_elem_file_name": "report.pdf",
        "file_elem_file_size": 65536,
        "file_elem_file_id": "file-uuid",
        "file_elem_business_id": 1,
        "file_elem_download_flag": 2,
        "file_elem_url": "https://cos.example/report.pdf",
        "file_elem_task_id": 5,
    },
    "group-tips": {
        "elem_type": 5,
        "group_tips_elem_tip_type": 6,
        "group_tips_elem_op_user": "admin",
        "group_tips_elem_group_name": "team",
        "group_tips_elem_group_id": "@TGS#1",
        "group_tips_elem_time": 1551000001,
        "group_tips_elem_user_array": ["user2", "user3"],
        "group_tips_elem_group_change_info_array": [
            {"group_tips_group_change_info_flag": 1, "group_tips_group_change_info_value": "new name"}
        ],
        "group_tips_elem_member_change_info_array": [
            {
                "group_tips_member_change_info_identifier": "user2",
                "group_tips_member_change_info_shutupTime": 60,
            }
        ],
        "group_tips_elem_op_user_info": {"user_profile_identifier": "admin"},
        "group_tips_elem_op_group_memberinfo": {"group_member_info_identifier": "admin"},
        "group_tips_elem_changed_user_info_array": [{"user_profile_identifier": "user2"}],
        "group_tips_elem_changed_group_memberinfo_array": [{"group_member_info_identifier": "user2"}],
        "group_tips_elem_member_num": 3,
        "group_tips_elem_platform": 1,
    },
    "face": {"elem_type": 6, "face_elem_index": 0, "face_elem_buf": "smile"},
    "location": {
        "elem_type": 7,
        "location_elem_desc": "Tencent Binhai",
        "location_elem_longitude": 113.9345,
        "location_elem_latitude": 22.5228,
    },
    "group-report": {
        "elem_type": 8,
        "group_report_elem_report_type": 2,
        "group_report_elem_group_id": "@TGS#1",
        "group_report_elem_group_name": "team",
        "group_report_elem_op_user": "admin",
        "group_report_elem_msg": "welcome",
        "group_report_elem_user_data": "ud",
        "group_report_elem_op_user_info": {"user_profile_identifier": "admin"},
        "group_report_elem_op_group_memberinfo": {"group_member_info_identifier": "admin"},
        "group_report_elem_platform": 3,
        "group_report_elem_shut_up_time": 600,
        "group_report_elem_group_message_receive_option": 1,
    },
    "video": {
        "elem_type": 9,
        "video_elem_video_type": "mp4",
        "video_elem_video_size": 1048576,
        "video_elem_video_duration": 12,
        "video_elem_video_path": "/tmp/clip.mp4",
        "video_elem_image_type": "jpg",
        "video_elem_image_size": 20480,
        "video_elem_image_width": 640,
        "video_elem_image_height": 360,
        "video_elem_image_path": "/tmp/clip.jpg",
        "video_elem_video_id": "vid-uuid",
        "video_elem_business_id": 1,
        "video_elem_video_download_flag": 2,
        "video_elem_video_url": "https://cos.example/clip.mp4",
        "video_elem_image_id": "thumb-uuid",
        "video_elem_image_download_flag": 2,
        "video_elem_image_url": "https://cos.example/clip.jpg",
        "video_elem_task_id": 6,
    },
    "merge": {
        "elem_type": 12,
        "merge_elem_title": "chat history",
        "merge_elem_abstract_array": ["user3: forwarded"],
        "merge_elem_compatible_text": "upgrade to read",
        "merge_elem_message_array": [NESTED_MESSAGE],
        "merge_elem_layer_over_limit": False,
        "merge_elem_relay_pb_key": "pb",
        "merge_elem_relay_json_key": "json",
        "merge_elem_relay_buffer": "buf",
    },
}

# (kind, class, key prefix)
ELEMENT_KINDS: list[tuple[str, type[Any], str]] = [
    ("text", TextElem, "text_elem_"),
    ("image", ImageElem, "image_elem_"),
    ("sound", SoundElem, "sound_elem_"),
    ("custom", CustomElem, "custom_elem_"),
    ("file", FileElem, "file_elem_"),
    ("group-tips", GroupTipsElem, "group_tips_elem_"),
    ("face", FaceElem, "face_elem_"),
    ("location", LocationElem, "location_elem_"),
    ("group-report", GroupReportElem, "group_report_elem_"),
    ("video", VideoElem, "video_elem_"),
    ("merge", MergeElem, "merge_elem_"),
]

EVERY_KIND_MESSAGE: dict[str, Any] = {
    "message_elem_array": [ELEMENTS[kind] for kind, _, _ in ELEMENT_KINDS],
    "message_conv_id": "@TGS#1",
    "message_conv_type": 2,
    "message_sender": "user1",
    "message_priority": 1,
    "message_client_time": 1551446728,
    "message_server_time": 1551446729,
    "message_is_from_self": True,
    "message_platform": 4,
    "message_is_read": False,
    "message_is_online_msg": False,
    "message_is_peer_read": False,
    "message_status": 2,
    "message_unique_id": 6677889900112233445,
    "message_msg_id": "14400111550110000_1551446728_45598731",
    "message_rand": 45598731,
    "message_seq": 18446744073,
    "message_custom_int": 4294967295,
    "message_custom_str": "local",
    "message_cloud_custom_str": "cloud",
    "message_is_excluded_from_unread_count": True,
    "message_group_at_user_array": ["__kImSDK_MessageAtALL__"],
    "message_is_forward_message": False,
    "message_sender_profile": {"user_profile_identifier": "user1", "user_profile_nick_name": "One"},
    "message_sender_group_member_info": {"group_member_info_identifier": "user1"},
    "message_offlie_push_config": {"offline_push_config_desc": "mid spelling"},
    "message_offline_push_config": {
        "offline_push_config_desc": "you have a message",
        "offline_push_config_ext": "{}",
        "offline_push_config_flag": 0,
        "offline_push_config_ios_config": {
            "ios_offline_push_config_title": "t",
            "ios_offline_push_config_sound": "s",
            "ios_offline_push_config_ignore_badge": True,
        },
        "offline_push_config_android_config": {
            "android_offline_push_config_title": "t",
            "android_offline_push_config_sound": "s",
            "android_offline_push_config_notify_mode": 1,
            "android_offline_push_config_oppo_channel_id": "oppo",
        },
    },
    "message_excluded_from_last_message": False,
    "message_receipt_peer_read": False,
    "message_need_read_receipt": True,
    "message_support_message_extension": False,
    "message_is_broadcast_message": False,
    "message_has_sent_receipt": False,
    "message_group_receipt_read_count": 1,
    "message_group_receipt_unread_count": 2,
    "message_version": 1,
    "message_excluded_from_content_moderation": False,
    "message_custom_moderation_configuration_id": "mod",
    "message_has_risk_content": False,
    "message_risk_type_identified": 0,
    "message_target_group_member_array": ["user2"],
    "message_revoker_user_id": "user1",
    "message_revoker_nick_name": "One",
    "message_revoker_face_url": "https://example/face.png",
    "message_revoke_reason": "typo",
}


def _every_kind_message() -> Message:
    return coerce(json.dumps(EVERY_KIND_MESSAGE), Message, what="message")


def test_message_with_every_element_kind_round_trips() -> None:
    """A message carrying one element of every kind, and every Message key, round-trips exactly."""
    assert json.loads(encode(_every_kind_message())) == EVERY_KIND_MESSAGE


@pytest.mark.parametrize(
    ("index", "kind", "cls", "prefix"),
    [(i, kind, cls, prefix) for i, (kind, cls, prefix) in enumerate(ELEMENT_KINDS)],
    ids=[kind for kind, _, _ in ELEMENT_KINDS],
)
def test_element_decodes_to_its_class_with_prefixless_attributes(
    index: int, kind: str, cls: type[Any], prefix: str
) -> None:
    """Each element decodes to its class, and each JSON key is readable as key-minus-prefix."""
    elem = _every_kind_message().elem_array[index]
    assert type(elem) is cls
    for key, value in ELEMENTS[kind].items():
        if key == "elem_type":
            continue
        assert key.startswith(prefix), key
        attr = key.removeprefix(prefix)
        assert msgspec.to_builtins(getattr(elem, attr)) == value, attr


def test_message_keys_are_attributes_without_the_message_prefix() -> None:
    """Every `message_*` key is readable as the attribute named without the prefix."""
    msg = _every_kind_message()
    for key, value in EVERY_KIND_MESSAGE.items():
        assert msgspec.to_builtins(getattr(msg, key.removeprefix("message_"))) == value, key


def test_named_attributes_read_their_keys() -> None:
    """Spot checks of the rename rule: `ImageElem.orig_url`, `VideoElem.image_url`, nested Merge."""
    msg = _every_kind_message()
    image, video, merge = msg.elem_array[1], msg.elem_array[9], msg.elem_array[10]
    assert isinstance(image, ImageElem)
    assert image.orig_url == "https://cos.example/orig.png"
    assert image.thumb_pic_width == 352
    assert isinstance(video, VideoElem)
    assert video.image_url == "https://cos.example/clip.jpg"
    assert isinstance(merge, MergeElem)
    assert merge.message_array is not None
    (nested,) = merge.message_array
    assert isinstance(nested, Message)
    assert nested.elem_array == [TextElem(content="forwarded")]
    assert msg.push_config is not None
    assert msg.push_config.desc == "you have a message"
    assert msg.sender_profile is not None
    assert msg.sender_profile.nick_name == "One"


@pytest.mark.parametrize(
    ("elem_type", "cls"),
    [
        (0, TextElem),
        (1, ImageElem),
        (2, SoundElem),
        (3, CustomElem),
        (4, FileElem),
        (5, GroupTipsElem),
        (6, FaceElem),
        (7, LocationElem),
        (8, GroupReportElem),
        (9, VideoElem),
        (10, FriendChangeElem),
        (11, ProfileChangeElem),
        (12, MergeElem),
    ],
)
def test_elem_type_tag_selects_the_class(elem_type: int, cls: type[Any]) -> None:
    """The integer `elem_type` selects the element class, and encoding writes the same tag back."""
    required = {0: {"text_elem_content": ""}, 6: {"face_elem_index": 1}}.get(elem_type, {})
    msg = coerce({"message_elem_array": [{"elem_type": elem_type, **required}]}, Message, what="msg")
    (elem,) = msg.elem_array
    assert type(elem) is cls
    assert json.loads(encode(elem))["elem_type"] == elem_type


def test_struct_built_in_python_encodes_to_c_sdk_keys() -> None:
    """A Message built from attributes encodes to the C SDK's prefixed keys and integer tags."""
    msg = Message(elem_array=[TextElem(content="hi"), FaceElem(index=2)], sender="user1", seq=5)
    assert json.loads(encode(msg)) == {
        "message_elem_array": [
            {"elem_type": 0, "text_elem_content": "hi"},
            {"elem_type": 6, "face_elem_index": 2},
        ],
        "message_sender": "user1",
        "message_seq": 5,
    }


# --- is_remble / is_ramble ------------------------------------------------------------------------

RAMBLE_CASES = [
    (GetMsgListParam, "msg_getmsglist_param_", "remble", True),
    (GetMsgListParam, "msg_getmsglist_param_", "ramble", True),
    (GetMsgListParam, "msg_getmsglist_param_", "remble", False),
    (GetMsgListParam, "msg_getmsglist_param_", "ramble", False),
    (MsgDeleteParam, "msg_delete_param_", "remble", True),
    (MsgDeleteParam, "msg_delete_param_", "ramble", True),
    (MsgDeleteParam, "msg_delete_param_", "remble", False),
    (MsgDeleteParam, "msg_delete_param_", "ramble", False),
]


@pytest.mark.parametrize("form", ["str", "dict"])
@pytest.mark.parametrize(("cls", "prefix", "spelling", "flag"), RAMBLE_CASES)
def test_both_ramble_spellings_decode_into_is_remble(
    cls: type[Any], prefix: str, spelling: str, flag: bool, form: str
) -> None:
    """`_is_remble` (seed) and `_is_ramble` (v7) both land in `.is_remble`; only `_is_remble` is emitted."""
    raw = {f"{prefix}is_{spelling}": flag}
    value = coerce(json.dumps(raw) if form == "str" else raw, cls, what="param")
    assert value.is_remble is flag
    encoded = json.loads(encode(value))
    assert encoded[f"{prefix}is_remble"] is flag
    assert f"{prefix}is_ramble" not in encoded


@pytest.mark.parametrize(
    ("cls", "prefix"), [(GetMsgListParam, "msg_getmsglist_param_"), (MsgDeleteParam, "msg_delete_param_")]
)
def test_both_ramble_spellings_at_once_emit_one_key(cls: type[Any], prefix: str) -> None:
    """When both spellings are given, the encoded JSON still carries only `_is_remble`."""
    value = coerce({f"{prefix}is_remble": True, f"{prefix}is_ramble": True}, cls, what="param")
    assert value.is_remble is True
    assert list(json.loads(encode(value))) == [f"{prefix}is_remble"]


def test_ramble_keyword_folds_into_is_remble() -> None:
    """Building the Struct with the v7 keyword `is_ramble=` also sets `is_remble`."""
    assert GetMsgListParam(is_ramble=True).is_remble is True
    assert MsgDeleteParam(is_ramble=False).is_remble is False
    assert json.loads(encode(MsgDeleteParam(is_ramble=True))) == {"msg_delete_param_is_remble": True}


# --- forward compatibility: unknown keys ----------------------------------------------------------

UNKNOWN_KEY_CASES: list[tuple[str, Any, Any, Any]] = [
    (
        "message-top-level-and-element",
        Message,
        {
            "message_sender": "user1",
            "message_from_the_future": {"nested": [1, 2]},
            "message_elem_array": [
                {"elem_type": 0, "text_elem_content": "hi", "text_elem_new_key": True},
                {"elem_type": 1, "image_elem_orig_url": "u", "image_elem_hdr": 1},
            ],
        },
        Message(elem_array=[TextElem(content="hi"), ImageElem(orig_url="u")], sender="user1"),
    ),
    (
        "get-msg-list-param-and-nested-message",
        GetMsgListParam,
        {
            "msg_getmsglist_param_count": 5,
            "msg_getmsglist_param_new_filter": "x",
            "msg_getmsglist_param_last_msg": {"message_seq": 3, "message_new": 1},
        },
        GetMsgListParam(count=5, last_msg=Message(seq=3)),
    ),
    (
        "locator-array",
        list[MsgLocator],
        [{"message_locator_seq": 1, "message_locator_extra": "x"}],
        [MsgLocator(seq=1)],
    ),
    (
        "merge-nested-message",
        Message,
        {
            "message_elem_array": [
                {
                    "elem_type": 12,
                    "merge_elem_new": 1,
                    "merge_elem_message_array": [
                        {
                            "message_x": 1,
                            "message_elem_array": [{"elem_type": 6, "face_elem_index": 1, "y": 2}],
                        }
                    ],
                }
            ]
        },
        Message(elem_array=[MergeElem(message_array=[Message(elem_array=[FaceElem(index=1)])])]),
    ),
]


@pytest.mark.parametrize("form", ["str", "bytes", "dict"])
@pytest.mark.parametrize(
    ("name", "type_", "raw", "expected"), UNKNOWN_KEY_CASES, ids=[c[0] for c in UNKNOWN_KEY_CASES]
)
def test_unknown_keys_are_ignored(name: str, type_: Any, raw: Any, expected: Any, form: str) -> None:
    """Keys the model does not know (top level, in elements, in nested messages) decode without error."""
    value: Any = {"str": json.dumps(raw), "bytes": json.dumps(raw).encode(), "dict": raw}[form]
    assert coerce(value, type_, what=name) == expected


# --- bad input is TIM_ERR_JSON naming the offending key ---------------------------------------------

BAD_INPUT_CASES: list[tuple[str, Any, Any, str]] = [
    ("wrong-type", Message, {"message_seq": "x"}, "message_seq"),
    (
        "wrong-type-nested",
        GetMsgListParam,
        {"msg_getmsglist_param_last_msg": {"message_rand": "r"}},
        "message_rand",
    ),
    ("negative-count", GetMsgListParam, {"msg_getmsglist_param_count": -1}, "msg_getmsglist_param_count"),
    ("unknown-elem-type", Message, {"message_elem_array": [{"elem_type": 99}]}, "elem_type"),
    ("missing-text-content", Message, {"message_elem_array": [{"elem_type": 0}]}, "text_elem_content"),
    ("missing-face-index", Message, {"message_elem_array": [{"elem_type": 6}]}, "face_elem_index"),
    ("locator-wrong-type", list[MsgLocator], [{"message_locator_time": "noon"}], "message_locator_time"),
    (
        "batch-missing-msg",
        BatchSendParam,
        {"msg_batch_send_param_identifier_array": ["a"]},
        "msg_batch_send_param_msg",
    ),
]


@pytest.mark.parametrize("form", ["str", "bytes", "dict"])
@pytest.mark.parametrize(
    ("name", "type_", "raw", "key"), BAD_INPUT_CASES, ids=[c[0] for c in BAD_INPUT_CASES]
)
def test_bad_input_is_usage_error_naming_the_key(
    name: str, type_: Any, raw: Any, key: str, form: str
) -> None:
    """Invalid C SDK JSON raises UsageError with TIM_ERR_JSON (-3) and names the offending key."""
    value: Any = {"str": json.dumps(raw), "bytes": json.dumps(raw).encode(), "dict": raw}[form]
    with pytest.raises(UsageError) as caught:
        coerce(value, type_, what=name)
    assert caught.value.code == -3
    assert key in str(caught.value)
    assert name in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ['{"message_elem_array": [', "not json", b'{"message_seq": 1,}', ""],
    ids=["truncated", "not-json", "trailing-comma", "empty"],
)
def test_malformed_json_text_is_usage_error(text: str | bytes) -> None:
    """Malformed JSON text raises UsageError with TIM_ERR_JSON (-3) naming what was being parsed."""
    with pytest.raises(UsageError) as caught:
        coerce(text, Message, what="json_msg_param")
    assert caught.value.code == -3
    assert "json_msg_param" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", [None, 42, ["not", "an", "object"]], ids=["none", "int", "list"])
def test_non_object_input_is_usage_error(value: Any) -> None:
    """A value that is neither a Struct, a dict nor JSON text of an object is TIM_ERR_JSON."""
    with pytest.raises(UsageError) as caught:
        coerce(value, Message, what="msg")
    assert caught.value.code == -3


# --- result objects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        (
            DownloadElemResult,
            {"msg_download_elem_result_current_size": 0, "msg_download_elem_result_total_size": 100},
        ),
        (
            BatchSendResult,
            {
                "msg_batch_send_result_identifier": "user2",
                "msg_batch_send_result_code": 0,
                "msg_batch_send_result_desc": "",
            },
        ),
    ],
    ids=["download-progress-at-start", "batch-send-success"],
)
def test_result_objects_keep_zero_valued_keys(type_: Any, raw: dict[str, Any]) -> None:
    """Result objects re-encode every documented key, even when its value is 0 or empty."""
    value = coerce(raw, type_, what="result")
    assert json.loads(encode(value)) == raw


def test_messages_and_batch_results_are_not_tracked_by_the_gc() -> None:
    """A batch's per-recipient Message and BatchSendResult stay out of the collector's passes."""
    import gc

    from aio_tim.types import BatchSendResult, Message, TextElem

    msg = Message(elem_array=[TextElem(content="hi")], sender="a")
    result = BatchSendResult("b", 0, "", msg)
    assert not gc.is_tracked(msg)
    assert not gc.is_tracked(result)
    assert gc.is_tracked(msg.elem_array)  # its containers still are: a cycle through them is found


def test_elems_of_a_kind_are_typed_and_in_order() -> None:
    """`elems(FileElem)` keeps only that kind, in order (mypy sees `list[FileElem]`); `text` joins texts."""
    from aio_tim.types import FaceElem, FileElem, Message, TextElem

    msg = Message(
        elem_array=[TextElem(content="a"), FileElem(url="u1"), FaceElem(index=1), TextElem(content="b"),
                    FileElem(url="u2")]
    )  # fmt: skip
    assert [f.url for f in msg.elems(FileElem)] == ["u1", "u2"]
    assert msg.elems(TextElem) == [TextElem(content="a"), TextElem(content="b")]
    assert msg.text == "ab"
    assert Message(elem_array=[FaceElem(index=1)]).text == "" and Message().elems(TextElem) == []
    assert b"message_text" not in msgspec.json.encode(msg)  # a property, not a field: the JSON is unchanged
