"""`Message` and its elements, in the C SDK's JSON keys (listed on the docs' mapping page).

Python attribute = JSON key minus the object's prefix: `Message.elem_array` is
`message_elem_array`, `TextElem.content` is `text_elem_content`. Elements are a tagged union on
`elem_type` with the C SDK's integer tags. Every field is optional on decode (the C SDK fills what it
knows), and absent fields stay absent on encode, so any C SDK JSON round-trips unchanged.

    >>> msg = Message(elem_array=[TextElem(content="hi")])
    >>> encode(msg)
    b'{"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]}'
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec

from ._base import TIMStruct, UInt, UInt32, UInt64, encode, prefixed
from .enums import ElemType

__all__ = [
    "SENDABLE_ELEM_TYPES",
    "AndroidOfflinePushConfig",
    "CustomElem",
    "Elem",
    "FaceElem",
    "FileElem",
    "FriendChangeElem",
    "GroupReportElem",
    "GroupTipsElem",
    "ImageElem",
    "IosOfflinePushConfig",
    "LocationElem",
    "MergeElem",
    "Message",
    "OfflinePushConfig",
    "ProfileChangeElem",
    "SoundElem",
    "TextElem",
    "UserProfile",
    "VideoElem",
    "encode",
]

_JSONObject = dict[str, Any]
ElemT = TypeVar("ElemT", bound="ElemBase")


class ElemBase(TIMStruct, tag_field="elem_type"):
    """Common base of the elements; `elem_type` is the tag and is written on every element."""

    sendable: ClassVar[bool] = True


class TextElem(ElemBase, tag=int(ElemType.TEXT), rename=prefixed("text_elem_")):
    """Text (`elem_type` 0); JSON keys are `text_elem_` + the attribute.

    The one required field is `content`:

        >>> encode(TextElem(content="hi"))
        b'{"elem_type":0,"text_elem_content":"hi"}'
    """

    content: str


class ImageElem(ElemBase, tag=int(ElemType.IMAGE), rename=prefixed("image_elem_")):
    """An image (`elem_type` 1); JSON keys are `image_elem_` + the attribute.

    To send one, name a local file: it is uploaded before the message, and its id, URL, size,
    width, height and format are filled in. A received one carries `orig_url`, `large_url` and
    `thumb_url`.

        >>> encode(ImageElem(orig_path="photo.jpg"))
        b'{"elem_type":1,"image_elem_orig_path":"photo.jpg"}'
    """

    orig_path: str | None = None
    level: UInt | None = None
    format: int | None = None
    orig_id: str | None = None
    orig_pic_height: UInt | None = None
    orig_pic_width: UInt | None = None
    orig_pic_size: UInt | None = None
    thumb_id: str | None = None
    thumb_pic_height: UInt | None = None
    thumb_pic_width: UInt | None = None
    thumb_pic_size: UInt | None = None
    large_id: str | None = None
    large_pic_height: UInt | None = None
    large_pic_width: UInt | None = None
    large_pic_size: UInt | None = None
    orig_url: str | None = None
    thumb_url: str | None = None
    large_url: str | None = None
    task_id: int | None = None


class SoundElem(ElemBase, tag=int(ElemType.SOUND), rename=prefixed("sound_elem_")):
    """A voice clip (`elem_type` 2); JSON keys are `sound_elem_` + the attribute.

    `file_path` names a local file to upload; `file_time` is its length in seconds:

        >>> encode(SoundElem(file_path="hello.m4a", file_time=3))
        b'{"elem_type":2,"sound_elem_file_path":"hello.m4a","sound_elem_file_time":3}'
    """

    file_path: str | None = None
    file_size: UInt | None = None
    file_time: UInt | None = None
    file_id: str | None = None
    business_id: UInt | None = None
    download_flag: UInt | None = None
    url: str | None = None
    task_id: int | None = None


class CustomElem(ElemBase, tag=int(ElemType.CUSTOM), rename=prefixed("custom_elem_")):
    """App-defined content (`elem_type` 3); JSON keys are `custom_elem_` + the attribute.

    `data` is yours; `desc` is the text offline pushes show:

        >>> encode(CustomElem(data="order:42", desc="Your order shipped"))
        b'{"elem_type":3,"custom_elem_data":"order:42","custom_elem_desc":"Your order shipped"}'
    """

    data: str | None = None
    desc: str | None = None
    ext: str | None = None
    sound: str | None = None


class FileElem(ElemBase, tag=int(ElemType.FILE), rename=prefixed("file_elem_")):
    """A file (`elem_type` 4); JSON keys are `file_elem_` + the attribute.

    `file_path` names a local file to upload; a received one carries `file_id` and `url`:

        >>> encode(FileElem(file_path="report.pdf", file_name="Q3 report.pdf"))
        b'{"elem_type":4,"file_elem_file_path":"report.pdf","file_elem_file_name":"Q3 report.pdf"}'
    """

    file_path: str | None = None
    file_name: str | None = None
    file_size: UInt | None = None
    file_id: str | None = None
    business_id: UInt | None = None
    download_flag: UInt | None = None
    url: str | None = None
    task_id: int | None = None


class GroupTipsElem(ElemBase, tag=int(ElemType.GROUP_TIPS), rename=prefixed("group_tips_elem_")):
    """Server-generated group notice: decodes, but cannot be sent."""

    sendable: ClassVar[bool] = False

    tip_type: UInt | None = None
    op_user: str | None = None
    group_name: str | None = None
    group_id: str | None = None
    time: UInt | None = None
    user_array: list[str] | None = None
    group_change_info_array: list[_JSONObject] | None = None
    member_change_info_array: list[_JSONObject] | None = None
    op_user_info: _JSONObject | None = None
    op_group_memberinfo: _JSONObject | None = None
    changed_user_info_array: list[_JSONObject] | None = None
    changed_group_memberinfo_array: list[_JSONObject] | None = None
    member_num: UInt | None = None
    platform: UInt | None = None


class FaceElem(ElemBase, tag=int(ElemType.FACE), rename=prefixed("face_elem_")):
    """An emoticon (`elem_type` 6); JSON keys are `face_elem_` + the attribute.

    `index` picks it from your app's set; `buf` may carry extra data:

        >>> encode(FaceElem(index=3))
        b'{"elem_type":6,"face_elem_index":3}'
    """

    index: int
    buf: str | None = None


class LocationElem(ElemBase, tag=int(ElemType.LOCATION), rename=prefixed("location_elem_")):
    """A place (`elem_type` 7); JSON keys are `location_elem_` + the attribute.

    Coordinates are degrees:

        >>> encode(LocationElem(desc="Office", longitude=113.94, latitude=22.54))
        b'{"elem_type":7,"location_elem_desc":"Office","location_elem_longitude":113.94,"location_elem_latitude":22.54}'
    """

    desc: str | None = None
    longitude: float | None = None
    latitude: float | None = None


class GroupReportElem(ElemBase, tag=int(ElemType.GROUP_REPORT), rename=prefixed("group_report_elem_")):
    """Server-generated group system notice: decodes, but cannot be sent."""

    sendable: ClassVar[bool] = False

    report_type: UInt | None = None
    group_id: str | None = None
    group_name: str | None = None
    op_user: str | None = None
    msg: str | None = None
    user_data: str | None = None
    op_user_info: _JSONObject | None = None
    op_group_memberinfo: _JSONObject | None = None
    platform: UInt | None = None
    shut_up_time: UInt | None = None
    group_message_receive_option: UInt | None = None


class VideoElem(ElemBase, tag=int(ElemType.VIDEO), rename=prefixed("video_elem_")):
    """A video and its thumbnail (`elem_type` 9); JSON keys are `video_elem_` + the attribute.

    `video_path` and `image_path` (the thumbnail) name local files; both are uploaded:

        >>> encode(VideoElem(video_path="clip.mp4", image_path="clip.jpg"))
        b'{"elem_type":9,"video_elem_video_path":"clip.mp4","video_elem_image_path":"clip.jpg"}'
    """

    video_type: str | None = None
    video_size: UInt | None = None
    video_duration: UInt | None = None
    video_path: str | None = None
    image_type: str | None = None
    image_size: UInt | None = None
    image_width: UInt | None = None
    image_height: UInt | None = None
    image_path: str | None = None
    video_id: str | None = None
    business_id: UInt | None = None
    video_download_flag: UInt | None = None
    video_url: str | None = None
    image_id: str | None = None
    image_download_flag: UInt | None = None
    image_url: str | None = None
    task_id: int | None = None


class FriendChangeElem(ElemBase, tag=int(ElemType.FRIEND_CHANGE)):
    """Relationship-chain notice; its keys are not modelled (they decode and are ignored)."""

    sendable: ClassVar[bool] = False


class ProfileChangeElem(ElemBase, tag=int(ElemType.PROFILE_CHANGE)):
    """Profile-change notice; its keys are not modelled (they decode and are ignored)."""

    sendable: ClassVar[bool] = False


class MergeElem(ElemBase, tag=int(ElemType.MERGE), rename=prefixed("merge_elem_")):
    """Forwarded messages merged into one (`elem_type` 12); JSON keys are `merge_elem_` + the attribute.

    `message_array` holds the messages, `title` and `abstract_array` what a chat list shows:

        >>> encode(MergeElem(title="Chat history", abstract_array=["bob: hi"]))
        b'{"elem_type":12,"merge_elem_title":"Chat history","merge_elem_abstract_array":["bob: hi"]}'
    """

    title: str | None = None
    abstract_array: list[str] | None = None
    compatible_text: str | None = None
    message_array: list[Message] | None = None
    layer_over_limit: bool | None = None
    relay_pb_key: str | None = None
    relay_json_key: str | None = None
    relay_buffer: str | None = None


Elem = (
    TextElem
    | ImageElem
    | SoundElem
    | CustomElem
    | FileElem
    | GroupTipsElem
    | FaceElem
    | LocationElem
    | GroupReportElem
    | VideoElem
    | FriendChangeElem
    | ProfileChangeElem
    | MergeElem
)

SENDABLE_ELEM_TYPES: tuple[type[ElemBase], ...] = (
    TextElem,
    ImageElem,
    SoundElem,
    CustomElem,
    FileElem,
    FaceElem,
    LocationElem,
    VideoElem,
    MergeElem,
)


class UserProfile(TIMStruct, rename=prefixed("user_profile_")):
    """A user's profile, as received in `Message.sender_profile`; JSON keys `user_profile_*`."""

    identifier: str | None = None
    nick_name: str | None = None
    gender: UInt | None = None
    face_url: str | None = None
    self_signature: str | None = None
    remark: str | None = None
    add_permission: UInt | None = None
    location: str | None = None
    language: UInt | None = None
    birthday: UInt | None = None
    level: UInt | None = None
    role: UInt | None = None
    custom_string_array: list[_JSONObject] | None = None


