"""`tim.friendship`: the Client's user's friends, blacklist and friend lists, in the C SDK's JSON
(`TIMFriendshipAddFriend`, `TIMFriendshipDeleteFriend`, ...) over TIM's `sns/*` REST commands.

Each method takes the C SDK's parameter (a Struct, a dict in its keys, or JSON text) and returns
its result objects; the Client's `user_id` is the account whose relationship chain changes:

    async with Client(..., user_id="alice") as tim:
        (result,) = await tim.friendship.add_friend(
            {"friendship_add_friend_param_identifier": "bob",
             "friendship_add_friend_param_add_source": "AddSource_Type_app"})
        assert result.code in (0, 30539)   # 30539: waiting for bob's approval
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .errors import error_for
from .protocol import Envelope, Request
from .protocol.profile import PORTRAIT_GET_MAX, PROFILE_TAGS, PortraitGet, PortraitGetResponse, profile_of
from .protocol.sns import (
    BLACKLIST_MAX,
    FRIEND_ADD_MAX,
    AddFriendItem,
    BlackListAdd,
    BlackListDelete,
    BlackListGet,
    BlackListGetResponse,
    CheckItem,
    FriendAdd,
    FriendCheck,
    FriendCheckResponse,
    FriendDelete,
    FriendGet,
    FriendGetResponse,
    FriendUpdate,
    GroupAdd,
    GroupAddResponse,
    GroupDelete,
    GroupGet,
    GroupGetResponse,
    ItemResult,
    ItemsResponse,
    TagValue,
    UpdateItem,
)
from .types._base import coerce, coerce_list
from .types.friendship import (
    FriendCheckRelation,
    FriendGroupInfo,
    FriendProfile,
    FriendProfileCustomStringInfo,
    FriendResult,
    FriendshipAddFriendParam,
    FriendshipCheckFriendTypeParam,
    FriendshipCheckFriendTypeResult,
    FriendshipCreateFriendGroupParam,
    FriendshipDeleteFriendParam,
    FriendshipModifyFriendProfileParam,
    FriendType,
)
from .types.message import UserProfile

__all__ = ["FriendshipManager"]

Submit = Callable[..., Awaitable[Envelope]]
T = TypeVar("T")
CUSTOM_TAG: Final = "Tag_SNS_Custom_"
# friend_check's Relation -> TIMFriendCheckRelation.
RELATIONS: Final = {
    "CheckResult_Type_NoRelation": FriendCheckRelation.NO_RELATION,
    "CheckResult_Type_AWithB": FriendCheckRelation.IN_MY_LIST,
    "CheckResult_Type_BWithA": FriendCheckRelation.IN_OTHER_LIST,
    "CheckResult_Type_BothWay": FriendCheckRelation.BOTH_WAY,
}


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _results(items: list[ItemResult]) -> list[FriendResult]:
    return [FriendResult(identifier=r.To_Account, code=r.ResultCode, desc=r.ResultInfo) for r in items]


class FriendshipManager:
    """The relationship chain of the Client's user, through the Client's pipeline (paced, retried)."""

    def __init__(self, submit: Submit, user_id: str) -> None:
        self._submit = submit
        self._user_id = user_id

    async def _call(self, request: Request) -> Any:
        return await self._submit(request)

    # --- friends -----------------------------------------------------------------------------

    async def add_friend(self, param: Any) -> list[FriendResult]:
        """`TIMFriendshipAddFriend` (sns/friend_add): one result; code 30539 waits for approval."""
        p = coerce(param, FriendshipAddFriendParam, what="json_add_friend_param")
        item = AddFriendItem(To_Account=p.identifier, AddSource=p.add_source, Remark=p.remark,
                             GroupName=p.group_name, AddWording=p.add_wording)  # fmt: skip
        add_type = "Add_Type_Both" if p.friend_type == FriendType.BOTH else "Add_Type_Single"
        reply: ItemsResponse = await self._call(
            FriendAdd(From_Account=self._user_id, AddFriendItem=[item], AddType=add_type)
        )
        return _results(reply.ResultItem)

    async def delete_friend(self, param: Any) -> list[FriendResult]:
        """`TIMFriendshipDeleteFriend` (sns/friend_delete), 1000 a call."""
        p = coerce(param, FriendshipDeleteFriendParam, what="json_delete_friend_param")
        kind = "Delete_Type_Both" if p.friend_type == FriendType.BOTH else "Delete_Type_Single"
        found: list[FriendResult] = []
        for chunk in _chunks(p.identifier_array, FRIEND_ADD_MAX):
            reply: ItemsResponse = await self._call(
                FriendDelete(From_Account=self._user_id, To_Account=chunk, DeleteType=kind)
            )
            found += _results(reply.ResultItem)
        return found

    async def modify_friend_profile(self, param: Any) -> None:
        """`TIMFriendshipModifyFriendProfile` (sns/friend_update): remark, lists, custom fields."""
        p = coerce(param, FriendshipModifyFriendProfileParam, what="json_modify_friend_info_param")
        changes: list[TagValue] = []
        if p.item.remark is not None:
            changes.append(TagValue(Tag="Tag_SNS_IM_Remark", Value=p.item.remark))
        if p.item.group_name_array is not None:
            changes.append(TagValue(Tag="Tag_SNS_IM_Group", Value=p.item.group_name_array))
        for custom in p.item.custom_string_array or []:
            changes.append(TagValue(Tag=CUSTOM_TAG + custom.key, Value=custom.value))
        reply: ItemsResponse = await self._call(
            FriendUpdate(
                From_Account=self._user_id, UpdateItem=[UpdateItem(To_Account=p.identifier, SnsItem=changes)]
            )
        )
        _raise_first_failure(reply.ResultItem)

    async def get_friend_profile_list(self) -> list[FriendProfile]:
        """`TIMFriendshipGetFriendProfileList` (sns/friend_get, every page; profiles by portrait_get)."""
        friends: list[FriendProfile] = []
        start = 0
        while True:
            page: FriendGetResponse = await self._call(
                FriendGet(From_Account=self._user_id, StartIndex=start)
            )
            friends += [_friend_profile(item.To_Account, item.ValueItem or []) for item in page.UserDataItem]
            if page.CompleteFlag or not page.UserDataItem:
                break
            start = page.NextStartIndex
        profiles = await self._profiles([f.identifier for f in friends])
        for friend in friends:
            friend.user_profile = profiles.get(friend.identifier)
        return friends

    async def check_friend_type(self, param: Any) -> list[FriendshipCheckFriendTypeResult]:
        """`TIMFriendshipCheckFriendType` (sns/friend_check)."""
        p = coerce(param, FriendshipCheckFriendTypeParam, what="json_check_friend_list_param")
        check = "CheckResult_Type_Both" if p.check_type == FriendType.BOTH else "CheckResult_Type_Single"
        found: list[FriendshipCheckFriendTypeResult] = []
        for chunk in _chunks(p.identifier_array, FRIEND_ADD_MAX):
            reply: FriendCheckResponse = await self._call(
                FriendCheck(From_Account=self._user_id, To_Account=chunk, CheckType=check)
            )
            found += [_checked(item) for item in reply.InfoItem]
        return found

    # --- blacklist ---------------------------------------------------------------------------

    async def add_to_black_list(self, identifiers: Any) -> list[FriendResult]:
        """`TIMFriendshipAddToBlackList` (sns/black_list_add): the friendship ends both ways."""
        ids = coerce_list(identifiers, str, what="json_add_to_blacklist_param")
        found: list[FriendResult] = []
        for chunk in _chunks(ids, BLACKLIST_MAX):
            reply: ItemsResponse = await self._call(
                BlackListAdd(From_Account=self._user_id, To_Account=chunk)
            )
            found += _results(reply.ResultItem)
        return found

    async def delete_from_black_list(self, identifiers: Any) -> list[FriendResult]:
        """`TIMFriendshipDeleteFromBlackList` (sns/black_list_delete)."""
        ids = coerce_list(identifiers, str, what="json_delete_from_blacklist_param")
        found: list[FriendResult] = []
        for chunk in _chunks(ids, BLACKLIST_MAX):
            reply: ItemsResponse = await self._call(
                BlackListDelete(From_Account=self._user_id, To_Account=chunk)
            )
            found += _results(reply.ResultItem)
        return found

    async def get_black_list(self) -> list[FriendProfile]:
        """`TIMFriendshipGetBlackList` (sns/black_list_get, every page): who is blacklisted, with
        the time each was added as `add_time`."""
        blocked: list[FriendProfile] = []
        start = 0
        while True:
            request = BlackListGet(From_Account=self._user_id, StartIndex=start, MaxLimited=BLACKLIST_MAX,
                                   LastSequence=0)  # fmt: skip
            page: BlackListGetResponse = await self._call(request)
            blocked += [
                FriendProfile(identifier=i.To_Account, add_time=i.AddBlackTimeStamp)
                for i in page.BlackListItem
            ]
            if not page.StartIndex:
                return blocked
            start = page.StartIndex

    # --- friend lists ------------------------------------------------------------------------

    async def create_friend_group(self, param: Any) -> list[FriendResult]:
        """`TIMFriendshipCreateFriendGroup` (sns/group_add): one result per friend put in them."""
        p = coerce(param, FriendshipCreateFriendGroupParam, what="json_create_friend_group_param")
        reply: GroupAddResponse = await self._call(
            GroupAdd(From_Account=self._user_id, GroupName=p.name_array, To_Account=p.identifier_array)
        )
        return _results(reply.ResultItem)

    async def delete_friend_group(self, names: Any) -> None:
        """`TIMFriendshipDeleteFriendGroup` (sns/group_delete): the friends stay friends."""
        group_names = coerce_list(names, str, what="json_delete_friend_group_param")
        await self._call(GroupDelete(From_Account=self._user_id, GroupName=group_names))

    async def get_friend_group_list(self, names: Any = None) -> list[FriendGroupInfo]:
        """`TIMFriendshipGetFriendGroupList` (sns/group_get): the lists named (all when none)."""
        wanted = coerce_list(names, str, what="json_get_friend_group_list_param") if names else None
        reply: GroupGetResponse = await self._call(
            GroupGet(From_Account=self._user_id, NeedFriend="Need_Friend_Type_Yes", GroupName=wanted)
        )
        return [FriendGroupInfo(g.GroupName, g.FriendNumber, g.To_Account or []) for g in reply.ResultItem]

    async def _profiles(self, user_ids: list[str]) -> dict[str, UserProfile]:
        found: dict[str, UserProfile] = {}
        for chunk in _chunks(user_ids, PORTRAIT_GET_MAX):
            reply: PortraitGetResponse = await self._call(PortraitGet(To_Account=chunk, TagList=PROFILE_TAGS))
            found |= {i.To_Account: profile_of(i.To_Account, i.ProfileItem) for i in reply.UserProfileItem}
        return found


def _friend_profile(user_id: str, values: list[TagValue]) -> FriendProfile:
    tags = {pair.Tag: pair.Value for pair in values}

    def text(tag: str) -> str | None:
        value = tags.get(tag)
        return value if isinstance(value, str) else None

    lists, added = tags.get("Tag_SNS_IM_Group"), tags.get("Tag_SNS_IM_AddTime")
    custom = [
        FriendProfileCustomStringInfo(key=tag.removeprefix(CUSTOM_TAG), value=str(value))
        for tag, value in tags.items() if tag.startswith(CUSTOM_TAG)
    ]  # fmt: skip
    return FriendProfile(
        identifier=user_id, group_name_array=lists if isinstance(lists, list) else None,
        remark=text("Tag_SNS_IM_Remark"), add_wording=text("Tag_SNS_IM_AddWording"),
        add_source=text("Tag_SNS_IM_AddSource"), add_time=added if isinstance(added, int) else None,
        custom_string_array=custom or None,
    )  # fmt: skip


def _checked(item: CheckItem) -> FriendshipCheckFriendTypeResult:
    relation = RELATIONS.get(item.Relation, FriendCheckRelation.NO_RELATION)
    return FriendshipCheckFriendTypeResult(item.To_Account, relation, item.ResultCode, item.ResultInfo)


def _raise_first_failure(items: list[ItemResult]) -> None:
    for item in items:
        if item.ResultCode:
            raise error_for(item.ResultCode, item.ResultInfo or f"{item.To_Account}: refused")
