"""Endpoints of conversation groups: `recentcontact/create_contact_group`, `update_contact_group`,
`get_contact_group`, `del_contact_group` (protocol/contactgroups.py has their shapes and pages).

Codes: 50001 for a From_Account that is not an account, 50002 for a bad parameter (as the other
recentcontact commands: tencentcloud.com/document/product/1047/43088), 51008 over a cap: 20 groups
per user, 1000 conversations per group (1047/53437, 53439). TIM's pages name no code of their
own for an unknown or taken group name; here both are 50002, nothing changed. One group per
create and per delete, as the pages say "only one at a time".
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.contactgroups import (
    ContactGroupEntry,
    ContactResultItem,
    CreateContactGroup,
    CreateContactGroupResponse,
    DeleteContactGroup,
    DeleteContactGroupResponse,
    GetContactGroup,
    GetContactGroupResponse,
    GroupItem,
    GroupResultItem,
    UpdateContactGroup,
    UpdateContactGroupResponse,
    UpdateGroup,
    UpdateGroupResult,
)
from ..protocol.recentcontact import ContactItem
from .accounts import require_account, valid_user_id
from .contact_group_queries import GroupedContact
from .context import Context, Handler
from .recent_queries import C2C, GROUP

__all__ = ["HANDLERS", "MAX_GROUPS", "MAX_MEMBERS"]

ERR_NO_ACCOUNT: Final = 50001
ERR_PARAMS: Final = 50002
ERR_OVER_CAP: Final = 51008
MAX_GROUPS: Final = 20
MAX_MEMBERS: Final = 1000
MAX_NAME: Final = 32  # bytes
PAGE: Final = 100


def _name(name: object, what: str) -> str:
    if not isinstance(name, str) or not 0 < len(name.encode()) <= MAX_NAME:
        raise error_for(ERR_PARAMS, f"{what} is 1 to {MAX_NAME} bytes")
    return name


def _conv(item: ContactItem) -> tuple[int, str]:
    if item.Type == C2C and item.To_Account and valid_user_id(item.To_Account):
        return C2C, item.To_Account
    group_id = item.ToGroupId or item.GroupId
    if item.Type == GROUP and group_id:
        return GROUP, group_id
    raise error_for(ERR_PARAMS, "a conversation is Type 1 with To_Account or Type 2 with ToGroupId")


def _convs(items: list[ContactItem]) -> list[tuple[int, str]]:
    convs = list(dict.fromkeys(_conv(item) for item in items))
    if len(convs) > MAX_MEMBERS:
        raise error_for(ERR_OVER_CAP, f"a conversation group holds at most {MAX_MEMBERS} conversations")
    return convs


async def _group_id(ctx: Context, account: str, name: str) -> int:
    for group_id, found in await ctx.state.contact_groups(account):
        if found == name:
            return group_id
    raise error_for(ERR_PARAMS, f"no conversation group named {name!r}")


async def create(ctx: Context, req: CreateContactGroup) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if len(req.GroupContactItem) != 1:
        raise error_for(ERR_PARAMS, "GroupContactItem holds one conversation group")
    [wanted] = req.GroupContactItem
    name, convs = _name(wanted.GroupName, "GroupName"), _convs(wanted.ContactItem)
    existing = await ctx.state.contact_groups(req.From_Account)
    if any(found == name for _, found in existing):
        raise error_for(ERR_PARAMS, f"a conversation group named {name!r} exists")
    if len(existing) >= MAX_GROUPS:
        raise error_for(ERR_OVER_CAP, f"a user has at most {MAX_GROUPS} conversation groups")
    group_id = await ctx.state.contact_group_create(req.From_Account, name)
    for conv in convs:
        await ctx.state.contact_group_add(req.From_Account, group_id, conv, ctx.now())
    results = [ContactResultItem(ContactItem=item) for item in wanted.ContactItem]
    return CreateContactGroupResponse(
        GroupResultItem=[GroupResultItem(GroupItem=GroupItem(name, group_id), ResultItem=results)]
    )


async def update(ctx: Context, req: UpdateContactGroup) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if req.UpdateType != 1 or req.UpdateGroup is None:
        raise error_for(ERR_PARAMS, "UpdateType is 1, with UpdateGroup")
    change = req.UpdateGroup
    group_id = await _group_id(ctx, req.From_Account, _name(change.OldGroupName, "OldGroupName"))
    if change.UpdateGroupType == 1:
        return await _rename(ctx, req.From_Account, group_id, change)
    if change.UpdateGroupType == 2:
        return await _members(ctx, req.From_Account, group_id, change)
    raise error_for(ERR_PARAMS, "UpdateGroupType is 1 (rename) or 2 (conversations)")


async def _rename(ctx: Context, account: str, group_id: int, change: UpdateGroup) -> Envelope:
    new = _name(change.NewGroupName, "NewGroupName")
    if new != change.OldGroupName and any(n == new for _, n in await ctx.state.contact_groups(account)):
        raise error_for(ERR_PARAMS, f"a conversation group named {new!r} exists")
    await ctx.state.contact_group_rename(account, group_id, new)
    return UpdateContactGroupResponse(
        UpdateGroupResult=UpdateGroupResult(1, change.OldGroupName, new, group_id)
    )


async def _members(ctx: Context, account: str, group_id: int, change: UpdateGroup) -> Envelope:
    items = change.ContactUpdateItem or []
    if not items or any(item.ContactOptType not in (1, 2) for item in items):
        raise error_for(ERR_PARAMS, "ContactUpdateItem holds items of ContactOptType 1 (add) or 2 (remove)")
    ops = [(item.ContactOptType, _conv(item.ContactItem)) for item in items]
    now = ctx.now()
    for opt, conv in ops:
        if opt == 1:
            await ctx.state.contact_group_add(account, group_id, conv, now)
        else:
            await ctx.state.contact_group_remove(account, group_id, conv)
    if await ctx.state.contact_group_size(account, group_id) > MAX_MEMBERS:  # the transaction rolls back
        raise error_for(ERR_OVER_CAP, f"a conversation group holds at most {MAX_MEMBERS} conversations")
    results = [ContactResultItem(ContactItem=i.ContactItem, ContactOptType=i.ContactOptType) for i in items]
    return UpdateContactGroupResponse(
        UpdateGroupResult=UpdateGroupResult(2, change.OldGroupName, None, group_id, results)
    )


async def get(ctx: Context, req: GetContactGroup) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    page = await ctx.state.grouped_contacts(req.From_Account, req.StartIndex, PAGE + 1)
    done = len(page) <= PAGE
    entries = [_entry(contact) for contact in page[:PAGE]]
    groups = [
        GroupItem(name, group_id) for group_id, name in await ctx.state.contact_groups(req.From_Account)
    ]
    return GetContactGroupResponse(
        ContactItem=entries, GroupItem=groups, CompleteFlag=int(done),
        NextStartIndex=0 if done else req.StartIndex + PAGE,
    )  # fmt: skip


def _entry(contact: GroupedContact) -> ContactGroupEntry:
    c2c = contact.type == C2C
    return ContactGroupEntry(
        Type=contact.type, To_Account=contact.peer if c2c else None, ToGroupId=None if c2c else contact.peer,
        ContactGroupId=contact.group_ids, Timestamp=contact.added,
    )  # fmt: skip


async def delete(ctx: Context, req: DeleteContactGroup) -> Envelope:
    await require_account(ctx, req.From_Account, ERR_NO_ACCOUNT, "From_Account")
    if len(req.GroupName) != 1:
        raise error_for(ERR_PARAMS, "GroupName names one conversation group")
    name = _name(req.GroupName[0], "GroupName")
    group_id = await _group_id(ctx, req.From_Account, name)
    await ctx.state.contact_group_delete(req.From_Account, group_id)
    return DeleteContactGroupResponse(GroupItem=[GroupItem(name, group_id)])


HANDLERS: Final[dict[type[Request], Handler]] = {
    CreateContactGroup: create,
    UpdateContactGroup: update,
    GetContactGroup: get,
    DeleteContactGroup: delete,
}
