"""C2C sending endpoints: `openim/sendmsg`, `openim/batchsendmsg` and `openim/importmsg`.

Dedup follows TIM (TIM's openim/sendmsg page): a send with the same (From, To, MsgRandom) within
the dedup window (one second by default) is not stored again and gets the first answer back,
so a client retrying with fixed idempotency keys never creates a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import error_for
from ..protocol import Envelope, MsgBodyItem, Request
from ..protocol.callbacks import C2C_AFTER_SEND_MSG
from ..protocol.openim import (
    BATCH_MAX_RECIPIENTS,
    BatchSendMsg,
    BatchSendMsgResponse,
    ImportMsg,
    RecipientError,
    SendMsg,
    SendMsgResponse,
)
from .accounts import ensure_accounts, obtain_account, valid_user_id
from .context import Context, Handler
from .feature_queries import c2c_ref
from .rows import C2CRow, NewC2C, decode_body, encode_body
from .validation import OPENIM, check_msg_body, check_msg_body_size
from .webhooks import c2c_sent

__all__ = ["HANDLERS"]

ERR_ACCOUNT_MISSING: Final = 70107
SYNC_FROM_OLD_SYSTEM: Final = frozenset({1, 2, 5})  # 2: history, not counted as unread
NOT_TO_SENDER: Final = 2  # SyncOtherMachine: keep the message out of the sender's roaming


@dataclass(frozen=True)
class Stamp:
    """The identity TIM gives a C2C message; MsgKey is built from it."""

    seq: int
    random: int
    time: int

    @property
    def key(self) -> str:
        return f"{self.seq}_{self.random}_{self.time}"

    @classmethod
    def of(cls, row: C2CRow) -> Stamp:
        return cls(row.msg_seq, row.msg_random, row.msg_time)


@dataclass(frozen=True)
class Delivery:
    """How one sent message is stored, shared by every recipient of a batch."""

    body: str
    cloud_custom_data: str | None
    client_time: int
    counts_unread: bool
    hide_for_sender: bool
    online_only: bool = False


def check_body(items: list[MsgBodyItem]) -> None:
    check_msg_body(items, OPENIM.msg_body_item)
    check_msg_body_size(items)


def new_seq(ctx: Context, requested: int | None) -> int:
    """The caller's MsgSeq, or a random one as TIM fills in when it is omitted."""
    return ctx.random_u32() if requested is None else requested


async def sender_of(ctx: Context, from_account: str | None) -> str:
    """The sending account (default: the admin): existing, or created under auto_accounts."""
    sender = ctx.admin if from_account is None else from_account
    await ensure_accounts(ctx, [sender], 90008, "From_Account")
    return sender


def _new_row(sender: str, to: str, stamp: Stamp, how: Delivery) -> NewC2C:
    return NewC2C(
        from_account=sender,
        to_account=to,
        msg_seq=stamp.seq,
        msg_random=stamp.random,
        msg_time=stamp.time,
        client_time=how.client_time,
        msg_key=stamp.key,
        body=how.body,
        cloud_custom_data=how.cloud_custom_data,
        kind="send",
        counts_unread=how.counts_unread and not how.online_only,
    )


async def _delivered(ctx: Context, sender: str, to: str, stamp: Stamp, how: Delivery, msg_id: int) -> None:
    """After a message is stored: who must not see it, and the after-send webhook."""
    # Online-only messages are never stored for anyone; hiding keeps dedup working for them.
    hidden_for = {sender, to} if how.online_only else {sender} if how.hide_for_sender else set()
    for account in hidden_for:
        await ctx.state.hide_c2c(msg_id, account)
    await _after_send_webhook(ctx, sender, to, stamp, how)


async def _after_send_webhook(ctx: Context, sender: str, to: str, stamp: Stamp, how: Delivery) -> None:
    # Asked first, so that no callback body is built (and MsgBody decoded, unread counted) for nobody.
    webhooks = ctx.webhooks
    if webhooks is not None and webhooks.enabled(C2C_AFTER_SEND_MSG):
        unread = await ctx.state.unread_total(to)
        webhooks.after(c2c_sent(sender, to, (stamp.seq, stamp.random, stamp.time), decode_body(how.body),
                                    how.cloud_custom_data, how.online_only, unread))  # fmt: skip


def delivery_of(req: SendMsg | BatchSendMsg, client_time: int, online_only: bool) -> Delivery:
    return Delivery(
        body=encode_body(req.MsgBody),
        cloud_custom_data=req.CloudCustomData,
        client_time=client_time,
        counts_unread="NoUnread" not in (req.SendMsgControl or ()),
        hide_for_sender=req.SyncOtherMachine == NOT_TO_SENDER,
        online_only=online_only,
    )


# --- openim/sendmsg -------------------------------------------------------------------------------


