"""Push to all users (`all_member_push/*`): attribute names, user attributes and tags, and the push.

The dev server delivers nothing to devices: a push is recorded with the accounts its Condition
selected (`DevServer.push_recipients(task_id)`), which is what a test can check. Codes from TIM's
pages: 90018 too many accounts, 90033 an invalid attribute (https://trtc.io/document/37170).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.push import (
    ATTR_NAME_MAX_BYTES,
    ATTR_SLOTS,
    CONDITION_TAGS_MAX,
    TAG_MAX_BYTES,
    TAGS_PER_USER_MAX,
    USERS_PER_CALL,
    AddTag,
    GetAttr,
    GetAttrName,
    GetAttrNameResponse,
    GetAttrResponse,
    GetTag,
    GetTagResponse,
    ImPush,
    ImPushResponse,
    PushCondition,
    RemoveAllTags,
    RemoveAttr,
    RemoveTag,
    SetAttr,
    SetAttrName,
    UserAttrs,
    UserTags,
)
from .accounts import obtain_account, valid_user_id
from .context import Context, Handler
from .rows import encode_body
from .validation import OPENIM, check_msg_body, check_msg_body_size

__all__ = ["HANDLERS"]

ERR_PARAMS: Final = 90001
ERR_TOO_MANY_ACCOUNTS: Final = 90018
ERR_BAD_ATTR: Final = 90033
ERR_SENDER: Final = 90008
ERR_LIFETIME: Final = 90044
MAX_LIFETIME: Final = 7 * 86400  # im_push keeps a message offline for at most 7 days
ATTR_VALUE_MAX_BYTES: Final = 50


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _check_accounts(accounts: Iterable[str], what: str) -> list[str]:
    names = list(accounts)
    if not 0 < len(names) <= USERS_PER_CALL:
        raise error_for(ERR_TOO_MANY_ACCOUNTS, f"{what} must name 1 to {USERS_PER_CALL} accounts")
    bad = [name for name in names if not valid_user_id(name)]
    if bad:
        raise error_for(ERR_PARAMS, f"{what} holds an invalid UserID")
    return names


# --- attribute names ------------------------------------------------------------------------------


async def set_attr_name(ctx: Context, req: SetAttrName) -> Envelope:
    """https://trtc.io/document/37167: slots "0" to "9", names of at most 50 bytes."""
    names: dict[int, str] = {}
    for key, name in req.AttrNames.items():
        if not (key.isdigit() and int(key) < ATTR_SLOTS) or not 0 < _bytes(name) <= ATTR_NAME_MAX_BYTES:
            limits = f"keys are 0 to 9, names 1 to {ATTR_NAME_MAX_BYTES} bytes"
            raise error_for(ERR_BAD_ATTR, f"AttrNames: {limits}")
        names[int(key)] = name
    if not names:
        raise error_for(ERR_BAD_ATTR, "AttrNames is empty")
    merged = {**await ctx.state.attr_names(), **names}
    if len(set(merged.values())) != len(merged):
        raise error_for(ERR_BAD_ATTR, "two attribute slots would have the same name")
    await ctx.state.set_attr_names(names)
    return Envelope()


async def get_attr_name(ctx: Context, req: GetAttrName) -> Envelope:
    names = await ctx.state.attr_names()
    return GetAttrNameResponse(AttrNames={str(slot): name for slot, name in names.items()})


# --- user attributes ------------------------------------------------------------------------------


async def get_attr(ctx: Context, req: GetAttr) -> Envelope:
    accounts = _check_accounts(req.To_Account, "To_Account")
    found = [UserAttrs(account, await ctx.state.user_attrs(account)) for account in accounts]
    return GetAttrResponse(UserAttrs=found)


async def set_attr(ctx: Context, req: SetAttr) -> Envelope:
    """Only the app's attribute names may be set (90033), values of at most 50 bytes."""
    _check_accounts((item.To_Account for item in req.UserAttrs), "UserAttrs")
    known = set((await ctx.state.attr_names()).values())
    for item in req.UserAttrs:
        for name, value in item.Attrs.items():
            if name not in known:
                raise error_for(ERR_BAD_ATTR, f"{name[:50]!r} is not one of the app's attribute names")
            if not isinstance(value, str | int | float) or _bytes(str(value)) > ATTR_VALUE_MAX_BYTES:
                limit = f"text of at most {ATTR_VALUE_MAX_BYTES} bytes"
                raise error_for(ERR_BAD_ATTR, f"attribute values are {limit}")
    for item in req.UserAttrs:
        await obtain_account(ctx, item.To_Account)  # a user first named here is one (auto_accounts)
        await ctx.state.set_user_attrs(item.To_Account, item.Attrs)
    return Envelope()


async def remove_attr(ctx: Context, req: RemoveAttr) -> Envelope:
    _check_accounts((item.To_Account for item in req.UserAttrs), "UserAttrs")
    for item in req.UserAttrs:
        await ctx.state.remove_user_attrs(item.To_Account, item.Attrs)
    return Envelope()


# --- user tags ------------------------------------------------------------------------------------


async def get_tag(ctx: Context, req: GetTag) -> Envelope:
    accounts = _check_accounts(req.To_Account, "To_Account")
    return GetTagResponse(UserTags=[UserTags(a, await ctx.state.user_tags(a)) for a in accounts])


