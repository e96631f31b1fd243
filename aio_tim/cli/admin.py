"""`aio-tim group ...` and `aio-tim account ...`: set up what conversations need.

aio-tim account import alice bob carol
aio-tim group create team --id team --members bob,carol      # owner: --user (default admin)
aio-tim send --to team --group "hi, team"

"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from ..errors import error_for
from ..types.group import GroupType, HandleGroupMemberResult
from .commands import add_command
from .console import console
from .options import add_target_options
from .render import local_time
from .target import target_of

__all__ = ["register", "run_account_check", "run_account_import", "run_group_create", "run_group_delete"]

_TYPES = {"Public": GroupType.PUBLIC, "Private": GroupType.PRIVATE, "Work": GroupType.PRIVATE,
          "ChatRoom": GroupType.CHATROOM, "Meeting": GroupType.CHATROOM,
          "AVChatRoom": GroupType.AVCHATROOM}  # fmt: skip


_OUTCOMES = {
    HandleGroupMemberResult.HANDLED_SUC: "added",
    HandleGroupMemberResult.INCLUDED: "already a member",
    HandleGroupMemberResult.INVITED: "invited (joins on accepting)",
    HandleGroupMemberResult.HANDLED_ERR: "not added",
}


def register(commands: Any) -> None:
    """Add the `group` and `account` commands to the CLI's subparsers."""
    _register_group(
        add_command(
            commands,
            "group",
            "Set up the groups a service sends to: create, dismiss, add or remove members, show.",
        )
    )
    _register_account(
        add_command(
            commands,
            "account",
            "Manage the app's accounts: import UserIDs before sending to them, check, delete.",
        )
    )


def _ids(text: str) -> list[str]:
    """ "a,b, c" -> ["a", "b", "c"]."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _register_group(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a group owned by --user (default: the admin)",
        description="Create a group (TIMGroupCreate) with its first members; prints the group id.",
    )
    add_target_options(create)
    create.add_argument("name", help="the group's name")
    create.add_argument("--id", dest="group_id", help="the group id (default: TIM generates @TGS#...)")
    create.add_argument("--type", dest="group_type", choices=sorted(_TYPES), default="Public",
                        help="default: Public (Work = Private, Meeting = ChatRoom)")  # fmt: skip
    create.add_argument("--members", type=_ids, default=[], help="comma-separated UserIDs")
    create.set_defaults(run=run_group_create)

    delete = actions.add_parser(
        "delete", help="dismiss a group", description="Dismiss a group (TIMGroupDelete)."
    )
    add_target_options(delete)
    delete.add_argument("group_id", metavar="GROUP_ID", help="the group id (`group create` printed it)")
    delete.set_defaults(run=run_group_delete)

    for name, run, verb in (("add", run_group_add, "add"), ("remove", run_group_remove, "remove")):
        action = actions.add_parser(
            name, help=f"{verb} members", description=f"{verb.capitalize()} group members."
        )
        add_target_options(action)
        action.add_argument("group_id", metavar="GROUP_ID", help="the group id (`group create` printed it)")
        action.add_argument("members", type=_ids, help="comma-separated UserIDs")
        action.set_defaults(run=run)

    info = actions.add_parser(
        "info", help="show a group's profile and members", description="Show a group's profile and members."
    )
    add_target_options(info)
    info.add_argument("group_id", metavar="GROUP_ID", help="the group id (`group create` printed it)")
    info.set_defaults(run=run_group_info)


def _register_account(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    for name, run, help_text in (
        ("import", run_account_import, "import accounts (existing ones are kept)"),
        ("check", run_account_check, "show whether accounts are imported"),
        ("delete", run_account_delete, "delete accounts"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text.capitalize() + ".")
        add_target_options(action)
        action.add_argument("user_ids", nargs="+", metavar="ID", help="UserIDs, separated by spaces")
        action.set_defaults(run=run)


# --- group ---------------------------------------------------------------------------------------


async def run_group_create(args: argparse.Namespace) -> int:
    target = target_of(args)
    param = {
        "create_group_param_group_name": args.name,
        "create_group_param_group_type": int(_TYPES[args.group_type]),
        "create_group_param_group_member_array": [{"group_member_info_identifier": m} for m in args.members],
    }
    if args.group_id:
        param["create_group_param_group_id"] = args.group_id
    owner = args.user or target.admin
    async with target.client(owner, store_path=":memory:") as tim:
        created = await tim.group.create(param)
    members = ", ".join(args.members) or "none yet"
    console.print(f"created group {created.groupid} ({args.group_type}): owner {owner}, members {members}",
                  soft_wrap=True, highlight=False)  # fmt: skip
    return 0


async def run_group_delete(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        await tim.group.delete(args.group_id)
    console.print(f"dismissed group {args.group_id}")
    return 0


async def run_group_add(args: argparse.Namespace) -> int:
    target = target_of(args)
    param = {"group_invite_member_param_group_id": args.group_id,
             "group_invite_member_param_identifier_array": args.members}  # fmt: skip
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        results = await tim.group.invite_member(param)
    for result in results:
        console.print(f"{result.identifier}: {_OUTCOMES[result.result]}", highlight=False)
    return 1 if any(r.result is HandleGroupMemberResult.HANDLED_ERR for r in results) else 0


async def run_group_remove(args: argparse.Namespace) -> int:
    target = target_of(args)
    param = {"group_delete_member_param_group_id": args.group_id,
             "group_delete_member_param_identifier_array": args.members}  # fmt: skip
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        await tim.group.delete_member(param)
    console.print(f"removed {', '.join(args.members)} from {args.group_id}")
    return 0


async def run_group_info(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        (info,) = await tim.group.info([args.group_id])
    if info.ErrorCode:  # as `group add` and `group delete` report it: stderr, exit 5
        raise error_for(info.ErrorCode, f"group {args.group_id}: {info.ErrorInfo or 'not found'}")
    line = (f"{info.GroupId}: {info.Name} ({info.Type}), owner {info.Owner_Account}, "
            f"{info.MemberNum} members with the owner, next seq {info.NextMsgSeq}")  # fmt: skip
    console.print(line, highlight=False)
    table = Table("member", "role", "joined")
    for member in info.MemberList or ():
        table.add_row(member.Member_Account, member.Role or "", local_time(member.JoinTime))
    console.print(table)
    return 0


# --- account -------------------------------------------------------------------------------------


async def run_account_import(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        failed = await tim.account.import_accounts(args.user_ids)
    console.print(f"imported {len(args.user_ids) - len(failed)} of {len(args.user_ids)}")
    for user_id in failed:
        console.print(f"  [red]{user_id}[/red] not imported (a UserID is 1 to 32 bytes)")
    return 1 if failed else 0


async def run_account_check(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        found = await tim.account.check(args.user_ids)
    for user_id in args.user_ids:
        console.print(f"{user_id}: {'imported' if found.get(user_id) else 'not imported'}")
    return 0 if all(found.get(u) for u in args.user_ids) else 1


async def run_account_delete(args: argparse.Namespace) -> int:
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        codes = await tim.account.delete(args.user_ids)
    for user_id in args.user_ids:
        code = codes.get(user_id)
        console.print(f"{user_id}: {'deleted' if code == 0 else f'not deleted ({code})'}")
    return 0 if all(codes.get(u) == 0 for u in args.user_ids) else 1
