"""REST history records -> C SDK `Message`s, and C SDK messages -> import requests (pure).

Roaming history marks a recalled C2C message with `MsgFlagBits` 8 and a recalled group message
with `IsPlaceMsg` 2; both become `message_status` Revoked, as the C SDK shows them.
"""

from __future__ import annotations

from typing import Final

from ..types import ConvType, Message, MsgStatus
from .group import GroupRoamMsg, ImportGroupMsgItem
from .msgbody import from_msg_body, to_msg_body
from .openim import MSG_FLAG_RECALLED, ImportMsg, RoamMsg

__all__ = [
    "PLACE_DELETED",
    "PLACE_RECALLED",
    "c2c_import_request",
    "from_group_roam",
    "from_roam",
    "group_import_item",
]

PLACE_DELETED: Final = 1
PLACE_RECALLED: Final = 2
SYNC_HISTORICAL: Final = 2  # importmsg: history, not counted as unread


def from_roam(record: RoamMsg, user_id: str, peer: str) -> Message:
    """One `admin_getroammsg` record, seen by `user_id` in the conversation with `peer`.

    `IsPeerRead` is the recipient's read mark: for our own message it says the peer read it,
    for the peer's message that *we* did, so a read conversation is not unread again here.
    """
    recalled = bool(record.MsgFlagBits & MSG_FLAG_RECALLED)
    from_self = record.From_Account == user_id
    read_by_recipient = bool(record.IsPeerRead)
    return Message(
        elem_array=from_msg_body(record.MsgBody),
        conv_id=peer,
        conv_type=int(ConvType.C2C),
        sender=record.From_Account,
        is_from_self=from_self,
        client_time=record.MsgClientTime or record.MsgTimeStamp,
        server_time=record.MsgTimeStamp,
        seq=record.MsgSeq,
        rand=record.MsgRandom,
        msg_id=record.MsgKey,
        cloud_custom_str=record.CloudCustomData,
        is_read=from_self or read_by_recipient,
        is_peer_read=read_by_recipient if from_self else None,
        status=int(MsgStatus.REVOKED if recalled else MsgStatus.SEND_SUCC),
    )


def from_group_roam(record: GroupRoamMsg, user_id: str, group_id: str) -> Message:
    """One `group_msg_get_simple` record, seen by `user_id`."""
    recalled = record.IsPlaceMsg == PLACE_RECALLED
    return Message(
        elem_array=from_msg_body(record.MsgBody),
        conv_id=group_id,
        conv_type=int(ConvType.GROUP),
        sender=record.From_Account,
        is_from_self=record.From_Account == user_id,
        client_time=record.MsgTimeStamp,
        server_time=record.MsgTimeStamp,
        seq=record.MsgSeq,
        rand=record.MsgRandom,
        msg_id=record.MsgKey,
        cloud_custom_str=record.CloudCustomData,
        status=int(MsgStatus.REVOKED if recalled else MsgStatus.SEND_SUCC),
    )


def c2c_import_request(msg: Message, user_id: str, peer: str) -> ImportMsg:
    """`openim/importmsg` for a message of the conversation between `user_id` and `peer`."""
    sender = msg.sender or user_id
    receiver = peer if sender == user_id else user_id
    return ImportMsg(
        SyncFromOldSystem=SYNC_HISTORICAL,
        From_Account=sender,
        To_Account=receiver,
        MsgSeq=msg.seq,
        MsgRandom=msg.rand or 0,
        MsgTimeStamp=msg.server_time or msg.client_time or 0,
        MsgBody=to_msg_body(msg.elem_array),
        CloudCustomData=msg.cloud_custom_str,
    )


def group_import_item(msg: Message, user_id: str) -> ImportGroupMsgItem:
    return ImportGroupMsgItem(
        From_Account=msg.sender or user_id,
        SendTime=msg.server_time or msg.client_time or 0,
        Random=msg.rand,
        MsgBody=to_msg_body(msg.elem_array),
    )
