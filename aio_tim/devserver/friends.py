"""Friend endpoints (`sns/friend_*`): add, import, update, delete, check and read friends.

Semantics from TIM's pages (cloud.tencent.com/document/product/269/1643 friend_add, 8301
friend_import, 12525 friend_update, 1644 friend_delete, 1645 friend_delete_all, 1646
friend_check, 1647 friend_get, 8609 friend_get_list). Per-account failures are ResultItem
entries (the call itself succeeds); a malformed call fails whole with 30001.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol import sns_callbacks as sc
from ..protocol.sns import (
    FRIEND_ADD_MAX,
    FRIEND_GET_LIST_MAX,
    FRIEND_IMPORT_MAX,
    FRIEND_PAGE,
    AddFriendItem,
    CheckItem,
    FriendAdd,
    FriendCheck,
    FriendCheckResponse,
    FriendData,
    FriendDelete,
    FriendDeleteAll,
    FriendGet,
    FriendGetList,
    FriendGetListResponse,
    FriendGetResponse,
    FriendImport,
    FriendUpdate,
    ImportFriendItem,
    ItemResult,
    TagValue,
)
from .accounts import obtain_account
from .context import Context, Handler
from .sns_queries import FriendRow
from .sns_rules import (
    ERR_IN_PEER_BLACKLIST,
    ERR_NO_ACCOUNT,
    ERR_OWN_LIST_FULL,
    ERR_PARAMS,
    ERR_PEER_DENIES,
    ERR_PEER_IN_BLACKLIST,
    ERR_PEER_LIST_FULL,
    ERR_PENDING,
    FRIEND_MAX,
    REMARK_MAX,
    byte_len,
    check_add_source,
    check_batch,
    ensure_lists,
    fail,
    failed_accounts,
    items_response,
    owner_of,
    pairs,
    sns_tags,
)

__all__ = ["HANDLERS", "friend_relation", "unfriend"]

ADD_TYPES: Final = frozenset({"Add_Type_Both", "Add_Type_Single"})
DELETE_TYPES: Final = frozenset({"Delete_Type_Single", "Delete_Type_Both"})
CHECK_TYPES: Final = frozenset({"CheckResult_Type_Single", "CheckResult_Type_Both"})
FRIEND_EXISTS: Final = "Err_SNS_FriendAdd_Friend_Exist"
DEFAULT_ALLOW: Final = "AllowType_Type_NeedConfirm"  # an account's AllowType until it sets one
# Friend data a client may change (friend_update); the rest is set when the friendship begins.
UPDATABLE: Final = frozenset({"Tag_SNS_IM_Group", "Tag_SNS_IM_Remark"})
CUSTOM_PREFIX: Final = "Tag_SNS_Custom_"
VALUE_MAX: Final = 500  # bytes of a custom field's value
_Item = TypeVar("_Item", AddFriendItem, ImportFriendItem)


# --- friend_add -----------------------------------------------------------------------------------


async def friend_add(ctx: Context, req: FriendAdd) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.AddFriendItem, FRIEND_ADD_MAX, "AddFriendItem")
    both = _choice(req.AddType, ADD_TYPES, "AddType") != "Add_Type_Single"
    forced = req.ForceAddFlags == 1
    results = [await _add_one(ctx, owner, item, both, forced) for item in _unique(req.AddFriendItem)]
    added = [r.To_Account for r in results if r.ResultCode == 0]
    _fire_added(ctx, owner, added, both, "friend_add", int(forced))
    return items_response(results)


async def _add_one(ctx: Context, owner: str, item: AddFriendItem, both: bool, forced: bool) -> ItemResult:
    to = item.To_Account
    refusal = await _refusal(ctx, owner, to, item.AddSource, both)
    if refusal is not None:
        return fail(to, *refusal)
    if not forced:
        allow = (await ctx.state.profile_tags(to)).get("Tag_Profile_IM_AllowType", DEFAULT_ALLOW)
        if allow == "AllowType_Type_DenyAny":
            return fail(to, ERR_PEER_DENIES, "To_Account accepts no friend requests")
        # A one-way add changes only From_Account's list: TIM's Sns.CallbackFriendAdd page lists it
        # among the adds that succeed at once; a both-way one needs AllowAny (or ForceAddFlags).
        if both and allow != "AllowType_Type_AllowAny":
            # TIM keeps a pending request for the peer to answer; the dev server only reports it.
            return fail(to, ERR_PENDING, "the request waits for To_Account's approval")
    lists = [item.GroupName] if item.GroupName else []
    if item.Remark is not None and byte_len(item.Remark) > REMARK_MAX:
        return fail(to, ERR_PARAMS, f"Remark must be at most {REMARK_MAX} bytes")
    await ensure_lists(ctx, owner, lists)
    now = ctx.now()
    remark = item.Remark or ""
    row = FriendRow(to, item.AddSource or "", item.AddWording or "", now, remark, now if remark else 0, lists)
    await ctx.state.put_friend(owner, row)
    if both and await ctx.state.friend(to, owner) is None:
        await ctx.state.put_friend(to, FriendRow(owner, item.AddSource or "", "", now))
    return ItemResult(To_Account=to)


async def _refusal(
    ctx: Context, owner: str, to: str, source: str | None, both: bool
) -> tuple[int, str] | None:
    """Why `owner` may not befriend `to` (code, info), or None."""
    problem = check_add_source(source)
    if problem is not None or to == owner:
        return ERR_PARAMS, problem or "an account cannot befriend itself"
    if not await obtain_account(ctx, to):
        return ERR_NO_ACCOUNT, "To_Account is not an existing account"
    if await ctx.state.friend(owner, to) is not None:
        # TIM's own text: Tencent's UIKits compare ResultInfo with it to tell this 30001 apart.
        return ERR_PARAMS, FRIEND_EXISTS
    if await ctx.state.blocks(owner, to):
        return ERR_PEER_IN_BLACKLIST, "To_Account is in From_Account's blacklist"
    if await ctx.state.blocks(to, owner):
        return ERR_IN_PEER_BLACKLIST, "From_Account is in To_Account's blacklist"
    if await ctx.state.friend_count(owner) >= FRIEND_MAX:
        return ERR_OWN_LIST_FULL, f"From_Account already has {FRIEND_MAX} friends"
    if both and await ctx.state.friend_count(to) >= FRIEND_MAX:
        return ERR_PEER_LIST_FULL, f"To_Account already has {FRIEND_MAX} friends"
    return None


def _unique(items: list[_Item]) -> list[_Item]:
    """One item per To_Account (the first); TIM answers each account once."""
    first: dict[str, _Item] = {}
    for item in items:
        first.setdefault(item.To_Account, item)
    return list(first.values())


def _choice(value: str | None, allowed: frozenset[str], name: str) -> str | None:
    if value is not None and value not in allowed:
        raise error_for(ERR_PARAMS, f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _fire_added(ctx: Context, owner: str, added: list[str], both: bool, cmd: str, force: int) -> None:
    if ctx.webhooks is None or not added:
        return
    found = [sc.Pair(From_Account=owner, To_Account=to, Initiator_Account=owner) for to in added]
    if both:
        found += [sc.Pair(From_Account=to, To_Account=owner, Initiator_Account=owner) for to in added]
    ctx.webhooks.after(sc.FriendAdded(PairList=found, ClientCmd=cmd, Admin_Account=ctx.admin,
                                      ForceFlag=force, EventTime=ctx.now() * 1000))  # fmt: skip


# --- friend_import --------------------------------------------------------------------------------


async def friend_import(ctx: Context, req: FriendImport) -> Envelope:
    """One-way, with the data given (AddTime, remarks, lists, custom fields): no approval asked."""
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.AddFriendItem, FRIEND_IMPORT_MAX, "AddFriendItem")
    # No Sns.CallbackFriendAdd: TIM's page says friend_import does not fire it.
    results = [await _import_one(ctx, owner, item) for item in _unique(req.AddFriendItem)]
    return items_response(results)


async def _import_one(ctx: Context, owner: str, item: ImportFriendItem) -> ItemResult:
    to = item.To_Account
    refusal = await _refusal(ctx, owner, to, item.AddSource, both=False)
    if refusal is None:
        refusal = _custom_refusal(item.CustomItem or [])
    if refusal is None and item.Remark is not None and byte_len(item.Remark) > REMARK_MAX:
        refusal = ERR_PARAMS, f"Remark must be at most {REMARK_MAX} bytes"
    if refusal is not None:
        return fail(to, *refusal)
    await ensure_lists(ctx, owner, item.GroupName or [])
    now = ctx.now()
    custom = {pair.Tag: pair.Value for pair in item.CustomItem or []}
    await ctx.state.put_friend(owner, FriendRow(
        to, item.AddSource or "", item.AddWording or "", item.AddTime or now, item.Remark or "",
        item.RemarkTime or 0, list(dict.fromkeys(item.GroupName or [])), custom,
    ))  # fmt: skip
    return ItemResult(To_Account=to)


def _custom_refusal(items: list[TagValue]) -> tuple[int, str] | None:
    for pair in items:
        if not pair.Tag.startswith(CUSTOM_PREFIX) or isinstance(pair.Value, list):
            return ERR_PARAMS, f"{pair.Tag} is not a custom friend field ({CUSTOM_PREFIX}*, text or integer)"
        if isinstance(pair.Value, str) and byte_len(pair.Value) > VALUE_MAX:
            return ERR_PARAMS, f"{pair.Tag} must be at most {VALUE_MAX} bytes"
    return None


# --- friend_update --------------------------------------------------------------------------------


async def friend_update(ctx: Context, req: FriendUpdate) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.UpdateItem, FRIEND_IMPORT_MAX, "UpdateItem")
    results: list[ItemResult] = []
    for item in req.UpdateItem:
        row = await ctx.state.friend(owner, item.To_Account)
        if row is None:
            results.append(fail(item.To_Account, ERR_PARAMS, "To_Account is not a friend"))
            continue
        problem = _apply(row, item.SnsItem, ctx.now())
        if problem is not None:
            results.append(fail(item.To_Account, ERR_PARAMS, problem))
            continue
        await ensure_lists(ctx, owner, row.lists)
        await ctx.state.put_friend(owner, row)
        results.append(ItemResult(To_Account=item.To_Account))
    return items_response(results)


def _apply(row: FriendRow, changes: list[TagValue], now: int) -> str | None:
    """Change `row` as `changes` say; why they cannot apply, or None."""
    for pair in changes:
        tag, value = pair.Tag, pair.Value
        if tag == "Tag_SNS_IM_Group" and isinstance(value, list):
            row.lists = list(dict.fromkeys(value))
        elif tag == "Tag_SNS_IM_Remark" and isinstance(value, str) and byte_len(value) <= REMARK_MAX:
            row.remark, row.remark_time = value, now
        elif tag.startswith(CUSTOM_PREFIX) and _custom_refusal([pair]) is None:
            row.custom[tag] = value
        elif tag in UPDATABLE or tag.startswith(CUSTOM_PREFIX):
            return f"{tag} has a value of the wrong type or length"
        else:
            return f"{tag} cannot be updated (Tag_SNS_IM_Group, Tag_SNS_IM_Remark, {CUSTOM_PREFIX}*)"
    return None


# --- friend_delete / friend_delete_all ------------------------------------------------------------


async def unfriend(ctx: Context, owner: str, other: str, both: bool) -> bool:
    """End `owner`'s friendship with `other` (and the other side with `both`); False if none."""
    gone = await ctx.state.delete_friend(owner, other)
    if both:
        gone = await ctx.state.delete_friend(other, owner) or gone
    return gone


