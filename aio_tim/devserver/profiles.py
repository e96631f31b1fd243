"""Profile and global-mute endpoints: `profile/portrait_set`, `profile/portrait_get`,
`openconfigsvr/setnospeaking`, `openconfigsvr/getnospeaking`.

Semantics from TIM's pages (cloud.tencent.com/document/product/269/1640 portrait_set, 1639
portrait_get, 1500 the standard profile fields; intl.cloud.tencent.com/document/product/1047/34923
setnospeaking: a C2C-muted sender gets 20012 and a group-muted one 10017, see `refusals`).
Profile codes from the error table (269/1671): 40001 bad parameters, 40003 no such account,
40008 no such field, 40601 a value over 500 bytes, 40605 a value outside its field's choices,
40610 a value of the wrong type.
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol import sns_callbacks as sc
from ..protocol.profile import (
    MUTED_FOREVER,
    PORTRAIT_GET_MAX,
    GetNoSpeaking,
    GetNoSpeakingResponse,
    PortraitGet,
    PortraitGetResponse,
    PortraitSet,
    SetNoSpeaking,
    UserProfile,
)
from ..protocol.sns import TagValue
from .accounts import obtain_account, require_account
from .context import Context, Handler
from .sns_rules import byte_len, pairs

__all__ = ["HANDLERS", "muted"]

ERR_PARAMS: Final = 40001
ERR_NO_ACCOUNT: Final = 40003
ERR_NO_TAG: Final = 40008
ERR_TOO_LONG: Final = 40601
ERR_BAD_CHOICE: Final = 40605
ERR_BAD_TYPE: Final = 40610
ERR_MUTE_ACCOUNT: Final = 70107  # setnospeaking / getnospeaking of an account that does not exist
VALUE_MAX: Final = 500  # bytes of a profile value
CUSTOM_PREFIX: Final = "Tag_Profile_Custom_"
_TEXT: Final = "text"
_NUMBER: Final = "number"
# The standard fields: a kind, or the choices TIM takes.
STANDARD: Final[dict[str, str | frozenset[str]]] = {
    "Tag_Profile_IM_Nick": _TEXT,
    "Tag_Profile_IM_Gender": frozenset({"Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male"}),
    "Tag_Profile_IM_BirthDay": _NUMBER,
    "Tag_Profile_IM_Location": _TEXT,
    "Tag_Profile_IM_SelfSignature": _TEXT,
    "Tag_Profile_IM_AllowType": frozenset(
        {"AllowType_Type_NeedConfirm", "AllowType_Type_AllowAny", "AllowType_Type_DenyAny"}
    ),
    "Tag_Profile_IM_Language": _NUMBER,
    "Tag_Profile_IM_Image": _TEXT,
    "Tag_Profile_IM_MsgSettings": _NUMBER,
    "Tag_Profile_IM_AdminForbidType": frozenset({"AdminForbid_Type_None", "AdminForbid_Type_SendOut"}),
    "Tag_Profile_IM_Level": _NUMBER,
    "Tag_Profile_IM_Role": _NUMBER,
}


# --- portrait_set / portrait_get ------------------------------------------------------------------


def _check_tag(pair: TagValue) -> None:
    """Raise TIM's code unless `pair` is a known field holding a value it takes."""
    kind = STANDARD.get(pair.Tag, _TEXT if pair.Tag.startswith(CUSTOM_PREFIX) else None)
    value = pair.Value
    if kind is None:
        raise error_for(ERR_NO_TAG, f"{pair.Tag} is not a profile field")
    if isinstance(value, list) or (kind == _NUMBER and not isinstance(value, int)):
        raise error_for(ERR_BAD_TYPE, f"{pair.Tag} takes {'an integer' if kind == _NUMBER else 'text'}")
    if kind == _NUMBER and not 0 <= int(value) < 2**32:
        raise error_for(ERR_BAD_CHOICE, f"{pair.Tag} must be a uint32")
    if isinstance(kind, frozenset) and value not in kind:
        raise error_for(ERR_BAD_CHOICE, f"{pair.Tag} must be one of {', '.join(sorted(kind))}")
    if kind == _TEXT and not pair.Tag.startswith(CUSTOM_PREFIX) and not isinstance(value, str):
        raise error_for(ERR_BAD_TYPE, f"{pair.Tag} takes text")
    if isinstance(value, str) and byte_len(value) > VALUE_MAX:
        raise error_for(ERR_TOO_LONG, f"{pair.Tag} must be at most {VALUE_MAX} bytes")


