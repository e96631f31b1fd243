"""MsgManager: the C SDK's ten `TIMMsg*` functions as coroutines on `tim.msg`.

Each operation is a thin builder: validate and coerce the C SDK JSON (no I/O), fix the
idempotency keys, build the REST request, hand it to the pipeline, record the outcome in the
local store, and give back the C SDK's JSON shapes.

    async with Client(...) as tim:
        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, {
            "message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
        page = await tim.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 20})
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from .errors import TIM_ERR_PARAM, NotFoundError, TIMError, UsageError, error_for
from .history import Roaming
from .pipeline import MessagePipeline
from .protocol import MsgBodyItem, Request
from .protocol.group import (
    GROUP_IMPORT_MAX,
    GroupMsgRecall,
    GroupMsgRecallResponse,
    ImportGroupMsg,
    ImportGroupMsgResponse,
    MsgSeqItem,
    SendGroupMsgResponse,
)
from .protocol.incoming import c2c_import_request, group_import_item
from .protocol.openim import (
    BATCH_MAX_RECIPIENTS,
    AdminMsgWithdraw,
    AdminSetMsgRead,
    BatchSendMsgResponse,
    DeleteC2CMsgRamble,
    DeleteC2CMsgRambleResponse,
    SendMsgResponse,
)
from .protocol.outgoing import (
    batch_send_request,
    c2c_send_request,
    group_send_request,
    msg_key,
    sent_message,
)
from .protocol.validate import check_conversation, check_identifier, check_identifiers, check_sendable
from .seams import MessageStore, OutboxQueue, TransactionalOutbox
from .store import Conv, LocatorKey, locator_key
from .transfer import Download, TransferManager
from .types import (
    BatchSendInput,
    BatchSendParam,
    BatchSendResult,
    ConvType,
    GetMsgListInput,
    GetMsgListParam,
    Message,
    MessageInput,
    MsgDeleteInput,
    MsgDeleteParam,
    MsgLocator,
    MsgStatus,
    TextElem,
    coerce,
    coerce_list,
)

__all__ = ["MsgManager", "SendContext"]

_UINT32_MAX: Final = 2**32 - 1
DEFAULT_PAGE: Final = 20
ALREADY_RECALLED: Final = frozenset({20023})
MSG_NOT_FOUND: Final = 20022
DELETE_KEYS_PER_CALL: Final = 100
BATCH_RECIPIENT_ROUNDS: Final = 3  # a recipient failing transiently this often is reported
MAX_FILLS: Final = 8  # roaming fills for one page; each asks for twice the last


@dataclass
class SendContext:
    """What the operations share with the client that owns them."""

    user_id: str
    pipeline: MessagePipeline
    store: MessageStore
    clock: Callable[[], float]
    rng: random.Random
    transfers: TransferManager | None = None
    outbox: OutboxQueue | None = None


class MsgManager:
    """`tim.msg`: the ten TIMMsg functions. Every parameter may be a Struct, dict or JSON text.

    The client builds it when it opens; reach it as `tim.msg`:

        async with Client(...) as tim:
            msg = Message(elem_array=[TextElem(content="hi")])
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
            await tim.msg.revoke("bob", ConvType.C2C, sent)
    """

    def __init__(self, ctx: SendContext) -> None:
        self._ctx = ctx
        self._store = ctx.store
        self._roaming = Roaming(ctx.user_id, ctx.store, ctx.pipeline.submit)

    # --- sending ---------------------------------------------------------------------------------

    async def send_new_msg(self, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
        """`TIMMsgSendNewMsg`: send `msg` to a C2C peer or a group; returns the sent message.

        The returned message carries its seq, rand, server time and `msg_id` (TIM's MsgKey):
        keep it to revoke the message. Local files its elements name are uploaded first.

            sent = await tim.msg.send_new_msg("group1", ConvType.GROUP,
                                              Message(elem_array=[TextElem(content="hi")]))
            assert sent.status == MsgStatus.SEND_SUCC
        """
        conv = check_conversation(conv_id, conv_type)
        outgoing = coerce(msg, Message, what="json_msg_param")
        if self._ctx.transfers is not None:  # local files named in elements go up first
            outgoing = await self._ctx.transfers.upload_attachments(outgoing)
        message, body = await self._outgoing_with_body(outgoing, (conv, conv_id))
        sender = message.sender or ""
        request: Request = (
            c2c_send_request(conv_id, sender, message, body)
            if conv is ConvType.C2C
            else group_send_request(conv_id, sender, message, body)
        )
        pipeline = self._ctx.pipeline
        try:
            reply = await pipeline.submit(request, order_key=(conv, conv_id))
        except TIMError:
            await self._store.save((conv, conv_id), message, status=int(MsgStatus.SEND_FAIL))
            raise
        assert isinstance(reply, SendMsgResponse | SendGroupMsgResponse)
        sent = sent_message(message, conv_id, conv, reply)
        # The other sends under way are the saves that may share this one's commit (writer.py).
        return await self._store.save(
            (conv, conv_id),
            sent,
            status=int(MsgStatus.SEND_SUCC),
            msg_key=sent.msg_id,
            siblings=pipeline.outstanding,
        )

    async def send_text(self, conv_id: str, conv_type: int, text: str) -> Message:
        """Send one text message: `send_new_msg` with a single `TextElem`.

            sent = await tim.msg.send_text("bob", ConvType.C2C, "hello")
            print(sent.msg_id)

        An empty text is refused before any I/O (TIM_ERR_PARAM), as TIM refuses it.
        """
        if not isinstance(text, str):
            raise UsageError(TIM_ERR_PARAM, f"text must be a str, not {type(text).__name__}")
        return await self.send_new_msg(conv_id, conv_type, Message(elem_array=[TextElem(content=text)]))

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

        With a PostgreSQL store, `connection` (an asyncpg connection, inside your open transaction)
        writes the message in *your* transaction: it is sent if and only if that transaction commits.
        """
        if self._ctx.outbox is None:
            raise UsageError(TIM_ERR_PARAM, "enqueue_new_msg needs Client(outbox=True) or a coordinator")
        outbox = self._ctx.outbox
        if connection is not None and not isinstance(outbox, TransactionalOutbox):
            raise UsageError(TIM_ERR_PARAM, "enqueue_new_msg(connection=...) needs a PostgreSQL store")
        conv = check_conversation(conv_id, conv_type)
        outgoing = coerce(msg, Message, what="json_msg_param")
        if self._ctx.transfers is not None:  # local files named in elements go up first
            outgoing = await self._ctx.transfers.upload_attachments(outgoing)
        message = await self._outgoing(outgoing, (conv, conv_id))
        message = msgspec.structs.replace(message, conv_id=conv_id, conv_type=int(conv))
        if isinstance(outbox, TransactionalOutbox) and connection is not None:
            await outbox.enqueue_in(connection, (int(conv), conv_id), message)
        else:
            await outbox.enqueue((int(conv), conv_id), message)
        return message

    async def _deliver(self, conv: Conv, message: Message) -> tuple[Message, str | None]:
        """Send one outbox row's message with its fixed keys: the sent message and its MsgKey."""
        conv_type, conv_id = ConvType(conv[0]), conv[1]
        sender = message.sender or ""
        request: Request = (
            c2c_send_request(conv_id, sender, message)
            if conv_type is ConvType.C2C
            else group_send_request(conv_id, sender, message)
        )
        reply = await self._ctx.pipeline.submit(request, order_key=(conv_type, conv_id))
        assert isinstance(reply, SendMsgResponse | SendGroupMsgResponse)
        sent = sent_message(message, conv_id, conv_type, reply)
        return sent, sent.msg_id

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
        chunks, message = await self._batch_plan(param)
        outcomes = await asyncio.gather(*(self._send_chunk(chunk, message) for chunk in chunks))
        return [result for chunk_results in outcomes for result in chunk_results]

    async def iter_batch_send(self, param: BatchSendInput) -> AsyncIterator[BatchSendResult]:
        """`batch_send` for large campaigns: each recipient's result as soon as its chunk is done
        (chunks finish in any order), so a caller can record progress without holding them all.

            async for result in tim.msg.iter_batch_send(param):
                if result.code:
                    failures.write(f"{result.identifier}\t{result.code}\n")
        """
        chunks, message = await self._batch_plan(param)
        tasks = [asyncio.ensure_future(self._send_chunk(chunk, message)) for chunk in chunks]
        try:
            for finished in asyncio.as_completed(tasks):
                for result in await finished:
                    yield result
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _batch_plan(self, param: Any) -> tuple[list[list[str]], Message]:
        """Validate a batch send; split its recipients into chunks and fix the message's keys once."""
        batch = coerce(param, BatchSendParam, what="json_batch_send_param")
        if not batch.identifier_array:
            raise UsageError(TIM_ERR_PARAM, "msg_batch_send_param_identifier_array is empty")
        check_identifiers(batch.identifier_array, "msg_batch_send_param_identifier_array item")
        message = await self._outgoing(batch.msg, None)
        return list(_chunks(batch.identifier_array, BATCH_MAX_RECIPIENTS)), message

    async def _send_chunk(self, recipients: list[str], message: Message) -> list[BatchSendResult]:
        """One batchsendmsg call; recipients that failed transiently are sent again (same random,
        so the server drops any copy it already delivered), permanent codes are reported."""
        first_results = await self._send_chunk_once(recipients, message)
        pending = [r.identifier for r in first_results if r.code and error_for(r.code).retryable]
        if not pending:
            return first_results  # the usual case: no second round, no merging
        results = {r.identifier: r for r in first_results}
        for _ in range(BATCH_RECIPIENT_ROUNDS - 1):
            round_results = await self._send_chunk_once(pending, message)
            results.update((r.identifier, r) for r in round_results)
            pending = [r.identifier for r in round_results if r.code and error_for(r.code).retryable]
            if not pending:
                break
        return [results[r] for r in recipients]

    async def _send_chunk_once(self, recipients: list[str], message: Message) -> list[BatchSendResult]:
        request = batch_send_request(recipients, message.sender or "", message)
        try:
            reply = await self._ctx.pipeline.submit(request)
        except TIMError as error:
            if not error.retryable:
                raise
            # Retries are spent: report the chunk's recipients as failed, keep the others.
            return [BatchSendResult(r, error.code, error.desc) for r in recipients]
        assert isinstance(reply, BatchSendMsgResponse)
        results, delivered = _batch_results(recipients, message, reply)
        names = [r.identifier for r in results if r.msg is not None]
        if delivered is not None and names:
            await self._store.insert_fanout(
                ConvType.C2C, names, delivered, status=int(MsgStatus.SEND_SUCC), msg_key=reply.MsgKey
            )
        return results

    async def _outgoing(self, msg: Message, conv: tuple[ConvType, str] | None) -> Message:
        """Validate `msg` and fix its idempotency keys once, before the first attempt."""
        return (await self._outgoing_with_body(msg, conv))[0]

    async def _outgoing_with_body(
        self, msg: Message, conv: tuple[ConvType, str] | None
    ) -> tuple[Message, list[MsgBodyItem]]:
        """`_outgoing`, and the REST MsgBody that validation built (a send builds it once)."""
        body = check_sendable(msg)
        sender = check_identifier(msg.sender or self._ctx.user_id, "message_sender")
        seq = msg.seq
        if seq is None and conv is None:
            seq = self._random()  # a batch spans many conversations: no per-conversation counter
        elif seq is None and conv is not None and conv[0] is ConvType.C2C:
            seq = await self._store.next_seq(conv)  # groups get their seq from the server
        fixed = msgspec.structs.replace(
            msg,
            sender=sender,
            is_from_self=sender == self._ctx.user_id,
            rand=msg.rand if msg.rand is not None else self._random(),
            seq=seq,
            client_time=msg.client_time or self._now(),
            server_time=None,
            status=int(MsgStatus.SENDING),
        )
        return fixed, body

    # --- the local store -------------------------------------------------------------------------

    async def save_msg(self, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
        """`TIMMsgSaveMsg`: store a self-built message locally (no network); returns it as stored.

        Its status is its own `status`, else LocalImported; missing times, rand and seq are filled in.

            saved = await tim.msg.save_msg("bob", ConvType.C2C, {"message_elem_array": [
                {"elem_type": 0, "text_elem_content": "note to self"}]})
        """
        conv = _conv(conv_id, conv_type)
        message = await self._local(coerce(msg, Message, what="json_msg_param"), conv)
        status = message.status or int(MsgStatus.LOCAL_IMPORTED)
        return await self._store.save(conv, message, status=status)

    async def import_msg_list(self, conv_id: str, conv_type: int, msgs: Any, *, cloud: bool = False) -> None:
        """`TIMMsgImportMsgList`: store messages as LocalImported; same locators are ignored.

        With `cloud=True` they are also imported to the server's history (openim/importmsg,
        group_open_http_svc/import_group_msg), which dedups on (MsgSeq, MsgRandom, MsgTimeStamp).

            await tim.msg.import_msg_list("bob", ConvType.C2C, [{
                "message_elem_array": [{"elem_type": 0, "text_elem_content": "from the old system"}],
                "message_sender": "bob", "message_client_time": 1700000000}])
        """
        conv = _conv(conv_id, conv_type)
        messages = [await self._local(m, conv) for m in coerce_list(msgs, Message, what="json_msg_array")]
        if cloud:
            messages = await self._import_to_cloud(conv, messages)
        await self._store.insert_many(conv, messages, status=int(MsgStatus.LOCAL_IMPORTED))

    async def _import_to_cloud(self, conv: Conv, messages: list[Message]) -> list[Message]:
        for msg in messages:
            check_sendable(msg)
        ordered = sorted(messages, key=locator_key)  # TIM wants history in chronological order
        if conv[0] == ConvType.C2C:
            for msg in ordered:
                await self._ctx.pipeline.submit(c2c_import_request(msg, self._ctx.user_id, conv[1]))
            return ordered
        imported: list[Message] = []
        for chunk in _chunks(ordered, GROUP_IMPORT_MAX):
            items = [group_import_item(m, self._ctx.user_id) for m in chunk]
            reply = await self._ctx.pipeline.submit(ImportGroupMsg(GroupId=conv[1], MsgList=items))
            assert isinstance(reply, ImportGroupMsgResponse)
            imported += _with_group_seqs(chunk, reply)
        return imported

    async def _local(self, msg: Message, conv: Conv) -> Message:
        """A message for the local store: sender, times, rand and seq filled in when absent."""
        if not msg.elem_array:
            raise UsageError(TIM_ERR_PARAM, "message_elem_array is empty: a message needs an element")
        sender = msg.sender or self._ctx.user_id
        client_time = msg.client_time or msg.server_time or self._now()
        seq = msg.seq
        if seq is None:
            seq = await self._store.next_seq(conv) if conv[0] == ConvType.C2C else 0
        return msgspec.structs.replace(
            msg,
            sender=sender,
            is_from_self=sender == self._ctx.user_id,
            client_time=client_time,
            server_time=msg.server_time or client_time,
            rand=msg.rand if msg.rand is not None else self._random(),
            seq=seq,
        )

    # --- history ---------------------------------------------------------------------------------

    async def get_msg_list(self, conv_id: str, conv_type: int, param: GetMsgListInput) -> list[Message]:
        """`TIMMsgGetMsgList`: a page of history next to `last_msg` (excluded).

        Backward (default) pages are newest first, forward pages oldest first: in both directions
        the next page's `last_msg` is the last element returned. With `is_remble`, a page the
        local store cannot fill is completed from the server's roaming history. A group page may
        instead anchor on `last_msg_seq`, which it includes (C SDK v7); `last_msg` wins if both
        are given.

            page = await tim.msg.get_msg_list("bob", ConvType.C2C, {
                "msg_getmsglist_param_count": 20, "msg_getmsglist_param_is_remble": True})
        """
        conv = _conv(conv_id, conv_type)
        page = coerce(param, GetMsgListParam, what="json_get_msg_param")
        _check_page_param(conv, page)
        count = DEFAULT_PAGE if page.count is None else page.count
        forward, remble = bool(page.is_forward), bool(page.is_remble)
        anchor = _anchor(page.last_msg)
        if anchor is None and page.last_msg_seq:
            return await self._page_from_seq(conv, page.last_msg_seq, count, forward, remble)
        return await self._page(conv, anchor, count, forward, remble)

    async def _page(
        self, conv: Conv, anchor: LocatorKey | None, count: int, forward: bool, remble: bool
    ) -> list[Message]:
        """Up to `count` stored messages beyond `anchor`; with `remble`, missing ones are fetched first."""
        found = await self._store.page(conv, anchor=anchor, count=count, forward=forward)
        want = count
        for _ in range(MAX_FILLS if remble else 0):
            if len(found) >= count:
                break
            more = await self._roaming.fill(conv, anchor, want, forward=forward)
            found = await self._store.page(conv, anchor=anchor, count=count, forward=forward)
            if not more:
                break
            want *= 2  # messages deleted here took places in what came: reach further
        return found

    async def _page_from_seq(
        self, conv: Conv, seq: int, count: int, forward: bool, remble: bool
    ) -> list[Message]:
        """A group page that starts with the message numbered `seq`, whose locator the server knows."""
        key = await self._roaming.group_locator(conv, seq, keep=remble)
        if key is None:
            raise UsageError(TIM_ERR_PARAM, f"group {conv[1]!r} has no message with seq {seq}")
        first = await self._store.get(conv, key)
        head = [first] if first is not None else []
        if count <= len(head):
            return head[:count]
        return head + await self._page(conv, key, count - len(head), forward, remble)

    async def iter_msg_list(
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
        if page_size < 1:
            raise UsageError(TIM_ERR_PARAM, f"page_size must be at least 1, not {page_size}")
        last: Message | None = None
        while True:
            param = GetMsgListParam(last_msg=last, count=page_size, is_forward=forward, is_remble=remble)
            page = await self.get_msg_list(conv_id, conv_type, param)
            for msg in page:
                yield msg
            if len(page) < page_size:
                return
            last = page[-1]

    async def find_by_msg_locator_list(self, conv_id: str, conv_type: int, locators: Any) -> list[Message]:
        """`TIMMsgFindByMsgLocatorList`: one message per locator found, local first, then roaming.

        Locators not found anywhere (or deleted here) are left out; a recalled message is found,
        with status Revoked. Each locator needs its time, seq and rand.

            [msg] = await tim.msg.find_by_msg_locator_list("bob", ConvType.C2C, [MsgLocator(
                time=sent.server_time, seq=sent.seq, rand=sent.rand)])
        """
        conv = _conv(conv_id, conv_type)
        wanted = coerce_list(locators, MsgLocator, what="json_msg_Locator_array")
        for index, loc in enumerate(wanted):
            if loc.time is None or loc.seq is None or loc.rand is None:
                raise UsageError(TIM_ERR_PARAM, f"locator {index} needs message_locator_time, _seq and _rand")
        found = {locator_key(m): m for m in await self._store.find(conv, wanted)}
        results = []
        for loc in wanted:
            key = (loc.time or 0, loc.seq or 0, loc.rand or 0)
            msg = found.get(key) or await self._roaming.find(conv, loc)
            if msg is not None:
                results.append(msg)
        return results

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
        conv = _conv(conv_id, conv_type)
        request = coerce(param, MsgDeleteParam, what="json_msgdel_param")
        roaming = bool(request.is_remble)
        if roaming and conv[0] != ConvType.C2C:
            raise UsageError(TIM_ERR_PARAM, "TIM has no REST call to delete a group's roaming messages")
        if request.msg is None or _anchor(request.msg) is None:  # `{}`: as in the C SDK's example
            await self._delete_all(conv, roaming)
        else:
            await self._delete_one(conv, request.msg, roaming)

    async def _delete_one(self, conv: Conv, msg: Message, roaming: bool) -> None:
        key = locator_key(msg)
        server_key = await self._store.msg_key_of(conv, key) or msg.msg_id or msg_key(*_key_order(key))
        deleted_here = await self._store.delete(conv, key)
        deleted_there = roaming and await self._delete_roaming(conv, [server_key]) > 0
        if not (deleted_here or deleted_there):
            where = "locally or in roaming history" if roaming else "locally"
            raise NotFoundError(MSG_NOT_FOUND, f"no message with locator {key} in {conv[1]!r} {where}")

    async def _delete_all(self, conv: Conv, roaming: bool) -> None:
        if roaming:
            # The server's own list: it also holds messages this store never saw or already deleted.
            await self._delete_roaming(conv, await self._roaming.c2c_keys(conv))
        await self._store.delete_conversation(conv)

    async def _delete_roaming(self, conv: Conv, keys: list[str]) -> int:
        """Delete `keys` from this user's roaming history; how many the server knew."""
        deleted = 0
        for chunk in _chunks(keys, DELETE_KEYS_PER_CALL):
            request = DeleteC2CMsgRamble(
                Operator_Account=self._ctx.user_id, Peer_Account=conv[1], MsgKeyList=chunk
            )
            reply = await self._ctx.pipeline.submit(request)
            assert isinstance(reply, DeleteC2CMsgRambleResponse)
            deleted += len(chunk) - len(reply.InvalidMsgKeyList or ())
        return deleted

    async def report_readed(self, conv_id: str, conv_type: int, msg: MessageInput | None = None) -> None:
        """`TIMMsgReportReaded`: mark read up to `msg`, or the whole conversation without one.

        C2C also tells the server (openim/admin_set_msg_read), so the unread count TIM keeps
        drops. Groups: TIM's REST API has no per-user group read report, so the read mark is
        local only.

            await tim.msg.report_readed("bob", ConvType.C2C)  # everything read
        """
        conv = _conv(conv_id, conv_type)
        message = None if msg is None or msg in ("", b"") else coerce(msg, Message, what="json_msg_param")
        anchor = _anchor(message)
        await self._store.mark_read(conv, anchor)
        if conv[0] == ConvType.C2C:
            # Without a message the server reads up to its own now: our clock may lag behind its times.
            read_time = None if anchor is None else str(anchor[0])
            request = AdminSetMsgRead(
                Report_Account=self._ctx.user_id, Peer_Account=conv[1], MsgReadTime=read_time
            )
            await self._ctx.pipeline.submit(request)

    async def revoke(self, conv_id: str, conv_type: int, msg: MessageInput) -> None:
        """`TIMMsgRevoke`: recall a sent message; pass the message `send_new_msg` returned (or one
        found by locator). Afterwards it is Revoked locally and flagged recalled in roaming.

        A C2C message is named to the server by its MsgKey, a group message by its seq.

            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
            await tim.msg.revoke("bob", ConvType.C2C, sent)
        """
        conv = _conv(conv_id, conv_type)
        message = coerce(msg, Message, what="json_msg_param")
        key = _anchor(message)
        if key is None or (conv[0] == ConvType.GROUP and not message.seq):
            raise UsageError(TIM_ERR_PARAM, "the message to revoke needs its seq, rand and server time")
        if conv[0] == ConvType.C2C:
            await self._revoke_c2c(conv, message, key)
        else:
            await self._revoke_group(conv, message)
        await self._mark_revoked(conv, message, key)

    async def _revoke_c2c(self, conv: Conv, message: Message, key: LocatorKey) -> None:
        server_key = await self._store.msg_key_of(conv, key) or message.msg_id or msg_key(*_key_order(key))
        sender = message.sender or self._ctx.user_id
        receiver = conv[1] if sender == self._ctx.user_id else self._ctx.user_id
        request = AdminMsgWithdraw(From_Account=sender, To_Account=receiver, MsgKey=server_key)
        await self._ctx.pipeline.submit(request, done_codes=ALREADY_RECALLED)

    async def _revoke_group(self, conv: Conv, message: Message) -> None:
        request = GroupMsgRecall(GroupId=conv[1], MsgSeqList=[MsgSeqItem(message.seq or 0)])
        reply = await self._ctx.pipeline.submit(request)
        assert isinstance(reply, GroupMsgRecallResponse)
        for result in reply.RecallRetList:
            if result.RetCode:
                raise error_for(result.RetCode, f"group_msg_recall of seq {result.MsgSeq}")

    async def _mark_revoked(self, conv: Conv, message: Message, key: LocatorKey) -> None:
        if await self._store.get(conv, key) is not None:
            await self._store.set_status(conv, key, int(MsgStatus.REVOKED))
        else:
            # Not stored here, or deleted here: record the recall without reviving a deleted message.
            await self._store.save(conv, message, status=int(MsgStatus.REVOKED), replace=False)

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
        if self._ctx.transfers is None:
            raise RuntimeError("this MsgManager has no TransferManager")
        return self._ctx.transfers.download(param, path, file_name=file_name, overwrite=overwrite)

    # ---------------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._ctx.clock())

    def _random(self) -> int:
        return self._ctx.rng.randrange(1, _UINT32_MAX)


def _conv(conv_id: str, conv_type: int) -> Conv:
    return (int(check_conversation(conv_id, conv_type)), conv_id)


def _check_page_param(conv: Conv, page: GetMsgListParam) -> None:
    if page.last_msg_seq and _anchor(page.last_msg) is None and conv[0] != ConvType.GROUP:
        raise UsageError(TIM_ERR_PARAM, "msg_getmsglist_param_last_msg_seq anchors group pages only")
    unsupported = [
        name
        for name in ("time_begin", "time_period", "message_type_array", "message_seq_array")
        if getattr(page, name)
    ]
    if unsupported:
        # Ignoring them would return a page the caller did not ask for.
        raise UsageError(TIM_ERR_PARAM, f"msg_getmsglist_param_{unsupported[0]} is not supported")


def _anchor(msg: Message | None) -> LocatorKey | None:
    """The locator of `last_msg`/`msg`, or None for an empty message (`{}`: the newest end)."""
    if msg is None or (msg.seq is None and msg.rand is None and not (msg.server_time or msg.client_time)):
        return None
    return locator_key(msg)


def _key_order(key: LocatorKey) -> tuple[int, int, int]:
    """(time, seq, rand) -> the (seq, rand, time) order of a MsgKey."""
    time, seq, rand = key
    return seq, rand, time


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _with_group_seqs(chunk: list[Message], reply: ImportGroupMsgResponse) -> list[Message]:
    """Imported group messages take the seq and time the server gave them."""
    imported = []
    for msg, result in zip(chunk, reply.ImportMsgResult, strict=False):
        if result.Result:
            raise error_for(result.Result, f"import_group_msg of the message at {msg.server_time}")
        imported.append(msgspec.structs.replace(msg, seq=result.MsgSeq, server_time=result.MsgTime))
    return imported


def _batch_results(
    recipients: list[str], message: Message, reply: BatchSendMsgResponse
) -> tuple[list[BatchSendResult], Message | None]:
    """Each recipient's result, and the message as delivered (None if the reply does not say who
    got it): the recipients' copies differ only in the conversation, so it is built once a chunk."""
    if reply.ErrorList is None:
        # Without an error list nothing says who got it: unknown is not "delivered".
        unknown = TIMError(60013, "reply lists no outcome per recipient")
        return [BatchSendResult(r, unknown.code, unknown.desc) for r in recipients], None
    failed = {e.To_Account: e.ErrorCode for e in reply.ErrorList}
    delivered = _delivered(message, reply)
    replace = msgspec.structs.replace
    results = []
    for recipient in recipients:
        code = failed.get(recipient, 0)
        if code:
            results.append(BatchSendResult(recipient, code, error_for(code).desc))
        else:
            results.append(BatchSendResult(recipient, 0, "", replace(delivered, conv_id=recipient)))
    return results, delivered


def _delivered(message: Message, reply: BatchSendMsgResponse) -> Message:
    """`message` as every recipient got it; only the conversation (each recipient's id) is unset."""
    server_time = _time_from_key(reply.MsgKey) or message.client_time or 0
    return msgspec.structs.replace(
        message,
        conv_type=int(ConvType.C2C),
        server_time=server_time,
        is_read=True,
        status=int(MsgStatus.SEND_SUCC),
        msg_id=reply.MsgKey or msg_key(message.seq or 0, message.rand or 0, server_time),
    )


def _time_from_key(key: str) -> int | None:
    tail = key.rsplit("_", 1)[-1]
    # ASCII and at most 10 digits: a hostile MsgKey must not reach int() or the store's locator.
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 10 else None