def _check_tags(tags: list[str]) -> None:
    if not 0 < len(tags) <= CONDITION_TAGS_MAX:
        raise error_for(ERR_BAD_ATTR, f"Tags must hold 1 to {CONDITION_TAGS_MAX} tags a call")
    if any(not 0 < _bytes(tag) <= TAG_MAX_BYTES for tag in tags):
        raise error_for(ERR_BAD_ATTR, f"a tag is 1 to {TAG_MAX_BYTES} bytes")


async def add_tag(ctx: Context, req: AddTag) -> Envelope:
    """At most 10 tags a user a call, 100 tags a user in all."""
    _check_accounts((item.To_Account for item in req.UserTags), "UserTags")
    for item in req.UserTags:
        _check_tags(item.Tags)
    for item in req.UserTags:
        held = set(await ctx.state.user_tags(item.To_Account))
        if len(held | set(item.Tags)) > TAGS_PER_USER_MAX:
            raise error_for(ERR_BAD_ATTR, f"a user holds at most {TAGS_PER_USER_MAX} tags")
        await obtain_account(ctx, item.To_Account)  # a user first named here is one (auto_accounts)
        await ctx.state.add_user_tags(item.To_Account, list(dict.fromkeys(item.Tags)), ctx.now())
    return Envelope()


async def remove_tag(ctx: Context, req: RemoveTag) -> Envelope:
    _check_accounts((item.To_Account for item in req.UserTags), "UserTags")
    for item in req.UserTags:
        _check_tags(item.Tags)
    for item in req.UserTags:
        await ctx.state.remove_user_tags(item.To_Account, item.Tags)
    return Envelope()


async def remove_all_tags(ctx: Context, req: RemoveAllTags) -> Envelope:
    for account in _check_accounts(req.To_Account, "To_Account"):
        await ctx.state.remove_user_tags(account, None)
    return Envelope()


# --- im_push --------------------------------------------------------------------------------------


def _check_condition(cond: PushCondition | None) -> None:
    """Tags or attributes, not both (https://trtc.io/document/37166); at most 10 tags a list."""
    if cond is None:
        return
    if (cond.TagsAnd or cond.TagsOr) and (cond.AttrsAnd or cond.AttrsOr):
        raise error_for(ERR_PARAMS, "a push selects by tags or by attributes, not both")
    for tags in (cond.TagsAnd, cond.TagsOr):
        if tags and len(tags) > CONDITION_TAGS_MAX:
            raise error_for(ERR_BAD_ATTR, f"TagsAnd and TagsOr hold at most {CONDITION_TAGS_MAX} tags")


async def _selected(ctx: Context, account: str, cond: PushCondition) -> bool:
    tags = set(await ctx.state.user_tags(account))
    if cond.TagsAnd and not set(cond.TagsAnd) <= tags:
        return False
    if cond.TagsOr and not set(cond.TagsOr) & tags:
        return False
    attrs = {name: str(value) for name, value in (await ctx.state.user_attrs(account)).items()}
    wanted_all = {name: str(value) for name, value in (cond.AttrsAnd or {}).items()}
    if any(attrs.get(name) != value for name, value in wanted_all.items()):
        return False
    wanted_any = {name: str(value) for name, value in (cond.AttrsOr or {}).items()}
    return not wanted_any or any(attrs.get(name) == value for name, value in wanted_any.items())


async def im_push(ctx: Context, req: ImPush) -> Envelope:
    """https://trtc.io/document/37166 (im_push): every account, or those the Condition selects;
    the message lives offline for MsgLifeTime seconds (at most 7 days)."""
    check_msg_body(req.MsgBody, OPENIM.msg_body_item)
    check_msg_body_size(req.MsgBody)
    _check_condition(req.Condition)
    if req.MsgLifeTime is not None and not 0 <= req.MsgLifeTime <= MAX_LIFETIME:
        raise error_for(ERR_LIFETIME, f"MsgLifeTime must be 0 to {MAX_LIFETIME} seconds")
    sender = req.From_Account or ctx.admin
    if sender != ctx.admin and not await obtain_account(ctx, sender):
        raise error_for(ERR_SENDER, "From_Account is not an existing account")
    # Every user but the sender and the App admin (a service account, not an audience).
    accounts = [a for a in await ctx.state.all_accounts() if a not in (sender, ctx.admin)]
    cond = req.Condition
    recipients = [a for a in accounts if cond is None or await _selected(ctx, a, cond)]
    task_id = f"{ctx.random_u32():08x}_{ctx.random_u32():08x}_{ctx.now():x}"
    condition: Any = None if cond is None else msgspec.json.encode(cond).decode()
    task = (task_id, sender, req.MsgRandom, encode_body(req.MsgBody), condition, recipients, ctx.now())
    await ctx.state.insert_push(task)
    return ImPushResponse(TaskId=task_id)


HANDLERS: Final[dict[type[Request], Handler]] = {
    ImPush: im_push,
    SetAttrName: set_attr_name,
    GetAttrName: get_attr_name,
    GetAttr: get_attr,
    SetAttr: set_attr,
    RemoveAttr: remove_attr,
    GetTag: get_tag,
    AddTag: add_tag,
    RemoveTag: remove_tag,
    RemoveAllTags: remove_all_tags,
}
