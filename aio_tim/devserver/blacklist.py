"""Blacklist and friend-list endpoints (`sns/black_list_*`, `sns/group_*`).

Semantics from TIM's pages (cloud.tencent.com/document/product/269/3718 black_list_add, 3719
black_list_delete, 3722 black_list_get, 3725 black_list_check, 10107 group_add, 10108
group_delete, 54763 group_get). Blacklisting someone ends the friendship both ways; a C2C
message from a blacklisted account is refused (20007, see `refusals`).
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol import sns_callbacks as sc
from ..protocol.sns import (
    BLACKLIST_MAX,
    FRIEND_ADD_MAX,
    BlackListAdd,
    BlackListCheck,
    BlackListCheckResponse,
    BlackListDelete,
    BlackListGet,
    BlackListGetResponse,
    BlackListItem,
    CheckItem,
    GroupAdd,
    GroupAddResponse,
    GroupDelete,
    GroupGet,
    GroupGetResponse,
    GroupResult,
    ItemResult,
    SequenceResponse,
)
from .accounts import obtain_account
from .context import Context, Handler
from .friends import unfriend
from .sns_rules import (
    ERR_NO_ACCOUNT,
    ERR_PARAMS,
    check_batch,
    ensure_lists,
    fail,
    failed_accounts,
    items_response,
    owner_of,
)

__all__ = ["HANDLERS"]

CHECK_TYPES: Final = frozenset({"BlackCheckResult_Type_Single", "BlackCheckResult_Type_Both"})
NEED_FRIEND: Final = "Need_Friend_Type_Yes"


# --- black_list_add / black_list_delete -----------------------------------------------------------


async def black_list_add(ctx: Context, req: BlackListAdd) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, BLACKLIST_MAX, "To_Account")
    results = [await _block(ctx, owner, other) for other in dict.fromkeys(req.To_Account)]
    _fire(ctx, sc.BlackListAdded, owner, results, "black_list_add")
    return items_response(results)


async def _block(ctx: Context, owner: str, other: str) -> ItemResult:
    if other == owner:
        return fail(other, ERR_PARAMS, "an account cannot blacklist itself")
    if not await obtain_account(ctx, other):
        return fail(other, ERR_NO_ACCOUNT, "To_Account is not an existing account")
    if await ctx.state.blocks(owner, other):
        return fail(other, ERR_PARAMS, "To_Account already is in the blacklist")
    await ctx.state.block(owner, other, ctx.now())
    await unfriend(ctx, owner, other, both=True)
    return ItemResult(To_Account=other)


async def black_list_delete(ctx: Context, req: BlackListDelete) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, BLACKLIST_MAX, "To_Account")
    results: list[ItemResult] = []
    for other in dict.fromkeys(req.To_Account):
        if await ctx.state.blocks(owner, other):
            await ctx.state.unblock(owner, other)
            results.append(ItemResult(To_Account=other))
        else:
            results.append(fail(other, ERR_PARAMS, "To_Account is not in the blacklist"))
    _fire(ctx, sc.BlackListDeleted, owner, results, "black_list_delete")
    return items_response(results)


def _fire(
    ctx: Context, kind: type[sc.BlackListAdded | sc.BlackListDeleted], owner: str, results: list[ItemResult],
    cmd: str,
) -> None:  # fmt: skip
    done = [sc.Pair(From_Account=owner, To_Account=r.To_Account) for r in results if r.ResultCode == 0]
    if ctx.webhooks is not None and done:
        ctx.webhooks.after(kind(PairList=done, ClientCmd=cmd, EventTime=ctx.now() * 1000))


# --- black_list_get / black_list_check ------------------------------------------------------------


async def black_list_get(ctx: Context, req: BlackListGet) -> Envelope:
    """A page of `MaxLimited` entries from StartIndex, oldest first; StartIndex 0 once all are read."""
    owner = await owner_of(ctx, req.From_Account)
    if req.StartIndex < 0 or not 0 <= req.MaxLimited <= BLACKLIST_MAX:
        raise error_for(ERR_PARAMS, f"StartIndex must be >= 0 and MaxLimited 0 to {BLACKLIST_MAX}")
    # TIM's backend reads the JSON into protobuf, where 0 cannot be told from absent: a 0 asks for
    # no particular size (dobyte/tencent-im sends it), answered with the largest page.
    page = await ctx.state.blacklist(owner, req.StartIndex, req.MaxLimited or BLACKLIST_MAX)
    following = req.StartIndex + len(page)
    more = following < await ctx.state.blacklist_size(owner)
    return BlackListGetResponse(
        BlackListItem=[BlackListItem(To_Account=who, AddBlackTimeStamp=when) for who, when in page],
        StartIndex=following if more else 0,
        CurrentSequence=await ctx.state.seq(owner, "black"),
    )


async def black_list_check(ctx: Context, req: BlackListCheck) -> Envelope:
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.To_Account, FRIEND_ADD_MAX, "To_Account")
    if req.CheckType not in CHECK_TYPES:
        raise error_for(ERR_PARAMS, f"CheckType must be one of {', '.join(sorted(CHECK_TYPES))}")
    both = req.CheckType == "BlackCheckResult_Type_Both"
    items: list[CheckItem] = []
    for other in dict.fromkeys(req.To_Account):
        a_blocks_b = await ctx.state.blocks(owner, other)
        b_blocks_a = both and await ctx.state.blocks(other, owner)
        relation = {
            (True, True): "BlackCheckResult_Type_BothWay",
            (True, False): "BlackCheckResult_Type_AWithB",
            (False, True): "BlackCheckResult_Type_BWithA",
            (False, False): "BlackCheckResult_Type_NO",
        }[a_blocks_b, b_blocks_a]
        items.append(CheckItem(To_Account=other, Relation=relation))
    return BlackListCheckResponse(BlackListCheckItem=items)


# --- group_add / group_delete / group_get ---------------------------------------------------------


async def group_add(ctx: Context, req: GroupAdd) -> Envelope:
    """Create friend lists (an existing name is kept as is) and put the friends named in them."""
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.GroupName, 30, "GroupName")
    await ensure_lists(ctx, owner, req.GroupName)
    results: list[ItemResult] = []
    for other in dict.fromkeys(req.To_Account or []):
        row = await ctx.state.friend(owner, other)
        if row is None:
            results.append(fail(other, ERR_PARAMS, "To_Account is not a friend"))
            continue
        row.lists = list(dict.fromkeys([*row.lists, *req.GroupName]))
        await ctx.state.put_friend(owner, row)
        results.append(ItemResult(To_Account=other))
    return GroupAddResponse(
        ResultItem=results,
        Fail_Account=failed_accounts(results),
        CurrentSequence=await ctx.state.seq(owner, "group"),
    )


async def group_delete(ctx: Context, req: GroupDelete) -> Envelope:
    """Delete friend lists (names that do not exist are ignored); their friends stay friends."""
    owner = await owner_of(ctx, req.From_Account)
    check_batch(req.GroupName, 30, "GroupName")
    gone = set(req.GroupName)
    for name in gone:
        await ctx.state.delete_friend_list(owner, name)
    for row in await ctx.state.friends(owner):
        if gone & set(row.lists):
            row.lists = [name for name in row.lists if name not in gone]
            await ctx.state.put_friend(owner, row)
    return SequenceResponse(CurrentSequence=await ctx.state.bump_seq(owner, "group"))


async def group_get(ctx: Context, req: GroupGet) -> Envelope:
    """The friend lists (those named in GroupName that exist, or all), with their friends."""
    owner = await owner_of(ctx, req.From_Account)
    names = await ctx.state.friend_lists(owner)
    if req.GroupName:
        names = [name for name in dict.fromkeys(req.GroupName) if name in names]
    rows = await ctx.state.friends(owner)
    results: list[GroupResult] = []
    for name in names:
        members = [row.friend for row in rows if name in row.lists]
        listed = members if req.NeedFriend == NEED_FRIEND else None
        results.append(GroupResult(GroupName=name, FriendNumber=len(members), To_Account=listed))
    return GroupGetResponse(ResultItem=results, CurrentSequence=await ctx.state.seq(owner, "group"))


HANDLERS: Final[dict[type[Request], Handler]] = {
    BlackListAdd: black_list_add,
    BlackListDelete: black_list_delete,
    BlackListGet: black_list_get,
    BlackListCheck: black_list_check,
    GroupAdd: group_add,
    GroupDelete: group_delete,
    GroupGet: group_get,
}
