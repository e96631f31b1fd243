"""`aio-tim receipts`: who read a message, and acknowledging one.

aio-tim send --to team --group "meeting at 3"          # sent asking for receipts? see below
aio-tim receipts show team --group --seq 7              # read 2, unread 1, then who
aio-tim receipts show bob --msg-id 1_2345_1700000000    # C2C: read by bob or not
aio-tim receipts send alice --user bob --msg-id 1_2345_1700000000   # bob acknowledges alice's message

Only a message sent with `need_read_receipt` takes receipts (the server answers 10062 for a group
message that did not ask, 90001 for a C2C one).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..types import ConvType, GroupMessageReadMembersFilter, Message
from .commands import add_command
from .console import console
from .errors import CliError
from .options import add_target_options
from .target import target_of

__all__ = ["register", "run_receipts_send", "run_receipts_show"]


def register(commands: Any) -> None:
    parser = add_command(
        commands, "receipts", "Read receipts: show who read a message, or send one for a received message."
    )
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="who read a message (as --user, default the admin)",
        description="Show a message's read receipts: a group message's read and unread members, "
        "a C2C message's read state (TIMMsgGetMessageReadReceipts).",
    )
    _message_options(show)
    show.add_argument("--unread", action="store_true", help="group: list who has not read it")
    show.set_defaults(run=run_receipts_show)
    send = actions.add_parser(
        "send",
        help="acknowledge a received message (as --user, its recipient)",
        description="Send a read receipt for a message --user received (TIMMsgSendMessageReadReceipts).",
    )
    _message_options(send)
    send.set_defaults(run=run_receipts_send)


def _message_options(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    parser.add_argument("conv", help="peer UserID, or group id with --group")
    parser.add_argument("--group", action="store_true", help="CONV names a group (the message by --seq)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--msg-id", help="C2C: the msg_id (MsgKey) `send` printed")
    which.add_argument("--seq", type=int, help="group: the message's seq")


def _message(args: argparse.Namespace, sender: str | None) -> Message:
    """The message the arguments name, as the receipt functions take it."""
    if args.group:
        if args.seq is None:
            raise CliError("receipts: a group message is named by --seq, not --msg-id")
        if args.seq <= 0:
            raise CliError(f"receipts: --seq must be positive, not {args.seq}")
        return Message(conv_id=args.conv, conv_type=int(ConvType.GROUP), seq=args.seq, rand=0, server_time=0)
    if args.seq is not None:
        raise CliError("receipts: --seq names a group message: add --group (a C2C one is named by --msg-id)")
    parts = (args.msg_id or "").split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CliError(
            f"receipts: --msg-id must look like SEQ_RAND_TIME (as `send` prints it), not {args.msg_id!r}"
        )
    seq, rand, time = map(int, parts)
    return Message(conv_id=args.conv, conv_type=int(ConvType.C2C), seq=seq, rand=rand, server_time=time,
                   msg_id=args.msg_id, sender=sender, is_from_self=sender is None)  # fmt: skip


async def run_receipts_show(args: argparse.Namespace) -> int:
    msg = _message(args, sender=None)
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        [receipt] = await tim.msg.get_message_read_receipts([msg])
        if not args.group:
            console.print(f"{args.msg_id}: {'read' if receipt.is_peer_read else 'not read'} by {args.conv}")
            return 0
        console.print(f"seq {args.seq}: read {receipt.read_count}, unread {receipt.unread_count}")
        which = GroupMessageReadMembersFilter.UNREAD if args.unread else GroupMessageReadMembersFilter.READ
        async for member in tim.msg.get_group_message_read_member_list(msg, which):
            console.print(member.identifier, highlight=False, markup=False)
    return 0


async def run_receipts_send(args: argparse.Namespace) -> int:
    msg = _message(args, sender=None if args.group else args.conv)
    if args.group:
        msg.is_from_self = False
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        await tim.msg.send_message_read_receipts([msg])
    console.print("receipt sent")
    return 0
