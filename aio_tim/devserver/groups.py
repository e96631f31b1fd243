"""Group endpoints (`group_open_http_svc/*`): create, add members, send, history, recall, import.

Each group numbers its messages 1, 2, 3, ... (MsgSeq); a send with a Random already used in
the group within five minutes is a duplicate and gets the first answer back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.group import (
    GROUP_HISTORY_MAX,
    GROUP_IMPORT_MAX,
    GROUP_RECALL_MAX,
    AddGroupMember,
    AddGroupMemberResponse,
    CreateGroup,
    CreateGroupResponse,
    GroupMsgGetSimple,
    GroupMsgGetSimpleResponse,
    GroupMsgRecall,
    GroupMsgRecallResponse,
    GroupRoamMsg,
    ImportGroupMsg,
    ImportGroupMsgItem,
    ImportGroupMsgResponse,
    ImportResult,
    MemberResult,
    RecallResult,
    SendGroupMsg,
    SendGroupMsgResponse,
)
from .accounts import ensure_accounts, obtain_account
from .context import Context, Handler
from .feature_queries import group_ref
from .group_admin import DEFAULT_MAX_MEMBERS, check_room, member_cap, profile_changes
from .rows import GroupMsgRow, GroupRow, decode_body, encode_body
from .validation import GROUP, body_too_long, check_msg_body, check_msg_body_size
from .webhooks import group_created, group_recalled, group_sent, members_joined

__all__ = ["GROUP_TYPES", "HANDLERS", "new_group"]

GROUP_TYPES: Final = frozenset(
    {"Private", "Work", "Public", "ChatRoom", "Meeting", "AVChatRoom", "Community"}
)
GROUP_DEDUP_WINDOW: Final = 300  # seconds: TIM drops a repeated Random within 5 minutes
MAX_GROUP_ID_BYTES: Final = 48
ADD_MEMBER_MAX: Final = 500
# group_msg_get_simple reports priority as 1 High, 2 Normal, 3 Low, 4 Lowest.
PRIORITIES: Final = {"High": 1, "Normal": 2, "Low": 3, "Lowest": 4}
_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ERR_PARAMS: Final = 10004
ERR_ACCOUNT_MISSING: Final = 10019
ERR_MUTED: Final = 10017  # the sender is muted in the group
ERR_RECALL_NOT_FOUND: Final = 10030
ERR_NOT_RECALLABLE: Final = 10032  # here: already recalled, distinct from "not found"
PLACE_DELETED: Final = 1  # IsPlaceMsg: a hole (not stored, e.g. online-only)
PLACE_RECALLED: Final = 2


def group_key(row: GroupMsgRow) -> str:
    return f"{row.msg_seq}_{row.msg_random}_{row.msg_time}"


async def existing_group(ctx: Context, group_id: str) -> GroupRow:
    group = await ctx.state.group(group_id)
    if group is None:
        raise error_for(10010, "group not found or dismissed")
    return group


# --- create_group / add_group_member --------------------------------------------------------------


async def create_group(ctx: Context, req: CreateGroup) -> Envelope:
    members = [m.Member_Account for m in req.MemberList or ()]
    roles = {m.Member_Account: _initial_role(m.Role) for m in req.MemberList or ()}
    profile = profile_changes(req)
    cap = None if req.Type == "AVChatRoom" else profile.get("MaxMemberNum", DEFAULT_MAX_MEMBERS)
    check_room(cap, len({*members, *([req.Owner_Account] if req.Owner_Account else [])}))
    group_id = await new_group(ctx, req.GroupId, req.Type, req.Name, req.Owner_Account, members, roles)
    profile.pop("Name", None)  # stored by new_group
    if profile:
        await ctx.state.update_group(group_id, profile, ctx.now())
    return CreateGroupResponse(GroupId=group_id)


async def new_group(
    ctx: Context,
    group_id: str | None,
    group_type: str,
    name: str,
    owner: str | None,
    members: Sequence[str],
    roles: Mapping[str, str] | None = None,
    created: int | None = None,
    notify: bool = True,
) -> str:
    """Create a group (generating "@TGS#..." when `group_id` is None); its id. A member's role
    is "Member" unless `roles` names another ("Admin"); `created` backdates its CreateTime;
    `notify=False` (import_group) fires no Group.CallbackAfterCreateGroup."""
    if group_type not in GROUP_TYPES:
        raise error_for(ERR_PARAMS, f"Type must be one of {', '.join(sorted(GROUP_TYPES))}")
    if not name:
        raise error_for(ERR_PARAMS, "Name is required")
    group_id = await _fresh_group_id(ctx) if group_id is None else await _free_id(ctx, group_id)
    owners = [owner] if owner else []
    await ensure_accounts(ctx, [*owners, *members], ERR_ACCOUNT_MISSING, "a member")
    now = ctx.now()
    await ctx.state.insert_group(GroupRow(group_id, group_type, name, owner or None, created or now))
    for account in owners:
        await ctx.state.add_member(group_id, account, "Owner", now)
    for account in members:
        await ctx.state.add_member(group_id, account, (roles or {}).get(account, "Member"), now)
    if ctx.webhooks is not None and notify:
        ctx.webhooks.after(group_created((group_id, group_type), name, ctx.admin, owner, list(members), now))
    return group_id


def _initial_role(role: str | None) -> str:
    """A MemberList entry's Role: TIM's create_group takes "Admin" (or "Member", the default)."""
    if role is None:
        return "Member"
    if role not in ("Admin", "Member"):
        raise error_for(ERR_PARAMS, "a member's Role must be Admin or Member")
    return role


async def _free_id(ctx: Context, group_id: str) -> str:
    if not 0 < len(group_id.encode("utf-8", "surrogatepass")) <= MAX_GROUP_ID_BYTES:
        raise error_for(10015, f"GroupId must be 1 to {MAX_GROUP_ID_BYTES} bytes")
    if await ctx.state.group(group_id) is not None:
        raise error_for(10021, "GroupId is already in use")
    return group_id


async def _fresh_group_id(ctx: Context) -> str:
    while True:
        group_id = "@TGS#" + "".join(ctx.rng.choice(_ID_ALPHABET) for _ in range(9))
        if await ctx.state.group(group_id) is None:
            return group_id


async def add_group_member(ctx: Context, req: AddGroupMember) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if not 0 < len(req.MemberList) <= ADD_MEMBER_MAX:
        raise error_for(ERR_PARAMS, f"MemberList must hold 1 to {ADD_MEMBER_MAX} members")
    await _check_room_for(ctx, group, [m.Member_Account for m in req.MemberList])
    results = [
        MemberResult(m.Member_Account, await _add_member(ctx, group.group_id, m.Member_Account))
        for m in req.MemberList
    ]
    added = [r.Member_Account for r in results if r.Result == 1]
    if added and ctx.webhooks is not None:
        ctx.webhooks.after(members_joined((group.group_id, group.type), ctx.admin, added, ctx.now()))
    return AddGroupMemberResponse(MemberList=results)


async def _check_room_for(ctx: Context, group: GroupRow, accounts: list[str]) -> None:
    """Refuse the whole call when the newcomers would not fit under the group's cap."""
    profile = await ctx.state.group_profile(group.group_id)
    assert profile is not None  # the caller found the group in this transaction
    current = {m.account for m in await ctx.state.members(group.group_id)}
    check_room(member_cap(group, profile), len(current | set(accounts)))