async def portrait_set(ctx: Context, req: PortraitSet) -> Envelope:
    if not await obtain_account(ctx, req.From_Account):
        raise error_for(ERR_NO_ACCOUNT, "From_Account is not an existing account")
    if not req.ProfileItem:
        raise error_for(ERR_PARAMS, "ProfileItem must hold at least one field")
    for pair in req.ProfileItem:
        _check_tag(pair)
    for pair in req.ProfileItem:
        await ctx.state.set_profile_tag(req.From_Account, pair.Tag, pair.Value)
    if ctx.webhooks is not None:
        body = sc.PortraitSet(Operator_Account=ctx.admin, From_Account=req.From_Account,
                              ProfileItem=req.ProfileItem, EventTime=ctx.now() * 1000)  # fmt: skip
        ctx.webhooks.after(body)
    return Envelope()


async def portrait_get(ctx: Context, req: PortraitGet) -> Envelope:
    """The fields asked for that are set (a field never set is left out, as TIM does)."""
    if not 0 < len(req.To_Account) <= PORTRAIT_GET_MAX:
        raise error_for(ERR_PARAMS, f"To_Account must hold 1 to {PORTRAIT_GET_MAX} accounts")
    if not req.TagList:
        raise error_for(ERR_PARAMS, "TagList must name at least one field")
    for tag in req.TagList:
        if tag not in STANDARD and not tag.startswith(CUSTOM_PREFIX):
            raise error_for(ERR_NO_TAG, f"{tag} is not a profile field")
    items: list[UserProfile] = []
    for user_id in dict.fromkeys(req.To_Account):
        if await ctx.state.account_exists(user_id):
            tags = await ctx.state.profile_tags(user_id)
            items.append(UserProfile(To_Account=user_id, ProfileItem=pairs(tags, req.TagList)))
        else:
            items.append(UserProfile(user_id, [], ERR_NO_ACCOUNT, "To_Account is not an existing account"))
    failed = [item.To_Account for item in items if item.ResultCode]
    return PortraitGetResponse(UserProfileItem=items, Fail_Account=failed or None)


# --- setnospeaking / getnospeaking ----------------------------------------------------------------


def _until(seconds: int, now: int) -> int:
    return 0 if seconds == 0 else -1 if seconds == MUTED_FOREVER else now + seconds


def _left(until: int, now: int) -> int:
    """Seconds of a mute still to run (MUTED_FOREVER for good, 0 when none or over)."""
    return MUTED_FOREVER if until == -1 else max(0, until - now)


async def muted(ctx: Context, user_id: str) -> tuple[bool, bool]:
    """Whether `user_id` may not send (C2C messages, group messages) now."""
    c2c, group = await ctx.state.global_mutes(user_id)
    now = ctx.now()
    return _left(c2c, now) > 0, _left(group, now) > 0


async def set_no_speaking(ctx: Context, req: SetNoSpeaking) -> Envelope:
    """Each time given replaces that mute (0 lifts it, 4294967295 is for good); an absent one stays."""
    await require_account(ctx, req.Set_Account, ERR_MUTE_ACCOUNT, "Set_Account")
    if req.C2CmsgNospeakingTime is None and req.GroupmsgNospeakingTime is None:
        raise error_for(90001, "give C2CmsgNospeakingTime, GroupmsgNospeakingTime or both")
    c2c, group = await ctx.state.global_mutes(req.Set_Account)
    now = ctx.now()
    if req.C2CmsgNospeakingTime is not None:
        c2c = _until(req.C2CmsgNospeakingTime, now)
    if req.GroupmsgNospeakingTime is not None:
        group = _until(req.GroupmsgNospeakingTime, now)
    await ctx.state.set_global_mutes(req.Set_Account, c2c, group)
    return Envelope()


async def get_no_speaking(ctx: Context, req: GetNoSpeaking) -> Envelope:
    """The seconds each mute still has to run (4294967295: for good; 0: not muted)."""
    await require_account(ctx, req.Get_Account, ERR_MUTE_ACCOUNT, "Get_Account")
    c2c, group = await ctx.state.global_mutes(req.Get_Account)
    now = ctx.now()
    return GetNoSpeakingResponse(
        C2CmsgNospeakingTime=_left(c2c, now), GroupmsgNospeakingTime=_left(group, now)
    )


HANDLERS: Final[dict[type[Request], Handler]] = {
    PortraitSet: portrait_set,
    PortraitGet: portrait_get,
    SetNoSpeaking: set_no_speaking,
    GetNoSpeaking: get_no_speaking,
}
