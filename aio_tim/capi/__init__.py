"""`aio_tim.capi`: the C SDK's functions, names and constants, for code ported from C/C++ and for
synchronous code. See `functions` for the calling convention."""

from .constants import *  # noqa: F403
from .constants import KEYS
from .conv import (
    TIMConvAddConversationsToGroup,
    TIMConvCancelDraft,
    TIMConvCleanConversationUnreadMessageCount,
    TIMConvCreateConversationGroup,
    TIMConvDelete,
    TIMConvDeleteConversationGroup,
    TIMConvDeleteConversationList,
    TIMConvDeleteConversationsFromGroup,
    TIMConvGetConversationGroupList,
    TIMConvGetConversationListByFilter,
    TIMConvGetConvInfo,
    TIMConvGetConvList,
    TIMConvGetTotalUnreadMessageCount,
    TIMConvGetUnreadMessageCountByFilter,
    TIMConvMarkConversation,
    TIMConvPinConversation,
    TIMConvRenameConversationGroup,
    TIMConvSetConversationCustomData,
    TIMConvSetDraft,
)
from .edits import TIMMsgClearHistoryMessage, TIMMsgListDelete, TIMMsgModifyMessage
from .friendship import (
    TIMFriendshipAddFriend,
    TIMFriendshipAddToBlackList,
    TIMFriendshipCheckFriendType,
    TIMFriendshipCreateFriendGroup,
    TIMFriendshipDeleteFriend,
    TIMFriendshipDeleteFriendGroup,
    TIMFriendshipDeleteFromBlackList,
    TIMFriendshipGetBlackList,
    TIMFriendshipGetFriendGroupList,
    TIMFriendshipGetFriendProfileList,
    TIMFriendshipModifyFriendProfile,
    TIMProfileGetUserProfileList,
    TIMProfileModifySelfUserProfile,
)
from .functions import (
    TIMInit,
    TIMLogin,
    TIMLogout,
    TIMMsgBatchSend,
    TIMMsgDelete,
    TIMMsgDownloadElemToPath,
    TIMMsgFindByMsgLocatorList,
    TIMMsgGetMsgList,
    TIMMsgImportMsgList,
    TIMMsgReportReaded,
    TIMMsgRevoke,
    TIMMsgSaveMsg,
    TIMMsgSendNewMsg,
    TIMUninit,
)
from .group import (
    TIMGroupCreate,
    TIMGroupDelete,
    TIMGroupDeleteMember,
    TIMGroupGetMemberInfoList,
    TIMGroupInviteMember,
    TIMGroupModifyMemberInfo,
)
from .receipts import (
    TIMMsgDeleteMessageExtensions,
    TIMMsgGetGroupMessageReadMemberList,
    TIMMsgGetMessageExtensions,
    TIMMsgGetMessageReadReceipts,
    TIMMsgSendMessageReadReceipts,
    TIMMsgSetMessageExtensions,
)
from .receive import (
    TIMAddRecvNewMsgCallback,
    TIMRemoveRecvNewMsgCallback,
    TIMSetMsgReadedReceiptCallback,
    TIMSetMsgRevokeCallback,
)
from .search import TIMMsgFindMessages, TIMMsgSearchLocalMessages, TIMMsgSetLocalCustomData
from .sending import TIMMsgCancelSend, TIMMsgSendMessage

globals().update(KEYS)

__all__ = [
    "TIMAddRecvNewMsgCallback",
    "TIMConvAddConversationsToGroup",
    "TIMConvCancelDraft",
    "TIMConvCleanConversationUnreadMessageCount",
    "TIMConvCreateConversationGroup",
    "TIMConvDelete",
    "TIMConvDeleteConversationGroup",
    "TIMConvDeleteConversationList",
    "TIMConvDeleteConversationsFromGroup",
    "TIMConvGetConvInfo",
    "TIMConvGetConvList",
    "TIMConvGetConversationGroupList",
    "TIMConvGetConversationListByFilter",
    "TIMConvGetTotalUnreadMessageCount",
    "TIMConvGetUnreadMessageCountByFilter",
    "TIMConvMarkConversation",
    "TIMConvPinConversation",
    "TIMConvRenameConversationGroup",
    "TIMConvSetConversationCustomData",
    "TIMConvSetDraft",
    "TIMFriendshipAddFriend",
    "TIMFriendshipAddToBlackList",
    "TIMFriendshipCheckFriendType",
    "TIMFriendshipCreateFriendGroup",
    "TIMFriendshipDeleteFriend",
    "TIMFriendshipDeleteFriendGroup",
    "TIMFriendshipDeleteFromBlackList",
    "TIMFriendshipGetBlackList",
    "TIMFriendshipGetFriendGroupList",
    "TIMFriendshipGetFriendProfileList",
    "TIMFriendshipModifyFriendProfile",
    "TIMGroupCreate",
    "TIMGroupDelete",
    "TIMGroupDeleteMember",
    "TIMGroupGetMemberInfoList",
    "TIMGroupInviteMember",
    "TIMGroupModifyMemberInfo",
    "TIMInit",
    "TIMLogin",
    "TIMLogout",
    "TIMMsgBatchSend",
    "TIMMsgCancelSend",
    "TIMMsgClearHistoryMessage",
    "TIMMsgDelete",
    "TIMMsgDeleteMessageExtensions",
    "TIMMsgDownloadElemToPath",
    "TIMMsgFindByMsgLocatorList",
    "TIMMsgFindMessages",
    "TIMMsgGetGroupMessageReadMemberList",
    "TIMMsgGetMessageExtensions",
    "TIMMsgGetMessageReadReceipts",
    "TIMMsgGetMsgList",
    "TIMMsgImportMsgList",
    "TIMMsgListDelete",
    "TIMMsgModifyMessage",
    "TIMMsgReportReaded",
    "TIMMsgRevoke",
    "TIMMsgSaveMsg",
    "TIMMsgSearchLocalMessages",
    "TIMMsgSendMessage",
    "TIMMsgSendMessageReadReceipts",
    "TIMMsgSendNewMsg",
    "TIMMsgSetLocalCustomData",
    "TIMMsgSetMessageExtensions",
    "TIMProfileGetUserProfileList",
    "TIMProfileModifySelfUserProfile",
    "TIMRemoveRecvNewMsgCallback",
    "TIMSetMsgReadedReceiptCallback",
    "TIMSetMsgRevokeCallback",
    "TIMUninit",
]


def __getattr__(name: str) -> str:
    # The generated key constants (`kTIMMsgElemArray`, ...) are set at import, out of a type
    # checker's sight; this tells it that `capi.kTIM...` is a str, as `capi.constants` does.
    try:
        return KEYS[name]
    except KeyError:
        raise AttributeError(f"module 'aio_tim.capi' has no attribute {name!r}") from None
