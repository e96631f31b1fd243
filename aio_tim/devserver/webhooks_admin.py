"""The after-callback bodies the group administration handlers fire (beside `webhooks`)."""

from __future__ import annotations

from ..protocol import callbacks as cb
from .rows import GroupRow, MemberRow

__all__ = ["member_field_changed"]


def member_field_changed(
    group: GroupRow, operator: str, member: MemberRow, now: int
) -> cb.GroupAfterMemberFieldChanged:
    """`Group.CallbackAfterMemberFieldChanged` after Role or NameCard changed: `member` as it is now
    (the page's sample carries both fields)."""
    return cb.GroupAfterMemberFieldChanged(
        GroupId=group.group_id,
        Type=group.type,
        Operator_Account=operator,
        Member_Account=member.account,
        Role=member.role,
        NameCard=member.name_card,
        EventTime=now * 1000,
    )