async def friend_delete(ctx: Context, req: FriendDelete) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, FRIEND_ADD_MAX, "To_Account")
    both = _choice(req.DeleteType, DELETE_TYPES, "DeleteType") == "Delete_Type_Both"
    results: list[ItemResult] = []
    for other in dict.fromkeys(req.To_Account):
        if await ctx.state.friend(owner, other) is None:
            results.append(fail(other, ERR_PARAMS, "To_Account is not a friend"))
        else:
            await unfriend(ctx, owner, other, both)
            results.append(ItemResult(To_Account=other))
    _fire_deleted(ctx, owner, [r.To_Account for r in results if r.ResultCode == 0], both, "friend_delete")
    return items_response(results)


async def friend_delete_all(ctx: Context, req: FriendDeleteAll) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    both = _choice(req.DeleteType, DELETE_TYPES, "DeleteType") == "Delete_Type_Both"
    gone = [row.friend for row in await ctx.state.friends(owner)]
    for other in gone:
        await unfriend(ctx, owner, other, both)
    _fire_deleted(ctx, owner, gone, both, "friend_delete")
    return Envelope()


def _fire_deleted(ctx: Context, owner: str, gone: list[str], both: bool, cmd: str) -> None:
    if ctx.webhooks is None or not gone:
        return
    found = [sc.Pair(From_Account=owner, To_Account=other) for other in gone]
    if both:
        found += [sc.Pair(From_Account=other, To_Account=owner) for other in gone]
    ctx.webhooks.after(sc.FriendDeleted(PairList=found, ClientCmd=cmd, EventTime=ctx.now() * 1000))