async def send_msg(ctx: Context, req: SendMsg) -> Envelope:
    check_body(req.MsgBody)
    if req.MsgTimeStamp is not None and req.MsgTimeStamp < 0:
        raise error_for(90006, "MsgTimeStamp must be unix seconds")
    sender = await sender_of(ctx, req.From_Account)
    await _recipient(ctx, req.To_Account)
    now = ctx.now()
    stamp = Stamp(new_seq(ctx, req.MsgSeq), req.MsgRandom, now)
    # MsgTime (ordering) is the server's clock; the client's MsgTimeStamp is kept beside it.
    client_time = now if req.MsgTimeStamp is None else req.MsgTimeStamp
    how = delivery_of(req, client_time, online_only=req.OnlineOnlyFlag == 1)
    # The dedup check and the insert in one database hop.
    since = now - ctx.c2c_dedup_window + 1
    sent = await ctx.state.send_c2c_once(_new_row(sender, req.To_Account, stamp, how), since)
    if isinstance(sent, C2CRow):  # a duplicate: the first send's answer
        return SendMsgResponse(MsgTime=sent.msg_time, MsgKey=sent.msg_key)
    await _delivered(ctx, sender, req.To_Account, stamp, how, sent)
    if req.IsNeedReadReceipt == 1 or req.SupportMessageExtension == 1:
        need_receipt, extensible = req.IsNeedReadReceipt == 1, req.SupportMessageExtension == 1
        await ctx.state.set_features(c2c_ref(sent), need_receipt=need_receipt, extensible=extensible)
    return SendMsgResponse(MsgTime=stamp.time, MsgKey=stamp.key)


async def _recipient(ctx: Context, to: str) -> None:
    if not valid_user_id(to):
        raise error_for(90003, "To_Account is not a valid UserID")
    if not await obtain_account(ctx, to):
        raise error_for(90012, "To_Account is not registered")


# --- openim/batchsendmsg --------------------------------------------------------------------------


async def batch_send_msg(ctx: Context, req: BatchSendMsg) -> Envelope:
    _check_recipient_count(req.To_Account)
    check_body(req.MsgBody)
    sender = await sender_of(ctx, req.From_Account)
    recipients, errors = await _sort_recipients(ctx, req.To_Account)
    now = ctx.now()
    since = now - ctx.c2c_dedup_window + 1
    firsts = await ctx.state.first_c2c_sends(sender, recipients, req.MsgRandom, since)
    # A retried batch reuses the first attempt's identity, also for recipients it missed.
    first = next(iter(firsts.values()), None)
    stamp = Stamp.of(first) if first else Stamp(new_seq(ctx, req.MsgSeq), req.MsgRandom, now)
    how = delivery_of(req, client_time=now, online_only=False)
    missed = [to for to in recipients if to not in firsts]
    template = _new_row(sender, "", stamp, how)  # stored once for each of `missed`
    await ctx.state.insert_c2c_to_many(template, missed, hide_for_sender=how.hide_for_sender)
    if ctx.webhooks is not None and ctx.webhooks.batch_sends:  # TIM: batchsendmsg fires no callback
        for to in missed:
            await _after_send_webhook(ctx, sender, to, stamp, how)
    # Always list errors (possibly none): a missing ErrorList would leave clients guessing.
    return BatchSendMsgResponse(MsgKey=stamp.key, MsgTime=stamp.time, ErrorList=errors)


def _check_recipient_count(to_accounts: list[str]) -> None:
    if not to_accounts:
        raise error_for(90003, "To_Account is empty")
    if len(to_accounts) > BATCH_MAX_RECIPIENTS:
        raise error_for(90011, f"To_Account holds more than {BATCH_MAX_RECIPIENTS} accounts")


async def _sort_recipients(ctx: Context, to_accounts: list[str]) -> tuple[list[str], list[RecipientError]]:
    """Recipients to deliver to, and the ones that cannot receive (70107: no such account).
    One query for the whole chunk; under auto_accounts the missing valid ones are created."""
    unique = list(dict.fromkeys(to_accounts))
    valid = [to for to in unique if valid_user_id(to)]
    existing = await ctx.state.existing_accounts(valid)
    if ctx.auto_accounts:
        await ctx.state.add_accounts_now([to for to in valid if to not in existing], ctx.now())
        existing = set(valid)
    known = [to for to in unique if to in existing]
    errors = [
        RecipientError(To_Account=to, ErrorCode=ERR_ACCOUNT_MISSING) for to in unique if to not in existing
    ]
    return known, errors


# --- openim/importmsg -----------------------------------------------------------------------------


async def import_msg(ctx: Context, req: ImportMsg) -> Envelope:
    if req.SyncFromOldSystem not in SYNC_FROM_OLD_SYSTEM:
        raise error_for(90001, "SyncFromOldSystem must be 1, 2 or 5")
    if req.MsgTimeStamp < 0:
        raise error_for(90006, "MsgTimeStamp must be unix seconds")
    check_body(req.MsgBody)
    await ensure_accounts(ctx, [req.From_Account], 90008, "From_Account")
    await ensure_accounts(ctx, [req.To_Account], 90012, "To_Account")
    # The first import wins, in either direction; without MsgSeq, (random, time) decide.
    if await ctx.state.c2c_exists(
        req.From_Account, req.To_Account, req.MsgSeq, req.MsgRandom, req.MsgTimeStamp
    ):
        return Envelope()
    stamp = Stamp(new_seq(ctx, req.MsgSeq), req.MsgRandom, req.MsgTimeStamp)
    await ctx.state.insert_c2c(_imported(req, stamp))
    return Envelope()


def _imported(req: ImportMsg, stamp: Stamp) -> NewC2C:
    return NewC2C(
        from_account=req.From_Account,
        to_account=req.To_Account,
        msg_seq=stamp.seq,
        msg_random=stamp.random,
        msg_time=stamp.time,
        client_time=stamp.time,
        msg_key=stamp.key,
        body=encode_body(req.MsgBody),
        cloud_custom_data=req.CloudCustomData,
        kind="import",
        counts_unread=req.SyncFromOldSystem != 2,  # 2: history, not counted as unread
    )


HANDLERS: Final[dict[type[Request], Handler]] = {
    SendMsg: send_msg,
    BatchSendMsg: batch_send_msg,
    ImportMsg: import_msg,
}
