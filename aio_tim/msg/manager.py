"""`MsgManager`, the façade `tim.msg`: each method is a C SDK `TIMMsg*` function, documented
here and delegated to the module of its family (send, history, edit, local, download)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from ..store import Conv
from ..transfer import Download
from ..types import (
    BatchSendInput,
    BatchSendResult,
    GetMsgListInput,
    GroupMessageReadMembersFilter,
    Message,
    MessageExtension,
    MessageExtensionResult,
    MessageInput,
    MessageReceipt,
    MsgDeleteInput,
    MsgSearchParam,
    MsgSearchResult,
)
from ..types.group import GroupMemberInfo
from . import delete, download, edit, extensions, history, local, receipts, search, send, sending, traced
from .context import SendContext
from .roaming import Roaming

__all__ = ["MsgManager"]


class MsgManager:
    """`tim.msg`: the TIMMsg functions. Every parameter may be a Struct, dict or JSON text.

    The client builds it when it opens; reach it as `tim.msg`:

        async with Client(...) as tim:
            msg = Message(elem_array=[TextElem(content="hi")])
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
            await tim.msg.revoke("bob", ConvType.C2C, sent)
    """

    def __init__(self, ctx: SendContext) -> None:
        self._ctx = ctx
        self._roaming = Roaming(ctx.user_id, ctx.store, ctx.pipeline.submit)
        self._pending = sending.PendingSends()

    # --- sending ---------------------------------------------------------------------------------

    async def send_new_msg(self, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
        """`TIMMsgSendNewMsg`: send `msg` to a C2C peer or a group; returns the sent message.

        The returned message carries its seq, rand, server time and `msg_id` (TIM's MsgKey):
        keep it to revoke the message. Local files its elements name are uploaded first.

            sent = await tim.msg.send_new_msg("group1", ConvType.GROUP,
                                              Message(elem_array=[TextElem(content="hi")]))
            assert sent.status == MsgStatus.SEND_SUCC
        """
        return await traced.send_new_msg(self._ctx, conv_id, conv_type, msg)

    async def send_message(self, conv_id: str, conv_type: int, msg: MessageInput) -> sending.SendHandle:
        """`TIMMsgSendMessage`: start sending `msg`; the handle's `msg_id` is known at once,
        awaiting the handle gives the sent message (as `send_new_msg` returns it).

        The message is checked and its keys fixed before this returns (UsageError, no I/O);
        `msg_id` is `{seq}_{rand}_{client_time}`, the MsgKey form (a C2C message's server MsgKey
        when the server's clock agrees with ours; the awaited message carries the server's).
        Until it leaves the pipeline's queue, `cancel_send` withdraws it.

            handle = await tim.msg.send_message("bob", ConvType.C2C, msg)
            print(handle.msg_id)
            sent = await handle
        """
        return await sending.send_message(self._ctx, self._pending, conv_id, conv_type, msg)

    async def cancel_send(self, conv_id: str, conv_type: int, msg_id: str) -> None:
        """`TIMMsgCancelSend`: withdraw a `send_message` whose request has not yet left the queue
        (waiting for its uploads, or behind its conversation's earlier sends): it is never sent,
        nothing is stored, and its handle raises 8021. Also a message `enqueue_new_msg` put in the
        durable SQLite outbox, named `{seq}_{rand}_{client_time}`, while no drainer has claimed
        it (`outbox_result` then raises 8021). Already on the wire, finished or unknown: 8020.

            handle = await tim.msg.send_message("bob", ConvType.C2C, msg)
            await tim.msg.cancel_send("bob", ConvType.C2C, handle.msg_id)
        """
        await sending.cancel_send(self._ctx, self._pending, conv_id, conv_type, msg_id)

    async def send_text(self, conv_id: str, conv_type: int, text: str) -> Message:
        """Send one text message: `send_new_msg` with a single `TextElem`.

            sent = await tim.msg.send_text("bob", ConvType.C2C, "hello")
            print(sent.msg_id)

        An empty text is refused before any I/O (TIM_ERR_PARAM), as TIM refuses it.
        """
        return await traced.send_text(self._ctx, conv_id, conv_type, text)

    async def enqueue_new_msg(
        self, conv_id: str, conv_type: int, msg: MessageInput, *, connection: Any = None
    ) -> Message:
        """Queue `msg` in the durable outbox (`Client(outbox=True)`); returns once it is committed.

        Validated like `send_new_msg`, with its idempotency keys (rand, seq, client time) fixed;
        the return is the acknowledgement: the message is on disk (status Sending) before any
        network I/O (local files its elements name are uploaded first, as `send_new_msg` does).
        The client's drainer then sends it, in order within its conversation, resending it with the
        same keys after a failure, a close or a crash; the sent message lands in the store as
        `send_new_msg` saves it. `await tim.outbox_statistics()` counts the rows per state.

            queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C,
                                                   Message(elem_array=[TextElem(content="hi")]))
            assert queued.status == MsgStatus.SENDING

        A message given with its keys (`rand`, `seq`, `client_time`) keeps them: with a Redis
        coordinator, enqueuing `EnqueueUnknownError.message` again finds the first append.

        With a PostgreSQL store, `connection` (an asyncpg connection, inside your open transaction)
        writes the message in *your* transaction: it is sent if and only if that transaction commits.
        """
        return await traced.enqueue_new_msg(self._ctx, conv_id, conv_type, msg, connection=connection)

    async def _deliver(self, conv: Conv, message: Message) -> tuple[Message, str | None]:
        """The outbox drainer's send of one row: the sent message and its MsgKey."""
        return await traced.deliver(self._ctx, conv, message)

    async def batch_send(self, param: BatchSendInput) -> list[BatchSendResult]:
        """`TIMMsgBatchSend`: one C2C message to many identifiers, a result per identifier.

        Identifiers go out in chunks of 500 (TIM's cap) under the pipeline's limits; results come
        back in input order with each identifier's own code (0 = delivered). Errors that concern
        the whole call (bad credentials, bad parameters) are raised instead.

            results = await tim.msg.batch_send({
                "msg_batch_send_param_identifier_array": ["u1", "u2"],
                "msg_batch_send_param_msg": {"message_elem_array": [
                    {"elem_type": 0, "text_elem_content": "hello"}]}})
        """
        return await traced.batch_send(self._ctx, param)

    def iter_batch_send(self, param: BatchSendInput) -> AsyncIterator[BatchSendResult]:
        """`batch_send` for large campaigns: each recipient's result as soon as its chunk is done
        (chunks finish in any order), so a caller can record progress without holding them all.

            async for result in tim.msg.iter_batch_send(param):
                if result.code:
                    failures.write(f"{result.identifier}\t{result.code}\n")
        """
        return send.iter_batch_send(self._ctx, param)

    # --- the local store -------------------------------------------------------------------------

    async def save_msg(self, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
        """`TIMMsgSaveMsg`: store a self-built message locally (no network); returns it as stored.

        Its status is its own `status`, else LocalImported; missing times, rand and seq are filled in.

            saved = await tim.msg.save_msg("bob", ConvType.C2C, {"message_elem_array": [
                {"elem_type": 0, "text_elem_content": "note to self"}]})
        """
        return await local.save_msg(self._ctx, conv_id, conv_type, msg)

    async def import_msg_list(self, conv_id: str, conv_type: int, msgs: Any, *, cloud: bool = False) -> None:
        """`TIMMsgImportMsgList`: store messages as LocalImported; same locators are ignored.

        With `cloud=True` they are also imported to the server's history (openim/importmsg,
        group_open_http_svc/import_group_msg), which dedups on (MsgSeq, MsgRandom, MsgTimeStamp).

            await tim.msg.import_msg_list("bob", ConvType.C2C, [{
                "message_elem_array": [{"elem_type": 0, "text_elem_content": "from the old system"}],
                "message_sender": "bob", "message_client_time": 1700000000}])
        """
        await local.import_msg_list(self._ctx, conv_id, conv_type, msgs, cloud=cloud)

    async def find_by_msg_locator_list(self, conv_id: str, conv_type: int, locators: Any) -> list[Message]:
        """`TIMMsgFindByMsgLocatorList`: one message per locator found, local first, then roaming.

        Locators not found anywhere (or deleted here) are left out; a recalled message is found,
        with status Revoked. Each locator needs its time, seq and rand.

            [msg] = await tim.msg.find_by_msg_locator_list("bob", ConvType.C2C, [MsgLocator(
                time=sent.server_time, seq=sent.seq, rand=sent.rand)])
        """
        return await local.find_by_msg_locator_list(self._ctx, self._roaming, conv_id, conv_type, locators)

    # --- local search ----------------------------------------------------------------------------

    async def find_messages(self, msg_ids: Any) -> list[Message]:
        """`TIMMsgFindMessages`: the stored messages with these msg_ids, in the ids' order.

        Local only; ids not stored (or deleted here) are left out.

            [msg] = await tim.msg.find_messages([sent.msg_id])
        """
        return await search.find_messages(self._ctx, msg_ids)

    async def search_local_messages(self, param: MsgSearchParam | Any) -> MsgSearchResult:
        """`TIMMsgSearchLocalMessages`: stored messages by keyword (any or all of up to 5),
        sender, element type and time; one conversation's messages, or every conversation with
        its match count. Local only (an FTS5 index of the SQLite store).

            result = await tim.msg.search_local_messages({
                "msg_search_param_keyword_array": ["invoice"],
                "msg_search_param_conv_id": "bob", "msg_search_param_conv_type": 1,
                "msg_search_param_page_size": 20})
            print(result.total_count, result.item_array[0].message_array)
        """
        return await search.search_local_messages(self._ctx, param)

    async def set_local_custom_data(self, msg: MessageInput) -> None:
        """`TIMMsgSetLocalCustomData`: keep `msg`'s `custom_int`/`custom_str` on the stored copy.

        Local only, never sent; kept when the message is saved again or roaming is fetched again.
        Name the message as stored or returned (conversation and locator), or by its msg_id.

            sent.custom_int, sent.custom_str = 1, "starred"
            await tim.msg.set_local_custom_data(sent)
        """
        await search.set_local_custom_data(self._ctx, msg)

    # --- history ---------------------------------------------------------------------------------

    async def get_msg_list(self, conv_id: str, conv_type: int, param: GetMsgListInput) -> list[Message]:
        """`TIMMsgGetMsgList`: a page of history next to `last_msg` (excluded).

        Backward (default) pages are newest first, forward pages oldest first: in both directions
        the next page's `last_msg` is the last element returned. With `is_remble`, a page the
        local store cannot fill is completed from the server's roaming history. A group page may
        instead anchor on `last_msg_seq`, which it includes (C SDK v7); `last_msg` wins if both
        are given. `time_begin`/`time_period` bound the page to a time window (older pages
        [begin - period, begin], newer ones [begin, begin + period]; begin 0 is now, period 0
        unbounded), `message_type_array` keeps those element types (local pages only), and a
        group's `message_seq_array` returns the messages with those seqs instead of a page.

            page = await tim.msg.get_msg_list("bob", ConvType.C2C, {
                "msg_getmsglist_param_count": 20, "msg_getmsglist_param_is_remble": True})
        """
        return await traced.get_msg_list(self._ctx, self._roaming, conv_id, conv_type, param)

    def iter_msg_list(
        self,
        conv_id: str,
        conv_type: int,
        *,
        forward: bool = False,
        page_size: int = 50,
        remble: bool = False,
    ) -> AsyncIterator[Message]:
        """Every message of a conversation, page by page (newest first unless `forward`).

        Each page is a `get_msg_list` call of `page_size` messages; `remble` fills from roaming.

            async for msg in tim.msg.iter_msg_list("bob", ConvType.C2C, remble=True):
                print(msg.seq, msg.elem_array)
        """
        return history.iter_msg_list(
            self._ctx, self._roaming, conv_id, conv_type, forward=forward, page_size=page_size, remble=remble
        )

    # --- changing history ------------------------------------------------------------------------

    async def delete(self, conv_id: str, conv_type: int, param: MsgDeleteInput) -> None:
        """`TIMMsgDelete`: one local message (`msg` set) or all of the conversation's (`msg`
        absent or `{}`, as in the C SDK's example).

        With `is_remble` on a C2C conversation the message(s) also go from this user's roaming
        history (openim/delete_c2c_msg_ramble; the peer keeps theirs, as TIM does). A message
        deleted locally stays deleted when roaming history is fetched again; deleting a whole
        conversation locally frees its messages, so roaming can bring them back.

            await tim.msg.delete("bob", ConvType.C2C, {"msg_delete_param_msg": sent})
        """
        await delete.delete(self._ctx, self._roaming, conv_id, conv_type, param)

    async def list_delete(self, conv_id: str, conv_type: int, msgs: Any) -> None:
        """`TIMMsgListDelete`: delete 1 to 50 messages of one conversation, here and in roaming.

        Pass them as stored or returned (each needs its seq, rand and time). A C2C conversation's
        go from this user's roaming first (openim/delete_c2c_msg_ramble; the peer keeps theirs),
        then from the store. TIM has no REST command that deletes one user's copy of group
        messages: a group's are deleted here only, and stay deleted when roaming is fetched again.

            page = await tim.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 3})
            await tim.msg.list_delete("bob", ConvType.C2C, page)
        """
        await delete.list_delete(self._ctx, conv_id, conv_type, msgs)

    async def clear_history_message(self, conv_id: str, conv_type: int) -> None:
        """`TIMMsgClearHistoryMessage`: empty a conversation, here and on the server.

        C2C: every message goes from this user's roaming (openim/delete_c2c_msg_ramble; the peer
        keeps theirs) and from the store. Group: group_open_http_svc/clear_group_msg, which hides
        the group's history from every member's SDK (TIM has no per-user group clear; its admin,
        and so this client's roaming, can still read it), then every stored message is marked
        deleted, so roaming does not bring those back. The conversation itself stays: new
        messages land in it as before.

            await tim.msg.clear_history_message("bob", ConvType.C2C)
        """
        await delete.clear_history_message(self._ctx, self._roaming, conv_id, conv_type)

    async def report_readed(self, conv_id: str, conv_type: int, msg: MessageInput | None = None) -> None:
        """`TIMMsgReportReaded`: mark read up to `msg`, or the whole conversation without one.

        C2C also tells the server (openim/admin_set_msg_read), so the unread count TIM keeps
        drops. Groups: TIM's REST API has no per-user group read report, so the read mark is
        local only.

            await tim.msg.report_readed("bob", ConvType.C2C)  # everything read
        """
        await edit.report_readed(self._ctx, conv_id, conv_type, msg)

    async def revoke(self, conv_id: str, conv_type: int, msg: MessageInput) -> None:
        """`TIMMsgRevoke`: recall a sent message; pass the message `send_new_msg` returned (or one
        found by locator). Afterwards it is Revoked locally and flagged recalled in roaming.

        A C2C message is named to the server by its MsgKey, a group message by its seq.

            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
            await tim.msg.revoke("bob", ConvType.C2C, sent)
        """
        await edit.revoke(self._ctx, conv_id, conv_type, msg)

    async def modify_message(self, msg: MessageInput) -> Message:
        """`TIMMsgModifyMessage`: overwrite a sent message's elements on the server (and its
        `message_cloud_custom_str` when set), then in the local copy; returns it as modified.

        Pass the message as stored or returned (its conversation, seq, rand and server time name
        it); change its elements first. A C2C message is named to the server by its MsgKey
        (openim/modify_c2c_msg), a group message by its seq (openim/modify_group_msg). Every
        copy changes: the peer's roaming and the group's history show the new content.

            sent = await tim.msg.send_text("bob", ConvType.C2C, "helo")
            fixed = msgspec.structs.replace(sent, elem_array=[TextElem(content="hello")])
            await tim.msg.modify_message(fixed)
        """
        return await edit.modify_message(self._ctx, msg)

    # --- read receipts ---------------------------------------------------------------------------

    async def send_message_read_receipts(self, msgs: Any) -> None:
        """`TIMMsgSendMessageReadReceipts`: acknowledge 1 to 100 received messages of one
        conversation that asked for a receipt (`need_read_receipt`). C2C:
        openim/c2c_msg_read_receipt by MsgKey; group: group_open_http_svc/group_msg_receipt.

            page = await tim.msg.get_msg_list("alice", ConvType.C2C, {"msg_getmsglist_param_count": 5})
            await tim.msg.send_message_read_receipts([m for m in page if m.need_read_receipt])
        """
        await receipts.send_message_read_receipts(self._ctx, msgs)

    async def get_message_read_receipts(self, msgs: Any) -> list[MessageReceipt]:
        """`TIMMsgGetMessageReadReceipts`: one `MessageReceipt` per message (1 to 100, one
        conversation): a group message's read and unread counts (get_group_msg_receipt), a C2C
        message's `is_peer_read` (its roaming copy's IsPeerRead).

            [receipt] = await tim.msg.get_message_read_receipts([sent])
            print(receipt.read_count, receipt.unread_count)
        """
        return await receipts.get_message_read_receipts(self._ctx, msgs)

    def get_group_message_read_member_list(
        self,
        msg: MessageInput,
        filter: int = GroupMessageReadMembersFilter.READ,
        *,
        page_size: int = receipts.MEMBER_PAGE_MAX,
    ) -> AsyncIterator[GroupMemberInfo]:
        """`TIMMsgGetGroupMessageReadMemberList`: the members who read a group message (filter
        READ) or have not (UNREAD), page by page over get_group_msg_receipt_detail's cursor.

            async for member in tim.msg.get_group_message_read_member_list(sent):
                print(member.identifier)
        """
        receipts.check_read_members(msg, filter, page_size)
        return receipts.iter_group_message_read_members(self._ctx, msg, filter, page_size)

    async def get_group_message_read_member_page(
        self, msg: MessageInput, filter: int, next_seq: int, count: int
    ) -> tuple[list[GroupMemberInfo], int, bool]:
        """One page of `get_group_message_read_member_list`, as the C function answers it: the
        members, the `next_seq` to pass for the next page (0 for the first) and whether it was
        the last.

            members, next_seq, finished = await tim.msg.get_group_message_read_member_page(sent, 0, 0, 50)
        """
        return await receipts.read_member_page(self._ctx, msg, filter, next_seq, count)

    # --- extensions ------------------------------------------------------------------------------

    async def set_message_extensions(
        self, msg: MessageInput, extension_array: Any
    ) -> list[MessageExtensionResult]:
        """`TIMMsgSetMessageExtensions`: set 1 to 20 keys of a message sent with
        `support_message_extension`; one result per key. Code 23001: someone else wrote the key
        first, and the result's `item` holds their value.

            results = await tim.msg.set_message_extensions(sent, [MessageExtension("vote", "yes")])
        """
        return await extensions.set_message_extensions(self._ctx, msg, extension_array)

    async def get_message_extensions(self, msg: MessageInput) -> list[MessageExtension]:
        """`TIMMsgGetMessageExtensions`: every extension of the message.

        for ext in await tim.msg.get_message_extensions(sent):
            print(ext.key, ext.value)
        """
        return await extensions.get_message_extensions(self._ctx, msg)

    async def delete_message_extensions(self, msg: MessageInput, keys: Any) -> list[MessageExtensionResult]:
        """`TIMMsgDeleteMessageExtensions`: delete 1 to 20 keys (one result per key), or all of
        them with an empty list.

            await tim.msg.delete_message_extensions(sent, ["vote"])
        """
        return await extensions.delete_message_extensions(self._ctx, msg, keys)

    # --- files -----------------------------------------------------------------------------------

    def download_elem_to_path(
        self,
        param: Any,
        path: str | os.PathLike[str],
        *,
        file_name: str | None = None,
        overwrite: bool = False,
    ) -> Download:
        """`TIMMsgDownloadElemToPath`: a `Download` of an element's file to `path` (a file, or a
        folder to put it in under the sanitized `file_name`); await it, iterate its progress, or both.

            dl = tim.msg.download_elem_to_path({"msg_download_elem_param_url": elem.url}, "inbox/")
            async for p in dl:
                print(p.current_size, "/", p.total_size)
            result = await dl
        """
        return download.download_elem_to_path(
            self._ctx, param, path, file_name=file_name, overwrite=overwrite
        )