# --- friend_check ---------------------------------------------------------------------------------


async def friend_relation(ctx: Context, owner: str, other: str, both: bool) -> str:
    a_with_b = await ctx.state.friend(owner, other) is not None
    if not both:
        return "CheckResult_Type_AWithB" if a_with_b else "CheckResult_Type_NoRelation"
    b_with_a = await ctx.state.friend(other, owner) is not None
    return {
        (True, True): "CheckResult_Type_BothWay",
        (True, False): "CheckResult_Type_AWithB",
        (False, True): "CheckResult_Type_BWithA",
        (False, False): "CheckResult_Type_NoRelation",
    }[a_with_b, b_with_a]


async def friend_check(ctx: Context, req: FriendCheck) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, FRIEND_ADD_MAX, "To_Account")
    both = _choice(req.CheckType, CHECK_TYPES, "CheckType") == "CheckResult_Type_Both"
    items = [
        CheckItem(To_Account=other, Relation=await friend_relation(ctx, owner, other, both))
        for other in dict.fromkeys(req.To_Account)
    ]
    return FriendCheckResponse(InfoItem=items)


# --- friend_get / friend_get_list -----------------------------------------------------------------


async def friend_get(ctx: Context, req: FriendGet) -> Envelope:
    """A page of friends with their standard and custom data (always all of it: the dev server
    does not skip what an unchanged StandardSequence / CustomSequence says the caller has)."""
    owner = await owner_of(ctx, req.From_Account)
    if req.StartIndex < 0:
        raise error_for(ERR_PARAMS, "StartIndex must not be negative")
    rows = await ctx.state.friends(owner)
    page = rows[req.StartIndex : req.StartIndex + FRIEND_PAGE]
    following = req.StartIndex + len(page)
    seq = await ctx.state.seq(owner, "friend")
    return FriendGetResponse(
        UserDataItem=[FriendData(To_Account=row.friend, ValueItem=pairs(sns_tags(row))) for row in page],
        StandardSequence=seq,
        CustomSequence=seq,
        FriendNum=len(rows),
        CompleteFlag=int(following >= len(rows)),
        NextStartIndex=following if following < len(rows) else 0,
    )


async def friend_get_list(ctx: Context, req: FriendGetList) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, FRIEND_GET_LIST_MAX, "To_Account")
    check_batch(req.TagList, 1000, "TagList")
    items: list[FriendData] = []
    for other in dict.fromkeys(req.To_Account):
        row = await ctx.state.friend(owner, other)
        if row is None:
            items.append(FriendData(other, ResultCode=ERR_PARAMS, ResultInfo="To_Account is not a friend"))
            continue
        tags: dict[str, Any] = {**await ctx.state.profile_tags(other), **sns_tags(row)}
        items.append(FriendData(other, SnsProfileItem=pairs(tags, req.TagList), ResultCode=0, ResultInfo=""))
    return FriendGetListResponse(InfoItem=items, Fail_Account=failed_accounts(items))


HANDLERS: Final[dict[type[Request], Handler]] = {
    FriendAdd: friend_add,
    FriendImport: friend_import,
    FriendUpdate: friend_update,
    FriendDelete: friend_delete,
    FriendDeleteAll: friend_delete_all,
    FriendCheck: friend_check,
    FriendGet: friend_get,
    FriendGetList: friend_get_list,
}
