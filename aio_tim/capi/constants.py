"""The C SDK's constants: results, enums and JSON key names (TIMCloudDef.h), for ported code.

Key names are derived from the Structs' rename rules, so they cannot drift from the JSON that
aio_tim reads and writes: `kTIMMsgElemArray == "message_elem_array"`.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ..types import (
    BatchSendParam,
    BatchSendResult,
    ConvType,
    DownloadElemParam,
    DownloadElemResult,
    DownloadType,
    ElemType,
    GetMsgListParam,
    Message,
    MsgDeleteParam,
    MsgLocator,
    MsgStatus,
    TIMResult,
)
from ..types.friendship import (
    FriendGroupInfo,
    FriendProfile,
    FriendProfileItem,
    FriendResult,
    FriendshipAddFriendParam,
    FriendshipCheckFriendTypeParam,
    FriendshipCheckFriendTypeResult,
    FriendshipCreateFriendGroupParam,
    FriendshipDeleteFriendParam,
    FriendshipGetProfileListParam,
    FriendshipModifyFriendProfileParam,
    UserProfileItem,
)
from ..types.group import (
    CreateGroupParam,
    CreateGroupResult,
    GroupAddOption,
    GroupDeleteMemberParam,
    GroupDeleteMemberResult,
    GroupGetMemberInfoListParam,
    GroupGetMemberInfoListResult,
    GroupInviteMemberParam,
    GroupInviteMemberResult,
    GroupMemberGetInfoOption,
    GroupMemberInfo,
    GroupMemberModifyInfoFlag,
    GroupMemberRole,
    GroupMemberRoleFlag,
    GroupModifyMemberInfoParam,
    GroupReceiveMessageOpt,
    GroupType,
    HandleGroupMemberResult,
)
from ..types.search import KeywordListMatchType, MsgSearchParam, MsgSearchResult, MsgSearchResultItem

TIM_SUCC: Final = int(TIMResult.SUCC)
TIM_ERR_SDKUNINIT: Final = int(TIMResult.ERR_SDKUNINIT)
TIM_ERR_NOTLOGIN: Final = int(TIMResult.ERR_NOTLOGIN)
TIM_ERR_JSON: Final = int(TIMResult.ERR_JSON)
TIM_ERR_PARAM: Final = int(TIMResult.ERR_PARAM)
TIM_ERR_CONV: Final = int(TIMResult.ERR_CONV)
TIM_ERR_GROUP: Final = int(TIMResult.ERR_GROUP)
ERR_SUCC: Final = 0

kTIMConv_Invalid: Final = int(ConvType.INVALID)
kTIMConv_C2C: Final = int(ConvType.C2C)
kTIMConv_Group: Final = int(ConvType.GROUP)
kTIMConv_System: Final = int(ConvType.SYSTEM)

kTIMElem_Text: Final = int(ElemType.TEXT)
kTIMElem_Image: Final = int(ElemType.IMAGE)
kTIMElem_Sound: Final = int(ElemType.SOUND)
kTIMElem_Custom: Final = int(ElemType.CUSTOM)
kTIMElem_File: Final = int(ElemType.FILE)
kTIMElem_GroupTips: Final = int(ElemType.GROUP_TIPS)
kTIMElem_Face: Final = int(ElemType.FACE)
kTIMElem_Location: Final = int(ElemType.LOCATION)
kTIMElem_GroupReport: Final = int(ElemType.GROUP_REPORT)
kTIMElem_Video: Final = int(ElemType.VIDEO)
kTIMElem_FriendChange: Final = int(ElemType.FRIEND_CHANGE)
kTIMElem_ProfileChange: Final = int(ElemType.PROFILE_CHANGE)
kTIMElem_Merge: Final = int(ElemType.MERGE)
kTIMElem_Invalid: Final = int(ElemType.INVALID)

kTIMMsg_Sending: Final = int(MsgStatus.SENDING)
kTIMMsg_SendSucc: Final = int(MsgStatus.SEND_SUCC)
kTIMMsg_SendFail: Final = int(MsgStatus.SEND_FAIL)
kTIMMsg_Deleted: Final = int(MsgStatus.DELETED)
kTIMMsg_LocalImported: Final = int(MsgStatus.LOCAL_IMPORTED)
kTIMMsg_Revoked: Final = int(MsgStatus.REVOKED)
kTIMMsg_Cancel: Final = int(MsgStatus.CANCEL)

kTIMDownload_VideoThumb: Final = int(DownloadType.VIDEO_THUMB)
kTIMDownload_File: Final = int(DownloadType.FILE)
kTIMDownload_Video: Final = int(DownloadType.VIDEO)
kTIMDownload_Sound: Final = int(DownloadType.SOUND)

kTIMGroup_Public: Final = int(GroupType.PUBLIC)
kTIMGroup_Private: Final = int(GroupType.PRIVATE)
kTIMGroup_ChatRoom: Final = int(GroupType.CHATROOM)
kTIMGroup_BChatRoom: Final = int(GroupType.BCHATROOM)
kTIMGroup_AVChatRoom: Final = int(GroupType.AVCHATROOM)

kTIMGroupAddOpt_Forbid: Final = int(GroupAddOption.FORBID)
kTIMGroupAddOpt_Auth: Final = int(GroupAddOption.AUTH)
kTIMGroupAddOpt_Any: Final = int(GroupAddOption.ANY)

kTIMMemberRole_Normal: Final = int(GroupMemberRole.NORMAL)
kTIMMemberRole_Admin: Final = int(GroupMemberRole.ADMIN)
kTIMMemberRole_SuperAdmin: Final = int(GroupMemberRole.SUPER_ADMIN)

kTIMGroupMember_HandledErr: Final = int(HandleGroupMemberResult.HANDLED_ERR)
kTIMGroupMember_HandledSuc: Final = int(HandleGroupMemberResult.HANDLED_SUC)
kTIMGroupMember_Included: Final = int(HandleGroupMemberResult.INCLUDED)
kTIMGroupMember_Invited: Final = int(HandleGroupMemberResult.INVITED)

kTIMGroupMemberModifyFlag_None: Final = int(GroupMemberModifyInfoFlag.NONE)
kTIMGroupMemberModifyFlag_MsgFlag: Final = int(GroupMemberModifyInfoFlag.MSG_FLAG)
kTIMGroupMemberModifyFlag_MemberRole: Final = int(GroupMemberModifyInfoFlag.MEMBER_ROLE)
kTIMGroupMemberModifyFlag_ShutupTime: Final = int(GroupMemberModifyInfoFlag.SHUTUP_TIME)
kTIMGroupMemberModifyFlag_NameCard: Final = int(GroupMemberModifyInfoFlag.NAME_CARD)
kTIMGroupMemberModifyFlag_Custom: Final = int(GroupMemberModifyInfoFlag.CUSTOM)

kTIMRecvGroupMsgOpt_ReceiveAndNotify: Final = int(GroupReceiveMessageOpt.RECEIVE_AND_NOTIFY)
kTIMRecvGroupMsgOpt_NotReceive: Final = int(GroupReceiveMessageOpt.NOT_RECEIVE)
kTIMRecvGroupMsgOpt_ReceiveNotNotify: Final = int(GroupReceiveMessageOpt.RECEIVE_NOT_NOTIFY)

kTIMGroupMemberRoleFlag_All: Final = int(GroupMemberRoleFlag.ALL)
kTIMGroupMemberRoleFlag_Owner: Final = int(GroupMemberRoleFlag.OWNER)
kTIMGroupMemberRoleFlag_Admin: Final = int(GroupMemberRoleFlag.ADMIN)
kTIMGroupMemberRoleFlag_Member: Final = int(GroupMemberRoleFlag.MEMBER)

kTIMElemType: Final = "elem_type"

kTIMKeywordListMatchType_Or: Final = int(KeywordListMatchType.OR)
kTIMKeywordListMatchType_And: Final = int(KeywordListMatchType.AND)

# (constant prefix, Struct) pairs: kTIMMsg + ElemArray -> Message.elem_array's JSON key.
_KEY_FAMILIES: Final = (
    ("kTIMMsg", Message),
    ("kTIMMsgLocator", MsgLocator),
    ("kTIMMsgGetMsgListParam", GetMsgListParam),
    ("kTIMMsgDeleteParam", MsgDeleteParam),
    ("kTIMMsgDownloadElemParam", DownloadElemParam),
    ("kTIMMsgDownloadElemResult", DownloadElemResult),
    ("kTIMMsgBatchSendParam", BatchSendParam),
    ("kTIMMsgBatchSendResult", BatchSendResult),
    ("kTIMGroupMemberInfo", GroupMemberInfo),
    ("kTIMCreateGroupParam", CreateGroupParam),
    ("kTIMCreateGroupResult", CreateGroupResult),
    ("kTIMGroupInviteMemberParam", GroupInviteMemberParam),
    ("kTIMGroupInviteMemberResult", GroupInviteMemberResult),
    ("kTIMGroupDeleteMemberParam", GroupDeleteMemberParam),
    ("kTIMGroupDeleteMemberResult", GroupDeleteMemberResult),
    ("kTIMMsgSearchParam", MsgSearchParam),
    ("kTIMMsgSearchResult", MsgSearchResult),
    ("kTIMMsgSearchResultItem", MsgSearchResultItem),
    ("kTIMGroupModifyMemberInfoParam", GroupModifyMemberInfoParam),
    ("kTIMGroupMemberGetInfoOption", GroupMemberGetInfoOption),
    ("kTIMGroupGetMemberInfoListParam", GroupGetMemberInfoListParam),
    ("kTIMGroupGetMemberInfoListResult", GroupGetMemberInfoListResult),
    ("kTIMFriendshipAddFriendParam", FriendshipAddFriendParam),
    ("kTIMFriendshipDeleteFriendParam", FriendshipDeleteFriendParam),
    ("kTIMFriendshipModifyFriendProfileParam", FriendshipModifyFriendProfileParam),
    ("kTIMFriendProfileItem", FriendProfileItem),
    ("kTIMFriendProfile", FriendProfile),
    ("kTIMFriendResult", FriendResult),
    ("kTIMFriendshipCheckFriendTypeParam", FriendshipCheckFriendTypeParam),
    ("kTIMFriendshipCheckFriendTypeResult", FriendshipCheckFriendTypeResult),
    ("kTIMFriendshipCreateFriendGroupParam", FriendshipCreateFriendGroupParam),
    ("kTIMFriendGroupInfo", FriendGroupInfo),
    ("kTIMFriendshipGetProfileListParam", FriendshipGetProfileListParam),
    ("kTIMUserProfileItem", UserProfileItem),
)

# Where the C SDK's constant name does not follow its key (its own spellings, kept for ports).
_RENAMED: Final = {
    "kTIMMsgIsFromSelf": "kTIMMsgIsFormSelf",
    "kTIMMsgGetMsgListParamIsRemble": "kTIMMsgGetMsgListParamIsRamble",
    "kTIMMsgDeleteParamIsRemble": "kTIMMsgDeleteParamIsRamble",
    "kTIMCreateGroupParamMaxMemberNum": "kTIMCreateGroupParamMaxMemberCount",
    "kTIMCreateGroupResultGroupid": "kTIMCreateGroupResultGroupId",
    "kTIMMsgSearchParamSendIndentifierArray": "kTIMMsgSearchParamSenderIdentifierArray",
    "kTIMGroupGetMemberInfoListResultNextSeq": "kTIMGroupGetMemberInfoListResultNexSeq",
}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _key_constants() -> dict[str, str]:
    constants: dict[str, str] = {}
    for prefix, struct in _KEY_FAMILIES:
        for field in msgspec.structs.fields(struct):
            if field.name in ("is_ramble", "send_identifier_array"):
                continue  # the other spelling decodes too, but the constant names the header's key
            name = prefix + _camel(field.name)
            constants[_RENAMED.get(name, name)] = field.encode_name
            constants.setdefault(name, field.encode_name)
    return constants


KEYS: Final = _key_constants()
globals().update(KEYS)

# Element keys used by the seed's examples.
kTIMTextElemContent: Final = "text_elem_content"
kTIMFaceElemIndex: Final = "face_elem_index"
kTIMFaceElemBuf: Final = "face_elem_buf"
kTIMCustomElemData: Final = "custom_elem_data"
kTIMFileElemFilePath: Final = "file_elem_file_path"
kTIMImageElemOrigPath: Final = "image_elem_orig_path"


def __getattr__(name: str) -> str:
    # The generated key constants live in globals(); this only serves static checkers' misses.
    try:
        return KEYS[name]
    except KeyError:
        raise AttributeError(name) from None