async def _add_member(ctx: Context, group_id: str, account: str) -> int:
    """TIM's per-member Result: 0 failed, 1 added, 2 already a member."""
    if not await obtain_account(ctx, account):
        return 0
    return 1 if await ctx.state.add_member(group_id, account, "Member", ctx.now()) else 2


# --- send_group_msg -------------------------------------------------------------------------------


async def send_group_msg(ctx: Context, req: SendGroupMsg) -> Envelope:
    check_msg_body(req.MsgBody, GROUP.msg_body_item)
    check_msg_body_size(req.MsgBody)
    priority = _priority(req.MsgPriority)
    group = await existing_group(ctx, req.GroupId)
    sender = await _group_sender(ctx, group, req.From_Account)
    now = ctx.now()
    since = now - ctx.group_dedup_window + 1
    first = await ctx.state.first_group_send(group.group_id, req.Random, since)
    if first is not None:
        return SendGroupMsgResponse(MsgTime=first.msg_time, MsgSeq=first.msg_seq)
    row = GroupMsgRow(
        group_id=group.group_id,
        msg_seq=await ctx.state.next_group_seq(group.group_id),
        from_account=sender,
        msg_random=req.Random,
        msg_time=now,
        priority=priority,
        body=encode_body(req.MsgBody),
        cloud_custom_data=req.CloudCustomData,
        kind="send",
        online_only=int(req.OnlineOnlyFlag == 1),
    )
    await ctx.state.insert_group_msg(row)
    if req.NeedReadReceipt == 1 or req.SupportMessageExtension == 1:
        await ctx.state.set_features(
            group_ref(group.group_id, row.msg_seq),
            need_receipt=req.NeedReadReceipt == 1,
            extensible=req.SupportMessageExtension == 1,
        )
    if ctx.webhooks is not None:
        stamp = (row.msg_seq, row.msg_random, row.msg_time)
        ctx.webhooks.after(group_sent((group.group_id, group.type), ctx.admin, sender, stamp, req.MsgBody,
                                      req.CloudCustomData, bool(row.online_only)))  # fmt: skip
    return SendGroupMsgResponse(MsgTime=row.msg_time, MsgSeq=row.msg_seq)


