"""The dev server's webhooks: it calls the app's callback URL as TIM does.

After-callbacks are queued while the REST handler runs and go out only once its transaction has
committed, from worker tasks, so a REST answer never waits on the app (a failed delivery is counted,
not retried: TIM does not retry them either). Before-send callbacks are awaited before the message
is stored, within TIM's 2 s: the answer allows it (possibly with a rewritten MsgBody), refuses it
(the REST caller gets 20006 C2C / 10016 group, or the app's custom 120001..130000 code) or drops it
silently (the caller sees success); a callback that fails or times out lets the message through.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec

from ..protocol import callbacks as cb
from ..protocol import sns_callbacks as sc
from ..protocol.group import SendGroupMsg
from ..protocol.openim import SendMsg
from .before_send import c2c_before, group_before, verdict
from .faults import FaultSwitches
from .journal import Journal
from .rows import C2CRow

__all__ = ["Webhooks"]

log = logging.getLogger("aio_tim.devserver.webhooks")

AFTER_TIMEOUT: Final = 5.0  # seconds a worker waits for the app's answer to an after-callback
_ENCODER: Final = msgspec.json.Encoder()
_ANSWER: Final = msgspec.json.Decoder(cb.CallbackAnswer)
Body = cb.Callback | sc.SnsCallback  # every body the dev server fires
GroupType = Callable[[str], Awaitable[str | None]]  # a group's Type by its id (None: no such group)
_pending: contextvars.ContextVar[list[Body] | None] = contextvars.ContextVar("webhooks", default=None)


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None
    commands: frozenset[str] | None  # None: every command


class Webhooks:
    """Where and how the dev server fires webhooks; `configure()` changes it while running."""

    def __init__(
        self, sdk_app_id: int, clock: Callable[[], float], *, workers: int = 8, batch_sends: bool = False
    ) -> None:
        self._sdk_app_id = sdk_app_id
        # TIM's batchsendmsg triggers no callbacks; tests may still want one after-send per recipient.
        self.batch_sends = batch_sends
        self._clock = clock
        self._workers = workers
        self._target: Target | None = None
        self._queue: asyncio.Queue[tuple[Target, Body]] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.delivered = 0
        self.failed = 0
        self.faults: FaultSwitches | None = None  # the server's fault switches (slow or failing deliveries)
        self.journal: Journal | None = None  # the inspector's record of every delivery

    def configure(
        self, url: str | None, token: str | None = None, commands: Iterable[str] | None = None
    ) -> None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, not {url!r}")
        if token == "":
            raise ValueError("webhook token must not be empty (None: no authentication)")
        chosen = frozenset(commands) if commands is not None else None
        self._target = Target(url, token, chosen) if url else None

    def enabled(self, command: str) -> bool:
        target = self._target
        return target is not None and (target.commands is None or command in target.commands)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=AFTER_TIMEOUT))
        self._tasks = [asyncio.create_task(self._work(), name=f"webhook-{i}") for i in range(self._workers)]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def idle(self) -> None:
        """Wait until every queued after-callback has been delivered (or has failed)."""
        if self._queue is not None:
            await self._queue.join()

    def statistics(self) -> dict[str, int]:
        pending = self._queue.qsize() if self._queue is not None else 0
        return {"delivered": self.delivered, "failed": self.failed, "pending": pending}

    # --- after-callbacks ------------------------------------------------------------------------------

    def after(self, body: Body) -> None:
        """Fire `body` once the current REST call commits (at once outside one)."""
        if not self.enabled(_command(body)):
            return
        pending = _pending.get()
        if pending is not None:
            pending.append(body)
        else:
            self._enqueue([body])

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[Body]]:
        """Hold the after-callbacks of one REST call; the caller releases them after its commit."""
        pending: list[Body] = []
        token = _pending.set(pending)
        try:
            yield pending
        finally:
            _pending.reset(token)

    def release(self, bodies: list[Body], call: Any = None) -> None:
        """Send the after-callbacks a committed call collected (less those its sender forbade)."""
        if _forbids(call, "ForbidAfterSendMsgCallback"):
            bodies = [b for b in bodies if _command(b) not in _AFTER_SEND]
        self._enqueue(bodies)

    def _enqueue(self, bodies: list[Body]) -> None:
        target = self._target
        if self._queue is None or target is None:
            return
        for body in bodies:
            self._queue.put_nowait((target, body))

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            target, body = await self._queue.get()
            try:
                answer = await self._post(target, body, AFTER_TIMEOUT)
                if answer is None:
                    self.failed += 1
                else:
                    self.delivered += 1
            finally:
                self._queue.task_done()

    async def _post(
        self, target: Target, body: Body, limit: float, redelivery_of: int | None = None
    ) -> cb.CallbackAnswer | None:
        """POST one callback; the app's answer, or None when it failed (any reason, logged)."""
        started = time.perf_counter()
        status, raw, failure = await self._exchange(target, body, limit)
        answer: cb.CallbackAnswer | None = None
        if failure is None:
            try:
                answer = _ANSWER.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                failure = f"not a callback answer: {exc}"
        if failure is not None:
            log.info("webhook %s failed: %s", _command(body), failure)
        if self.journal is not None:
            elapsed = time.perf_counter() - started
            entry = _delivery(target, body, (status, raw, failure), elapsed)
            self.journal.add("webhook", entry | {"redelivery_of": redelivery_of}, body)
        return answer

    async def _exchange(
        self, target: Target, body: Body, limit: float
    ) -> tuple[int | None, bytes, str | None]:
        """(HTTP status, answer bytes, why it failed or None) of one POST."""
        assert self._session is not None
        command = _command(body)
        if self.faults is not None:  # a switched-on fault may hold it back, or fail it unsent
            limit = await self.faults.hold_delivery(command, limit)
            if limit <= 0:
                return None, b"", "failed by a fault switch"
        try:
            async with self._session.post(
                target.url,
                params=self._query(target, _command(body)),
                data=encode_callback(body),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as response:
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, b"", type(exc).__name__
        if response.status != 200:
            return response.status, raw, f"answered HTTP {response.status}"
        return response.status, raw, None

    async def redeliver(self, body: Body, entry_id: int) -> cb.CallbackAnswer | None:
        """POST a callback again (the inspector's redeliver button), signed afresh, to today's URL;
        the app's answer, or None when it failed or no URL is set. Recorded like any delivery,
        naming the journal entry `entry_id` it repeats."""
        target = self._target
        if target is None or self._session is None:
            return None
        return await self._post(target, body, AFTER_TIMEOUT, redelivery_of=entry_id)

    def _query(self, target: Target, command: str) -> dict[str, str]:
        query = {
            "SdkAppid": str(self._sdk_app_id),
            "CallbackCommand": command,
            "contenttype": "json",
            "ClientIP": "127.0.0.1",
            "OptPlatform": "RESTAPI",
        }
        if target.token is not None:
            now = str(int(self._clock()))
            query |= {"RequestTime": now, "Sign": cb.sign(target.token, now)}
        return query

    async def send_failed(
        self, call: Any, error: tuple[int, str], admin: str, now: int, group_type: GroupType
    ) -> None:
        """A group send the server refused fires `Group.CallbackSendMsgException`, as TIM does;
        `error` is its (ErrorCode, ErrorInfo), Type "" when there is no such group."""
        if isinstance(call, SendGroupMsg) and self.enabled(cb.GROUP_SEND_MSG_EXCEPTION):
            kind = await group_type(call.GroupId) or ""
            self.after(group_send_failed(call, error, (admin, kind), now))

    # --- before-callbacks -----------------------------------------------------------------------------

    async def before(self, call: Any, admin: str, now: int, group_type: GroupType) -> Any:
        """The request to run (possibly with a rewritten MsgBody), or the Envelope that answers it.
        `group_type` looks up a group's Type, which the group callbacks carry."""
        if _forbids(call, "ForbidBeforeSendMsgCallback"):
            return call
        if isinstance(call, SendMsg) and self.enabled(cb.C2C_BEFORE_SEND_MSG):
            body: cb.Callback = c2c_before(call, admin, now)
        elif isinstance(call, SendGroupMsg) and self.enabled(cb.GROUP_BEFORE_SEND_MSG):
            body = group_before(call, admin, await group_type(call.GroupId) or "", now)
        else:
            return call
        assert self._target is not None
        answer = await self._post(self._target, body, cb.BEFORE_TIMEOUT)
        return verdict(call, answer, now)


_AFTER_SEND: Final = frozenset({cb.C2C_AFTER_SEND_MSG, cb.GROUP_AFTER_SEND_MSG})


def _forbids(call: Any, control: str) -> bool:
    """Whether the REST request's `ForbidCallbackControl` switches that callback off for it."""
    return control in (getattr(call, "ForbidCallbackControl", None) or ())


ANSWER_SHOWN: Final = 4096  # bytes of the app's answer the inspector keeps


def _delivery(
    target: Target, body: Body, outcome: tuple[int | None, bytes, str | None], elapsed: float
) -> dict[str, Any]:
    """A journal entry for one delivery."""
    status, raw, failure = outcome
    return {
        "command": _command(body),
        "url": _shown_url(target.url),
        "body": msgspec.json.decode(encode_callback(body)),
        "status": status,
        "answer": raw[:ANSWER_SHOWN].decode("utf-8", "replace"),
        "error": failure,
        "ms": round(elapsed * 1000, 2),
    }


def _shown_url(url: str) -> str:
    """The URL without what may be a secret: its query (a Sign) and any user:password@."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _command(body: Body) -> str:
    return str(body.__struct_config__.tag)


def encode_callback(body: Body) -> bytes:
    """A callback body as TIM sends it: every field it has, zeros too (OnlineOnlyFlag 0,
    SendMsgResult 0: the Structs omit defaults, TIM's samples do not); only what the dev server
    does not know (None: a TopicId outside topics, absent CloudCustomData) is left out."""
    fields = {name: value for name, value in msgspec.structs.asdict(body).items() if value is not None}
    return _ENCODER.encode({"CallbackCommand": _command(body), **fields})


# --- the after-callback bodies the handlers fire ----------------------------------------------------


def c2c_sent(
    sender: str, to: str, key: tuple[int, int, int], body: list[Any], custom: str | None, online_only: bool,
    unread: int,
) -> cb.C2CAfterSendMsg:  # fmt: skip
    """`C2C.CallbackAfterSendMsg` for a stored message; `key` is (seq, random, time), `unread`
    the recipient's unread C2C messages after it."""
    seq, random, when = key
    return cb.C2CAfterSendMsg(
        From_Account=sender,
        To_Account=to,
        MsgSeq=seq,
        MsgRandom=random,
        MsgTime=when,
        MsgKey=f"{seq}_{random}_{when}",
        MsgId=f"{seq}_{random}_{when}",
        OnlineOnlyFlag=int(online_only),
        MsgBody=body,
        CloudCustomData=custom,
        SendMsgResult=0,
        ErrorInfo="send msg succeed",
        UnreadMsgNum=unread,
        EventTime=when * 1000,
    )


def c2c_modified(
    operator: str, row: C2CRow, body: list[Any], custom: str | None, now: int
) -> cb.C2CAfterModifyMsg:
    """`C2C.CallbackAfterModifyMsg` for a stored message as it reads now."""
    return cb.C2CAfterModifyMsg(
        Operator_Account=operator, From_Account=row.from_account, To_Account=row.to_account,
        MsgSeq=row.msg_seq, MsgRandom=row.msg_random, MsgTime=row.msg_time, MsgKey=row.msg_key,
        MsgBody=body, CloudCustomData=custom, EventTime=now * 1000,
    )  # fmt: skip


def c2c_receipted(reader: str, peer: str, rows: list[C2CRow], now: int) -> cb.C2CAfterMsgReadReceipt:
    """`C2C.CallbackAfterMsgReadReceipt`: `reader` acknowledged these messages from `peer`."""
    infos = [cb.C2CMsgInfoItem(r.from_account, r.to_account, r.msg_key, r.msg_key) for r in rows]
    return cb.C2CAfterMsgReadReceipt(
        Operator_Account=reader, Peer_Account=peer, C2CMsgInfo=infos, EventTime=now * 1000
    )


def c2c_recalled(sender: str, to: str, msg_key: str, unread: int, now: int) -> cb.C2CAfterMsgWithDraw:
    """`unread`: the recipient's unread C2C messages after the recall."""
    return cb.C2CAfterMsgWithDraw(
        From_Account=sender, To_Account=to, MsgKey=msg_key, UnreadMsgNum=unread, EventTime=now * 1000
    )


def c2c_read(reader: str, peer: str, read_time: int, unread: int, now: int) -> cb.C2CAfterMsgReport:
    """`unread`: the reader's unread C2C messages after the report."""
    return cb.C2CAfterMsgReport(
        Report_Account=reader,
        Peer_Account=peer,
        LastReadTime=read_time,
        UnreadMsgNum=unread,
        EventTime=now * 1000,
    )


def group_sent(
    group: tuple[str, str], operator: str, sender: str, stamp: tuple[int, int, int], body: list[Any],
    custom: str | None, online_only: bool,
) -> cb.GroupAfterSendMsg:  # fmt: skip
    """`Group.CallbackAfterSendMsg`; `group` is (GroupId, Type), `stamp` (seq, random, time)."""
    seq, random, when = stamp
    return cb.GroupAfterSendMsg(
        GroupId=group[0],
        Type=group[1],
        Operator_Account=operator,
        From_Account=sender,
        Random=random,
        MsgSeq=seq,
        MsgTime=when,
        MsgId=f"{seq}_{random}_{when}",  # the key aio_tim's client gives its own group messages
        OnlineOnlyFlag=int(online_only),
        MsgBody=body,
        CloudCustomData=custom,
        EventTime=when * 1000,
    )


def group_recalled(
    group: tuple[str, str], operator: str, seqs: list[int], now: int
) -> cb.GroupAfterRecallMsg:
    return cb.GroupAfterRecallMsg(
        GroupId=group[0],
        Type=group[1],
        Operator_Account=operator,
        MsgSeqList=[cb.SeqItem(seq) for seq in seqs],
        EventTime=now * 1000,
    )


def group_created(
    group: tuple[str, str], name: str, operator: str, owner: str | None, members: list[str], now: int
) -> cb.GroupAfterCreateGroup:
    return cb.GroupAfterCreateGroup(
        GroupId=group[0],
        Type=group[1],
        Name=name,
        Operator_Account=operator,
        Owner_Account=owner or "",  # TIM's field is always there: "" for a group without an owner
        MemberList=[cb.Member(m) for m in members],
        EventTime=now * 1000,
    )


def members_joined(
    group: tuple[str, str], operator: str, members: list[str], now: int
) -> cb.GroupAfterNewMemberJoin:
    return cb.GroupAfterNewMemberJoin(
        GroupId=group[0],
        Type=group[1],
        JoinType="Invited",
        Operator_Account=operator,
        NewMemberList=[cb.Member(m) for m in members],
        EventTime=now * 1000,
    )


def group_send_failed(
    call: SendGroupMsg, error: tuple[int, str], who: tuple[str, str], now: int
) -> cb.GroupSendMsgException:
    """`who` is (Operator_Account, the group's Type)."""
    code, info = error
    admin, group_type = who
    return cb.GroupSendMsgException(
        GroupId=call.GroupId,
        Type=group_type,
        Operator_Account=admin,
        From_Account=call.From_Account or admin,
        Random=call.Random,
        MsgTime=now,
        OnlineOnlyFlag=int(call.OnlineOnlyFlag == 1),
        MsgBody=call.MsgBody,
        CloudCustomData=call.CloudCustomData,
        ErrorCode=code,
        ErrorInfo=info,
        EventTime=now * 1000,
    )


def members_left(
    group: tuple[str, str], operator: str, members: list[str], now: int
) -> cb.GroupAfterMemberExit:
    return cb.GroupAfterMemberExit(
        GroupId=group[0],
        Type=group[1],
        ExitType="Kicked",
        Operator_Account=operator,
        ExitMemberList=[cb.Member(m) for m in members],
        EventTime=now * 1000,
    )


def group_destroyed(group: Any, operator: str, members: list[str], now: int) -> cb.GroupAfterGroupDestroyed:
    """`Group.CallbackAfterGroupDestroyed`; `group` is the dev server's GroupRow."""
    return cb.GroupAfterGroupDestroyed(
        GroupId=group.group_id,
        Type=group.type,
        Name=group.name,
        Operator_Account=operator,
        Owner_Account=group.owner or "",
        MemberList=[cb.Member(m) for m in members],
        EventTime=now * 1000,
    )
