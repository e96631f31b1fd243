"""`tim.profile`: user profiles in the C SDK's JSON (`TIMProfileGetUserProfileList`,
`TIMProfileModifySelfUserProfile`) over TIM's `profile/portrait_get` and `portrait_set`.

    async with Client(..., user_id="alice") as tim:
        await tim.profile.modify_self_user_profile({"user_profile_item_nick_name": "Alice",
                                                    "user_profile_item_gender": 1})
        (me,) = await tim.profile.get_user_profile_list(
            {"friendship_getprofilelist_param_identifier_array": ["alice"]})
        assert me.nick_name == "Alice"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .errors import TIM_ERR_PARAM, UsageError
from .protocol import Envelope, Request
from .protocol.profile import (
    PORTRAIT_GET_MAX,
    PROFILE_TAGS,
    PortraitGet,
    PortraitGetResponse,
    PortraitSet,
    profile_of,
    tags_of,
)
from .types._base import coerce
from .types.friendship import FriendshipGetProfileListParam, UserProfileItem
from .types.message import UserProfile

__all__ = ["ProfileManager"]

Submit = Callable[..., Awaitable[Envelope]]


class ProfileManager:
    """Profiles through the Client's pipeline (paced, retried); the Client's user is "self"."""

    def __init__(self, submit: Submit, user_id: str) -> None:
        self._submit = submit
        self._user_id = user_id

    async def _call(self, request: Request) -> Any:
        return await self._submit(request)

    async def get_user_profile_list(self, param: Any) -> list[UserProfile]:
        """`TIMProfileGetUserProfileList`: the standard fields that are set, and the custom ones
        asked for by no name (TIM returns custom fields only when named: pass them in REST)."""
        p = coerce(param, FriendshipGetProfileListParam, what="json_get_user_profile_list_param")
        found: list[UserProfile] = []
        ids = p.identifier_array
        for start in range(0, len(ids), PORTRAIT_GET_MAX):
            chunk = ids[start : start + PORTRAIT_GET_MAX]
            reply: PortraitGetResponse = await self._call(PortraitGet(To_Account=chunk, TagList=PROFILE_TAGS))
            found += [
                profile_of(i.To_Account, i.ProfileItem) for i in reply.UserProfileItem if not i.ResultCode
            ]
        return found

    async def modify_self_user_profile(self, param: Any) -> None:
        """`TIMProfileModifySelfUserProfile`: change the fields given of the Client's user."""
        item = coerce(param, UserProfileItem, what="json_modify_self_user_profile_param")
        pairs = tags_of(item)
        if not pairs:
            raise UsageError(TIM_ERR_PARAM, "json_modify_self_user_profile_param changes no field")
        await self._call(PortraitSet(From_Account=self._user_id, ProfileItem=pairs))