async def _group_sender(ctx: Context, group: GroupRow, from_account: str | None) -> str:
    """The sender: a member of the group, or the admin (the default), who may always send."""
    sender = ctx.admin if from_account is None else from_account
    if sender == ctx.admin:
        return sender
    member = await ctx.state.member(group.group_id, sender)
    if member is None:
        raise error_for(10007, "From_Account is not a member of the group")
    await _check_not_muted(ctx, group, member.role, sender)
    return sender


async def _check_not_muted(ctx: Context, group: GroupRow, role: str, sender: str) -> None:
    """TIM refuses a muted member's message with 10017, and under MuteAllMember everyone's but the
    owner's and the admins' (https://trtc.io/document/34962, modify_group_base_info)."""
    if await ctx.state.muted_until(group.group_id, sender) > ctx.now():
        raise error_for(ERR_MUTED, "From_Account is muted in this group")
    if role == "Member":
        profile = await ctx.state.group_profile(group.group_id)
        if profile is not None and profile.shut_up_all:
            raise error_for(ERR_MUTED, "the group mutes all members (MuteAllMember)")


def _priority(name: str | None) -> int:
    if name is None:
        return PRIORITIES["Normal"]
    if name not in PRIORITIES:
        raise error_for(ERR_PARAMS, "MsgPriority must be High, Normal, Low or Lowest")
    return PRIORITIES[name]


# --- group_msg_get_simple -------------------------------------------------------------------------


async def group_msg_get_simple(ctx: Context, req: GroupMsgGetSimple) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if req.ReqMsgNumber <= 0:
        raise error_for(ERR_PARAMS, "ReqMsgNumber must be positive")
    limit = min(req.ReqMsgNumber, GROUP_HISTORY_MAX)
    # Seqs start at 1: clients send ReqMsgSeq 0 to mean "from the latest", as if it were absent.
    top = req.ReqMsgSeq or None
    # One row more than we return tells whether the requested range was cut short.
    rows = await ctx.state.group_msgs_upto(group.group_id, top, limit + 1)
    finished = req.ReqMsgNumber <= limit or len(rows) <= limit
    return GroupMsgGetSimpleResponse(
        GroupId=group.group_id,
        IsFinished=int(finished),
        RspMsgList=[_roam_msg(row) for row in rows[:limit]],
    )


def _roam_msg(row: GroupMsgRow) -> GroupRoamMsg:
    place = PLACE_RECALLED if row.recalled else PLACE_DELETED if row.online_only else 0
    return GroupRoamMsg(
        From_Account=row.from_account,
        MsgSeq=row.msg_seq,
        MsgRandom=row.msg_random,
        MsgTimeStamp=row.msg_time,
        MsgBody=[] if place else decode_body(row.body),
        IsPlaceMsg=place,
        MsgPriority=row.priority,
        MsgKey=group_key(row),
        CloudCustomData=None if place else row.cloud_custom_data,
    )


# --- group_msg_recall -----------------------------------------------------------------------------


