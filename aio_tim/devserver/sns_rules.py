"""What the relationship chain handlers share: TIM's sns error codes and caps, the account and
batch checks, and a friend's data as Tag/Value pairs.

Codes from TIM's pages: the sns error table (cloud.tencent.com/document/product/269/1671; the
friend_add codes as Tencent's TUIKit reads them: 30010 own list full, 30014 the peer's, 30515 the
peer in one's blacklist, 30516 the peer forbids adds, 30525 oneself in the peer's, 30539 waiting
for approval) and its FAQ (269/32485: "30001" is also the answer to adding a friend who already
is one, deleting, updating or reading one who is not, blacklisting twice and unblocking someone
not blocked).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ..errors import error_for
from ..protocol.sns import CheckItem, FriendData, ItemResult, ItemsResponse, TagValue
from .accounts import obtain_account
from .context import Context
from .sns_queries import FriendRow

__all__ = [
    "ERR_NO_ACCOUNT",
    "ERR_PARAMS",
    "LIST_NAME_MAX",
    "check_batch",
    "ensure_lists",
    "fail",
    "failed_accounts",
    "items_response",
    "owner_of",
    "sns_tags",
]

ERR_PARAMS: Final = 30001  # bad parameters, and every "already is / is not" of the chain
ERR_NO_ACCOUNT: Final = 30003  # the account named does not exist
ERR_OWN_LIST_FULL: Final = 30010  # From_Account already has FRIEND_MAX friends
ERR_LISTS_FULL: Final = 30011  # From_Account already has LISTS_MAX friend lists
ERR_PEER_LIST_FULL: Final = 30014  # To_Account already has FRIEND_MAX friends
ERR_PEER_IN_BLACKLIST: Final = 30515  # To_Account is in From_Account's blacklist
ERR_PEER_DENIES: Final = 30516  # To_Account's AllowType is AllowType_Type_DenyAny
ERR_IN_PEER_BLACKLIST: Final = 30525  # From_Account is in To_Account's blacklist
ERR_PENDING: Final = 30539  # the request waits for To_Account's approval (AllowType_Type_NeedConfirm)
FRIEND_MAX: Final = 3000  # friends an account may have
LISTS_MAX: Final = 30  # friend lists an account may have
LIST_NAME_MAX: Final = 30  # bytes of a friend list's name
REMARK_MAX: Final = 96  # bytes of a remark
ADD_SOURCE_PREFIX: Final = "AddSource_Type_"
ADD_SOURCE_MAX: Final = 8  # bytes after the prefix


def byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


async def owner_of(ctx: Context, user_id: str) -> str:
    """From_Account: an existing account (created first under auto_accounts), else 30003."""
    if not await obtain_account(ctx, user_id):
        raise error_for(ERR_NO_ACCOUNT, "From_Account is not an existing account")
    return user_id


def check_batch(values: list[Any], limit: int, name: str) -> None:
    if not 0 < len(values) <= limit:
        raise error_for(ERR_PARAMS, f"{name} must hold 1 to {limit} items")


def check_add_source(source: str | None) -> str | None:
    """Why `source` is not an AddSource TIM takes ("AddSource_Type_" + 1 to 8 bytes), or None."""
    if source is None:
        return "AddSource is required"
    rest = source.removeprefix(ADD_SOURCE_PREFIX)
    if rest == source or not 0 < byte_len(rest) <= ADD_SOURCE_MAX:
        return f"AddSource must be {ADD_SOURCE_PREFIX} followed by 1 to {ADD_SOURCE_MAX} bytes"
    return None


async def ensure_lists(ctx: Context, owner: str, names: Iterable[str]) -> None:
    """Create the friend lists a friend is put in; TIM caps their number and names."""
    existing = await ctx.state.friend_lists(owner)
    for name in dict.fromkeys(names):
        if not 0 < byte_len(name) <= LIST_NAME_MAX:
            raise error_for(ERR_PARAMS, f"a friend list's name must be 1 to {LIST_NAME_MAX} bytes")
        if name not in existing:
            if len(existing) >= LISTS_MAX:
                raise error_for(ERR_LISTS_FULL, f"an account may have at most {LISTS_MAX} friend lists")
            await ctx.state.add_friend_list(owner, name, ctx.now())
            existing.append(name)
    if names:
        await ctx.state.bump_seq(owner, "group")


def fail(to: str, code: int, info: str) -> ItemResult:
    return ItemResult(To_Account=to, ResultCode=code, ResultInfo=info)


def items_response(results: list[ItemResult]) -> ItemsResponse:
    return ItemsResponse(ResultItem=results, Fail_Account=failed_accounts(results))


def failed_accounts(items: Iterable[ItemResult | CheckItem | FriendData]) -> list[str] | None:
    """`Fail_Account`: the accounts whose ResultCode is not 0, or None (left out) when none failed."""
    failed = [item.To_Account for item in items if item.ResultCode]
    return failed or None


def sns_tags(row: FriendRow) -> dict[str, Any]:
    """A friend's relationship data by Tag (the standard ones, then the app's own)."""
    return {
        "Tag_SNS_IM_Group": row.lists,
        "Tag_SNS_IM_Remark": row.remark,
        "Tag_SNS_IM_AddSource": row.add_source,
        "Tag_SNS_IM_AddWording": row.add_wording,
        "Tag_SNS_IM_AddTime": row.add_time,
        "Tag_SNS_IM_RemarkTime": row.remark_time,
        **row.custom,
    }


def pairs(tags: dict[str, Any], wanted: Iterable[str] | None = None) -> list[TagValue]:
    """Tag/Value pairs of `tags` (only `wanted`, in its order, when given; unset ones left out)."""
    names = tags if wanted is None else [t for t in dict.fromkeys(wanted) if t in tags]
    return [TagValue(Tag=name, Value=tags[name]) for name in names]
