"""`aio-tim send`, `history` and `revoke`: one message out, a conversation's pages, a recall.

aio-tim send --to bob "hello"                  # prints seq, rand, server_time and msg_id
aio-tim history bob --limit 10
aio-tim revoke bob --msg-id 1_2345_1700000000
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..types import ConvType, FileElem, Message
from .commands import add_command
from .console import console
from .errors import CliError, ExitCode, say
from .options import add_target_options, at_least
from .progress import send_with_upload_bar
from .render import local_time, status_name, summary, text_message
from .target import target_of

__all__ = ["register", "run_history", "run_revoke", "run_send"]


def register(commands: Any) -> None:
    send = add_command(
        commands, "send", "Sends one message (text, an attached file, or both) and prints its msg_id."
    )
    add_target_options(send)
    send.add_argument("--to", required=True, help="peer UserID, or group id with --group")
    send.add_argument("--group", action="store_true", help="--to names a group")
    send.add_argument("--file", type=Path, help="attach this file (uploaded first, with a progress bar)")
    send.add_argument("--receipt", action="store_true", help="ask for read receipts (`aio-tim receipts`)")
    send.add_argument("text", nargs="?", default="", help="the message's text (optional with --file)")
    send.set_defaults(run=run_send)

    history = add_command(commands, "history", "Lists a conversation's messages from the server's roaming "
                          "history, newest first, with local times.")  # fmt: skip
    add_target_options(history)
    history.add_argument("conv", help="peer UserID, or group id with --group")
    history.add_argument("--group", action="store_true", help="CONV names a group")
    history.add_argument("--page-size", type=at_least(1), default=20,
                         help="messages fetched per request (default: 20)")  # fmt: skip
    history.add_argument("--limit", type=at_least(1), default=100, help="stop after this many messages")
    history.set_defaults(run=run_history)

    revoke = add_command(commands, "revoke", "Recalls a C2C message by the msg_id `send` printed, or a "
                         "group message by its seq.")  # fmt: skip
    add_target_options(revoke)
    revoke.add_argument("conv", help="peer UserID, or group id with --group")
    revoke.add_argument("--group", action="store_true", help="CONV names a group (the message by --seq)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--msg-id", help="C2C: the msg_id (MsgKey) `send` printed")
    which.add_argument("--seq", type=int, help="group: the message's seq")
    revoke.set_defaults(run=run_revoke)


async def run_send(args: argparse.Namespace) -> int:
    target = target_of(args)
    if not args.text and args.file is None:
        raise CliError("a message needs text (or --file)")
    if args.file is not None and not args.file.is_file():
        reason = "is a folder, not a file" if args.file.is_dir() else "no such file"
        raise CliError(f"--file {args.file}: {reason}", ExitCode.LOCAL)
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    msg = text_message(args.text) if args.text else Message()
    if args.receipt:
        msg.need_read_receipt = True
    if args.file is not None:
        msg.elem_array.append(FileElem(file_path=str(args.file)))
    async with target.client(args.user or target.admin) as tim:
        sent = await send_with_upload_bar(tim, args.to, conv_type, msg)
    console.print(
        f"sent to {args.to}: seq={sent.seq} rand={sent.rand} "
        f"server_time={sent.server_time} msg_id={sent.msg_id}",
        soft_wrap=True,
    )
    for elem in sent.elem_array:
        if isinstance(elem, FileElem):
            console.print(f"attachment {elem.file_name} ({elem.file_size} bytes): {elem.url}", soft_wrap=True)
    return 0


async def run_history(args: argparse.Namespace) -> int:
    target = target_of(args)
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        shown = 0
        async for msg in tim.msg.iter_msg_list(args.conv, conv_type, page_size=args.page_size, remble=True):
            console.print(_history_line(msg), soft_wrap=True, highlight=False, markup=False)
            shown += 1
            if shown >= args.limit:
                break
    if not shown:
        say(f"no messages with {args.conv}")
    return 0


def _history_line(msg: Message) -> str:
    """One message per line, whole (never cut or wrapped, fit for grep): the fields `send` prints
    (`revoke` takes the msg_id, `download` an attachment's URL), then the content."""
    msg_id = f"  msg_id={msg.msg_id}" if msg.msg_id else ""
    when, status = local_time(msg.server_time), status_name(msg)
    return f"{when}  seq={msg.seq}  from={msg.sender or '-'}  {status}{msg_id}  {summary(msg)}"


async def run_revoke(args: argparse.Namespace) -> int:
    if args.seq is not None and not args.group:
        raise CliError("revoke: --seq names a group message: add --group (a C2C one is named by --msg-id)")
    if args.group and args.seq is None:
        raise CliError("revoke: a group message is named by --seq, not --msg-id")
    target = target_of(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        if args.group:
            await tim.msg.revoke(args.conv, ConvType.GROUP, Message(seq=args.seq))
        else:
            await tim.msg.revoke(args.conv, ConvType.C2C, _message_from_key(args.msg_id))
    console.print("revoked")
    return 0


def _message_from_key(msg_id: str | None, command: str = "revoke") -> Message:
    """A C2C MsgKey is `{seq}_{rand}_{time}`: enough to name the message to recall (or edit)."""
    parts = (msg_id or "").split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CliError(
            f"{command}: --msg-id must look like SEQ_RAND_TIME (as `send` prints it), not {msg_id!r}"
        )
    seq, rand, time = map(int, parts)
    return Message(seq=seq, rand=rand, server_time=time, msg_id=msg_id)