async def group_msg_recall(ctx: Context, req: GroupMsgRecall) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if not 0 < len(req.MsgSeqList) <= GROUP_RECALL_MAX:
        raise error_for(ERR_PARAMS, f"MsgSeqList must hold 1 to {GROUP_RECALL_MAX} entries")
    results = [await _recall(ctx, group.group_id, item.MsgSeq) for item in req.MsgSeqList]
    recalled = [r.MsgSeq for r in results if r.RetCode == 0]
    if recalled and ctx.webhooks is not None:
        ctx.webhooks.after(group_recalled((group.group_id, group.type), ctx.admin, recalled, ctx.now()))
    return GroupMsgRecallResponse(RecallRetList=results)


async def _recall(ctx: Context, group_id: str, msg_seq: int) -> RecallResult:
    row = await ctx.state.group_msg(group_id, msg_seq)
    if row is None or row.online_only:
        return RecallResult(MsgSeq=msg_seq, RetCode=ERR_RECALL_NOT_FOUND)
    if row.recalled:
        return RecallResult(MsgSeq=msg_seq, RetCode=ERR_NOT_RECALLABLE, MsgKey=group_key(row))
    await ctx.state.recall_group_msg(group_id, msg_seq)
    return RecallResult(MsgSeq=msg_seq, RetCode=0, MsgKey=group_key(row))


# --- import_group_msg -----------------------------------------------------------------------------


async def import_group_msg(ctx: Context, req: ImportGroupMsg) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(10007, "AVChatRoom groups keep no history to import into")
    if not 0 < len(req.MsgList) <= GROUP_IMPORT_MAX:
        raise error_for(ERR_PARAMS, f"MsgList must hold 1 to {GROUP_IMPORT_MAX} messages")
    for item in req.MsgList:
        check_msg_body(item.MsgBody, GROUP.msg_body_item)
    # Imported history must be later than the group's creation (strictly, as TIM's page says) and
    # not earlier than what the group already holds (the same second is let through).
    floor = max(group.created + 1, await ctx.state.latest_group_msg_time(group.group_id) or 0)
    results: list[ImportResult] = []
    for item in req.MsgList:
        result = await _import_one(ctx, group.group_id, item, floor)
        floor = max(floor, result.MsgTime) if result.Result == 0 else floor
        results.append(result)
    return ImportGroupMsgResponse(ImportMsgResult=results)


async def _import_one(ctx: Context, group_id: str, item: ImportGroupMsgItem, floor: int) -> ImportResult:
    msg_random = item.Random or 0
    earlier = await ctx.state.imported_group_msg(group_id, item.From_Account, item.SendTime, msg_random)
    if earlier is not None:  # a retried import: same answer, nothing stored
        return ImportResult(MsgSeq=earlier.msg_seq, MsgTime=earlier.msg_time, Result=0)
    code = await _import_refusal(ctx, item, floor)
    if code:
        return ImportResult(MsgSeq=0, MsgTime=item.SendTime, Result=code)
    row = GroupMsgRow(
        group_id=group_id,
        msg_seq=await ctx.state.next_group_seq(group_id),
        from_account=item.From_Account,
        msg_random=msg_random,
        msg_time=item.SendTime,
        priority=PRIORITIES["Normal"],
        body=encode_body(item.MsgBody),
        cloud_custom_data=None,
        kind="import",
    )
    await ctx.state.insert_group_msg(row)
    return ImportResult(MsgSeq=row.msg_seq, MsgTime=row.msg_time, Result=0)


async def _import_refusal(ctx: Context, item: ImportGroupMsgItem, floor: int) -> int:
    """TIM's per-message Result for a message that cannot be imported, or 0."""
    if not floor <= item.SendTime <= ctx.now():
        return ERR_PARAMS  # before the group or its newest message, or in the future
    if body_too_long(item.MsgBody):
        return 80002
    if not await obtain_account(ctx, item.From_Account):
        return ERR_ACCOUNT_MISSING
    return 0


HANDLERS: Final[dict[type[Request], Handler]] = {
    CreateGroup: create_group,
    AddGroupMember: add_group_member,
    SendGroupMsg: send_group_msg,
    GroupMsgGetSimple: group_msg_get_simple,
    GroupMsgRecall: group_msg_recall,
    ImportGroupMsg: import_group_msg,
}