class IosOfflinePushConfig(TIMStruct, rename=prefixed("ios_offline_push_config_")):
    """iOS offline push options; JSON keys `ios_offline_push_config_*`."""

    title: str | None = None
    sound: str | None = None
    ignore_badge: bool | None = None


class AndroidOfflinePushConfig(TIMStruct, rename=prefixed("android_offline_push_config_")):
    """Android offline push options; JSON keys `android_offline_push_config_*`."""

    title: str | None = None
    sound: str | None = None
    notify_mode: UInt | None = None
    oppo_channel_id: str | None = None


class OfflinePushConfig(TIMStruct, rename=prefixed("offline_push_config_")):
    """How a message shows as an offline push (`Message.offline_push_config`); JSON keys
    `offline_push_config_*`."""

    desc: str | None = None
    ext: str | None = None
    flag: UInt | None = None
    ios_config: IosOfflinePushConfig | None = None
    android_config: AndroidOfflinePushConfig | None = None


class Message(TIMStruct, rename=prefixed("message_"), gc=False):
    """A C SDK message; the docs' C SDK mapping page lists the keys that matter.

    JSON keys are `message_` + the attribute; unset fields stay out of the JSON:

        >>> msg = Message(elem_array=[TextElem(content="hello")], sender="user1")
        >>> msg
        Message(elem_array=[TextElem(content='hello')], sender='user1')
        >>> encode(msg)
        b'{"message_elem_array":[{"elem_type":0,"text_elem_content":"hello"}],"message_sender":"user1"}'

    Operations fill in the rest: `send_new_msg` returns it with `conv_id`, `seq`, `rand`,
    `server_time`, `msg_id` (TIM's MsgKey) and `status`.

    Messages are not tracked by the garbage collector (`gc=False`): a batch send returns one per
    recipient, and the collector's passes over 100,000 of them were a third of the batch's client
    CPU. So a message must never (through a merged element's `message_array`) contain itself:
    such a cycle would never be freed. Decoded JSON cannot form one.
    """

    elem_array: list[Elem] = msgspec.field(default_factory=list)
    conv_id: str | None = None
    conv_type: UInt | None = None
    sender: str | None = None
    priority: UInt | None = None
    client_time: UInt64 | None = None
    server_time: UInt64 | None = None
    is_from_self: bool | None = None
    platform: UInt | None = None
    is_read: bool | None = None
    is_online_msg: bool | None = None
    is_peer_read: bool | None = None
    status: UInt | None = None
    unique_id: UInt64 | None = None
    msg_id: str | None = None
    rand: UInt64 | None = None
    seq: UInt64 | None = None
    custom_int: UInt32 | None = None
    custom_str: str | None = None
    cloud_custom_str: str | None = None
    is_excluded_from_unread_count: bool | None = None
    group_at_user_array: list[str] | None = None
    is_forward_message: bool | None = None
    sender_profile: UserProfile | None = None
    sender_group_member_info: _JSONObject | None = None
    offlie_push_config: OfflinePushConfig | None = None  # (sic) the mid-era SDK's spelling
    offline_push_config: OfflinePushConfig | None = None
    excluded_from_last_message: bool | None = None
    # v7 additions
    receipt_peer_read: bool | None = None
    need_read_receipt: bool | None = None
    support_message_extension: bool | None = None
    is_broadcast_message: bool | None = None
    has_sent_receipt: bool | None = None
    group_receipt_read_count: UInt | None = None
    group_receipt_unread_count: UInt | None = None
    version: UInt | None = None
    excluded_from_content_moderation: bool | None = None
    custom_moderation_configuration_id: str | None = None
    has_risk_content: bool | None = None
    risk_type_identified: UInt | None = None
    target_group_member_array: list[str] | None = None
    revoker_user_id: str | None = None
    revoker_nick_name: str | None = None
    revoker_face_url: str | None = None
    revoke_reason: str | None = None

    def elems(self, kind: type[ElemT]) -> list[ElemT]:
        """The elements of one kind, typed as that kind (no isinstance chain over the union):

        >>> msg = Message(elem_array=[TextElem(content="see"), FileElem(url="https://f/1")])
        >>> msg.elems(FileElem)[0].url  # mypy: FileElem, so .url type-checks
        'https://f/1'
        """
        return [elem for elem in self.elem_array if isinstance(elem, kind)]

    @property
    def text(self) -> str:
        """The text elements' contents, joined with no separator (`""` if there is none).

        >>> Message(elem_array=[TextElem(content="hi "), FaceElem(index=1), TextElem(content="bob")]).text
        'hi bob'
        """
        return "".join(elem.content for elem in self.elems(TextElem))

    @property
    def push_config(self) -> OfflinePushConfig | None:
        """The offline push config under either spelling."""
        return self.offline_push_config or self.offlie_push_config
