"""`aio-tim search` and `aio-tim edit`: the local store's keyword search, and a sent message's new text.

aio-tim search invoice                          # every conversation of the user's local store
aio-tim search invoice overdue --all --conv bob # both words, one conversation
aio-tim edit bob --msg-id 1_2345_1700000000 "the corrected text"
aio-tim edit g1 --group --seq 7 "the corrected text"
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from ..types import ConvType, Message, MsgSearchResult, TextElem
from .commands import add_command
from .console import console
from .errors import CliError, say
from .messages import _history_line, _message_from_key
from .options import add_target_options, at_least
from .target import target_of

__all__ = ["register", "run_edit", "run_search"]


def register(commands: Any) -> None:
    search = add_command(commands, "search", "Searches the messages kept in the user's local store "
                         "(sent, received, fetched) by keyword, newest first.")  # fmt: skip
    add_target_options(search)
    search.add_argument("keyword", nargs="+", help="up to 5 keywords (any of them; all with --all)")
    search.add_argument("--all", action="store_true", help="every keyword must match (default: any)")
    search.add_argument("--conv", help="only this conversation: peer UserID, or group id with --group")
    search.add_argument("--group", action="store_true", help="--conv names a group")
    search.add_argument("--sender", action="append", default=[], help="only messages from this UserID "
                        "(repeat for up to 5)")  # fmt: skip
    search.add_argument("--limit", type=at_least(1), default=20, help="messages (or conversations) shown")
    search.set_defaults(run=run_search)

    edit = add_command(commands, "edit", "Replaces a sent message's text, on the server and here: a C2C "
                       "message by the msg_id `send` printed, a group message by its seq.")  # fmt: skip
    add_target_options(edit)
    edit.add_argument("conv", help="peer UserID, or group id with --group")
    edit.add_argument("--group", action="store_true", help="CONV names a group (the message by --seq)")
    which = edit.add_mutually_exclusive_group(required=True)
    which.add_argument("--msg-id", help="C2C: the msg_id (MsgKey) `send` printed")
    which.add_argument("--seq", type=int, help="group: the message's seq")
    edit.add_argument("text", help="the message's new text")
    edit.set_defaults(run=run_edit)


async def run_search(args: argparse.Namespace) -> int:
    if args.group and not args.conv:
        raise CliError("search: --group goes with --conv GROUP_ID")
    param: dict[str, Any] = {
        "msg_search_param_keyword_array": args.keyword,
        "msg_search_param_keyword_list_match_type": 1 if args.all else 0,
        "msg_search_param_page_size": args.limit,
    }
    if args.sender:
        param["msg_search_param_send_indentifier_array"] = args.sender
    if args.conv:
        param["msg_search_param_conv_id"] = args.conv
        param["msg_search_param_conv_type"] = int(ConvType.GROUP if args.group else ConvType.C2C)
    target = target_of(args)
    async with target.client(args.user or target.admin) as tim:
        result = await tim.msg.search_local_messages(param)
    _print_result(result, one_conversation=bool(args.conv))
    return 0


def _print_result(result: MsgSearchResult, *, one_conversation: bool) -> None:
    if not result.total_count:
        say("no stored message matches")
        return
    noun = "messages" if one_conversation else "conversations"
    console.print(f"{result.total_count} {noun}", highlight=False)
    for item in result.item_array:
        kind = "group" if item.conv_type == ConvType.GROUP else "c2c"
        if not one_conversation:
            console.print(f"{kind} {item.conv_id}: {item.total_message_count} matching", highlight=False,
                          markup=False)  # fmt: skip
        for msg in item.message_array:
            console.print(_history_line(msg), soft_wrap=True, highlight=False, markup=False)


async def run_edit(args: argparse.Namespace) -> int:
    if args.seq is not None and not args.group:
        raise CliError("edit: --seq names a group message: add --group (a C2C one is named by --msg-id)")
    if args.group and args.seq is None:
        raise CliError("edit: a group message is named by --seq, not --msg-id")
    if not args.text:
        raise CliError("edit: the new text is empty")
    target = target_of(args)
    async with target.client(args.user or target.admin) as tim:
        if args.group:
            by_seq = {
                "msg_getmsglist_param_message_seq_array": [args.seq],
                "msg_getmsglist_param_is_remble": True,
            }
            found = await tim.msg.get_msg_list(args.conv, ConvType.GROUP, by_seq)
            if not found:
                raise CliError(f"edit: group {args.conv} has no message with seq {args.seq}")
            original = found[0]
        else:
            original = await _c2c_message(tim, args.conv, args.msg_id)
        changed = msgspec.structs.replace(original, elem_array=[TextElem(content=args.text)])
        edited = await tim.msg.modify_message(changed)
    console.print(f"edited seq={edited.seq}: {edited.text}", soft_wrap=True, highlight=False, markup=False)
    return 0


async def _c2c_message(tim: Any, peer: str, msg_id: str) -> Message:
    """The message as stored here, else as its MsgKey names it (`{seq}_{rand}_{time}`)."""
    stored: list[Message] = await tim.msg.find_messages([msg_id])
    if stored:
        return stored[0]
    named = _message_from_key(msg_id, "edit")
    return msgspec.structs.replace(named, conv_id=peer, conv_type=int(ConvType.C2C))
