"""`aio-tim conv list|pin|unpin|delete`: a user's conversation list on the server.

aio-tim conv list --user alice          # the server's list (recentcontact/get_list), pinned first
aio-tim conv pin bob --user alice       # recentcontact/top
aio-tim conv delete g1 --group --user alice
"""

from __future__ import annotations

import argparse
from typing import Any

from ..types import ConvType
from ..types.conv import ConvInfo
from .commands import add_command
from .console import console
from .errors import CliError, say
from .options import add_target_options
from .render import local_time
from .target import target_of

__all__ = ["register", "run_conv"]

_ACTIONS = ("list", "pin", "unpin", "delete")


def register(commands: Any) -> None:
    conv = add_command(
        commands, "conv", "Lists a user's conversations as the server keeps them (pinned first, newest "
        "first), or pins, unpins or deletes one."
    )  # fmt: skip
    add_target_options(conv)
    conv.add_argument("action", choices=_ACTIONS, help="what to do")
    conv.add_argument("conv", nargs="?", help="pin/unpin/delete: peer UserID, or group id with --group")
    conv.add_argument("--group", action="store_true", help="CONV names a group")
    conv.set_defaults(run=run_conv)


async def run_conv(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.conv:
        raise CliError(
            f"conv {args.action}: name the conversation (a peer UserID, or a group id with --group)"
        )
    target = target_of(args)
    user = args.user or target.admin
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    async with target.client(user, store_path=":memory:") as tim:
        if args.action == "list":
            convs = await tim.conv.get_conv_list(roaming=True)
            for conv in convs:
                console.print(_line(conv), soft_wrap=True, highlight=False, markup=False)
            if not convs:
                say(f"{user} has no conversations")
            return 0
        if args.action == "delete":
            await tim.conv.delete_conversation(args.conv, conv_type)
        else:
            await tim.conv.pin_conversation(args.conv, conv_type, args.action == "pin")
    console.print(f"{args.action} {'group' if args.group else 'c2c'} {args.conv}: done")
    return 0


def _line(conv: ConvInfo) -> str:
    """One conversation per line: kind, id, pin, marks, the time of its newest message."""
    kind = "c2c  " if conv.type == ConvType.C2C else "group"
    pinned = "pinned" if conv.is_pinned else "      "
    marks = f"  marks={sum(conv.mark_array or [])}" if conv.mark_array else ""
    return f"{kind}  {conv.id}  {pinned}  last={local_time((conv.order_key or 0) >> 20)}{marks}"
