"""The durable outbox (`Client(outbox=True)`): sends committed to the local store before they are
acknowledged, delivered by a background drainer that survives crashes and restarts.

    async with Client(..., store_path="alice.sqlite3", outbox=True) as tim:
        queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg)  # committed: acknowledged
        print(await tim.outbox_statistics())  # {"queued": 1, "inflight": 0, "sent": 0, "failed": 0}

Rows go queued → inflight → sent (the sent message is saved in the messages table in the same
transaction) or failed (a fatal error; its code and description stay in the row). Each row carries
the message with its idempotency keys (MsgRandom, MsgSeq, client time) fixed when it was queued, so
a resend after a retry, a close or a crash repeats them and a deduping server keeps one copy. Rows
of one conversation are sent in the order they were queued.

Several clients (processes or not) may drain one store: an inflight row is leased to the client
sending it (an owner id and an expiry, renewed while it sends), and only a row whose lease ended
is taken over, so a client started while another is draining never resends the other's rows.
On open, rows left inflight by a process that died on this host go straight back to the queue;
rows of an owner that cannot be checked (another host) wait for their lease to end. Closing
stops intake, lets the drainer work for up to the close timeout, and reports the rows left; its
own inflight rows go back to the queue for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, Protocol, runtime_checkable

from ..errors import TIM_ERR_PARAM, TIMError, UsageError, error_for
from ..seams import ClaimedRow, OutboxStore, SharedOutboxStore
from ..store import Conv
from ..store.outbox import FAILED, SENT
from ..types import Message, MsgStatus
from ..types._base import decoder_for
from .failures import Failure, PipelineClosedError, classify

__all__ = ["Lookup", "Outbox", "OutboxClosedError", "SharedOutbox"]

# The documented logger name (docs/logging.md), from before the module moved into the pipeline.
log = logging.getLogger("aio_tim.outbox")

CLAIM_BATCH: Final = 256
# A shared store's claim takes this many conversations (each with its next rows): small, so the
# conversations spread over the workers instead of all going to the first that claims.
SHARED_CLAIM_LANES: Final = 16
RETRY_PAUSE: Final = 0.5  # first pause after a transient failure; doubles up to RETRY_PAUSE_MAX
RETRY_PAUSE_MAX: Final = 30.0
LEASE: Final = 30  # seconds an inflight row stays with its sender without a renewal

Deliver = Callable[[Conv, Message], Awaitable[tuple[Message, str | None]]]
"""Send one queued message; return the sent message and its MsgKey (raises TIMError)."""
Lookup = Callable[[Conv, Message], Awaitable[Message | None]]
Lanes = dict[asyncio.Task[bool], list[int]]  # a conversation's send task -> its claimed row ids
"""Find a queued message in TIM's roaming history: the sent message, or None (raises TIMError)."""


_MESSAGE: Final = decoder_for(Message)


@runtime_checkable
class CancellableOutbox(Protocol):
    """A store that can withdraw a queued row (the SQLite store; not yet PostgreSQL's)."""

    async def outbox_cancel(self, conv: Conv, keys: tuple[int, int, int]) -> bool: ...


class OutboxClosedError(UsageError):
    """The outbox is closing or closed: nothing more is accepted (nothing queued is dropped)."""


class Outbox:
    """The drainer of the store's outbox table. The Client builds, starts and closes it."""

    def __init__(self, store: OutboxStore, *, batch: int = CLAIM_BATCH, lease: int = LEASE) -> None:
        if lease < 3:
            raise ValueError("the outbox lease must be at least 3 seconds (it is renewed every third)")
        self._store = store
        self._batch = batch
        self._lease = lease
        self.owner = owner_id()
        """This drainer's id in the rows it leases: host/pid/random."""
        self._renewer: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._pause = 0.0
        self.resumed = 0
        """Rows found inflight at start (left by a crash) and put back in the queue."""

    async def start(self, deliver: Deliver) -> None:
        """Requeue rows a dead process left inflight and start draining (queued rows are resumed).

        Rows another live client is sending are left to it."""
        self._deliver = deliver
        for owner in await self._store.outbox_owners():
            if owner_is_dead(owner):
                self.resumed += await self._store.outbox_requeue(owner=owner)
        if self.resumed:
            log.warning("outbox: %d rows left inflight by a dead process are queued again", self.resumed)
        self._task = asyncio.create_task(self._run(), name="aio_tim outbox drainer")
        self._renewer = asyncio.create_task(self._renew(), name="aio_tim outbox lease renewal")

    async def enqueue(self, conv: Conv, message: Message) -> int:
        """Commit `message` (keys fixed) as a queued row and wake the drainer; return the row id."""
        if self._closing or self._task is None:
            raise OutboxClosedError(TIM_ERR_PARAM, "the outbox is closed: nothing more is accepted")
        # No await between the check and the store's (FIFO) lock: an enqueue accepted before a
        # close commits before aclose() counts the rows left.
        row_id = await self._store.outbox_add(conv, message)
        self._wake.set()
        return row_id

    async def cancel(self, conv: Conv, keys: tuple[int, int, int]) -> bool:
        """Withdraw a queued row no drainer has claimed, by its (rand, seq, client time) keys; its
        `result` then raises 8021. False if there is none, or if this store cannot cancel."""
        if not isinstance(self._store, CancellableOutbox):
            return False
        return await self._store.outbox_cancel(conv, keys)

    async def statistics(self) -> dict[str, int]:
        """Rows per state: `{"queued": .., "inflight": .., "sent": .., "failed": ..}`."""
        return await self._store.outbox_counts()

    async def result(self, message: Message, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The sent `message` (as `enqueue_new_msg` returned it) once a drainer sent it; raises its
        TIMError if TIM refused it, TimeoutError if no outcome came within `timeout` seconds.

        Any client sharing the store may have sent it: the row is read back from the store."""
        if not message.conv_id or not message.conv_type:
            raise UsageError(TIM_ERR_PARAM, "outbox_result takes the message enqueue_new_msg returned")
        conv = (message.conv_type, message.conv_id)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        poll = 0.01
        while True:
            found = await self._store.outbox_outcome(conv, message.rand or 0, message.seq or 0)
            if found is None:
                raise UsageError(TIM_ERR_PARAM, "outbox_result: this message was not queued in this outbox")
            state, code, desc, json = found
            if state == SENT:
                sent: Message = _MESSAGE.decode(json)
                return sent
            if state == FAILED:
                raise error_for(code, desc)
            if deadline is not None and loop.time() + poll > deadline:
                raise TimeoutError(f"no outcome for the message within {timeout}s")
            await asyncio.sleep(poll)
            poll = min(poll * 2, 0.25)

    async def wait_idle(self, poll: float = 0.05) -> None:
        """Wait until no row is queued or inflight (a test helper; polls the store)."""
        while True:
            counts = await self._store.outbox_counts()
            if not counts["queued"] and not counts["inflight"]:
                return
            await asyncio.sleep(poll)

    # `timeout` is a drain budget that ends in a count, not a cancel scope: ASYNC109 does not apply.
    async def aclose(self, timeout: float) -> int:  # noqa: ASYNC109
        """Stop intake, let the drainer work for up to `timeout` seconds, then stop it; return how
        many rows are left unfinished (queued again for the next start; logged as a WARNING)."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return 0
        renewer, self._renewer = self._renewer, None
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.cancelled() and task.exception() is not None:
            log.error("outbox drainer failed", exc_info=task.exception())
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        # Our rows cut off mid-send wait for the next start; other clients' rows stay theirs.
        await self._store.outbox_requeue(owner=self.owner)
        counts = await self._store.outbox_counts()
        unfinished = counts["queued"] + counts["inflight"]
        if unfinished:
            log.warning("outbox closed with %d rows unfinished (kept queued)", unfinished)
        return unfinished

    # --- draining --------------------------------------------------------------------------------

    error_pause: float = RETRY_PAUSE_MAX
    """Seconds the drainer waits after a storage error before it tries again."""

    async def _run(self) -> None:
        requeue = False  # our inflight rows go back to the queue before the next claim
        while True:
            self._wake.clear()
            try:
                if requeue:
                    await self._store.outbox_requeue(owner=self.owner)
                    requeue = False
                rows = await self._claim()
                if not rows:
                    if self._closing:
                        return
                    await self._idle()
                    continue
                await self._send_rows(rows)
            except Exception:  # e.g. a storage error: rows stay queued/inflight, never dropped
                # The requeue itself may fail (the database is down): it is tried again first thing.
                log.exception("outbox drainer: an error; retrying after a pause")
                requeue = True
                await asyncio.sleep(self.error_pause if not self._closing else 0)
                if self._closing:
                    return

    async def _claim(self) -> list[tuple[int, Conv, Message]]:
        return await self._store.outbox_claim(self._batch, owner=self.owner, lease=self._lease)

    async def _sent_before(self, row_id: int, conv: Conv, message: Message) -> Message | None:
        """The message as TIM stored it if a dead owner's send of this row got through (None here:
        this store does not tell which rows were taken over)."""
        return None

    async def _idle(self) -> None:
        """Wait for an enqueue, or for a lease to end: rows of a client that died elsewhere
        become claimable without anyone waking us."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._lease):
                await self._wake.wait()

    async def _renew(self) -> None:
        """Renew the lease of our inflight rows every third of the lease, until closed."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._store.outbox_renew(self.owner, self._lease)
            except Exception:  # e.g. a busy store: the next renewal comes before the lease ends
                log.warning("outbox: renewing the lease failed; retrying", exc_info=True)

    async def _send_rows(self, rows: list[tuple[int, Conv, Message]]) -> None:
        """Send claimed rows: conversations side by side, each one's rows in order."""
        lanes: dict[Conv, list[tuple[int, Message]]] = {}
        for row_id, conv, message in rows:
            lanes.setdefault(conv, []).append((row_id, message))
        results = await asyncio.gather(*(self._send_lane(conv, lane) for conv, lane in lanes.items()))
        if all(results):
            self._pause = 0.0
            return
        # A transient failure outlived the pipeline's retries (e.g. the server is down): pause.
        self._pause = min(max(self._pause * 2, RETRY_PAUSE), RETRY_PAUSE_MAX)
        await asyncio.sleep(self._pause)

    async def _send_lane(self, conv: Conv, lane: list[tuple[int, Message]]) -> bool:
        """Send one conversation's rows in order; on a transient failure requeue the rest, return False."""
        assert self._deliver is not None
        for index, (row_id, message) in enumerate(lane):
            found = await self._sent_before(row_id, conv, message)
            if found is not None:  # not sent again: it would arrive twice
                await _to_the_end(
                    self._store.outbox_sent(
                        row_id, conv, found, status=int(MsgStatus.SEND_SUCC), msg_key=found.msg_id
                    )
                )
                continue
            try:
                sent, msg_key = await self._deliver(conv, message)
            except TIMError as error:
                if isinstance(error, PipelineClosedError) or classify(error) is not Failure.FATAL:
                    # The same keys go out again later: a deduping server keeps one copy.
                    await self._store.outbox_requeue([r for r, _ in lane[index:]], owner=self.owner)
                    return False
                await self._store.outbox_failed(
                    row_id, conv, message, status=int(MsgStatus.SEND_FAIL), code=error.code, desc=error.desc
                )
                continue
            # Recorded even if a close cancels us now: a send the server accepted is never requeued.
            await _to_the_end(
                self._store.outbox_sent(row_id, conv, sent, status=int(MsgStatus.SEND_SUCC), msg_key=msg_key)
            )
        return True


class SharedOutbox(Outbox):
    """The drainer of an outbox many workers share (`aio_tim.pgstore.PgStore`): any worker drains
    any row, woken by the store (LISTEN/NOTIFY) rather than by its own enqueues.

    `enqueue_in(connection, ...)` writes a row in the caller's transaction; `result()` (the base
    class's) waits for a queued message's outcome, whichever worker sent it. A C2C row taken over
    from a worker whose lease ended is first looked up with `lookup` (TIM's roaming history):
    found, it is not resent.
    """

    error_pause = 2.0  # a shared database's error is mostly a restart or a failover: soon over

    def __init__(
        self,
        store: SharedOutboxStore,
        *,
        lookup: Lookup | None = None,
        batch: int = SHARED_CLAIM_LANES,
        lease: int = LEASE,
    ) -> None:
        super().__init__(store, batch=batch, lease=lease)
        self._shared = store
        self._lookup = lookup
        self._taken: set[int] = set()
        self.looked_up = 0
        """Rows taken over from a dead worker that TIM's history showed as sent (not resent)."""

    async def start(self, deliver: Deliver) -> None:
        await super().start(deliver)
        await self._shared.outbox_watch(self._wake.set)

    async def enqueue_in(self, connection: Any, conv: Conv, message: Message) -> int:
        """Write `message` (keys fixed) with the caller's `connection`, in its open transaction."""
        if self._closing or self._task is None:
            raise OutboxClosedError(TIM_ERR_PARAM, "the outbox is closed: nothing more is accepted")
        return await self._shared.outbox_add_in(connection, conv, message)

    async def _run(self) -> None:
        """Claim as lanes finish, not batch by batch: when a conversation's lane is done its slot is
        claimed again at once, so one long lane never holds the other slots idle (the base class
        waits for a whole batch). Profiled in bench_workers.py part (c): that barrier, not CPU,
        kept four workers under TIM's limit."""
        lanes: Lanes = {}
        stranded: set[int] = set()  # rows of a lane that failed: back to the queue before going on
        # After a failed claim (it may have committed unseen): all our inflight rows go back to the
        # queue once no lane holds any, or the renewer would keep them leased to us forever.
        orphans = False
        try:
            while True:
                self._wake.clear()
                try:
                    if stranded:
                        await self._store.outbox_requeue(sorted(stranded), owner=self.owner)
                        stranded.clear()
                    if orphans and not lanes:
                        await self._store.outbox_requeue(owner=self.owner)
                        orphans = False
                    if len(lanes) < self._batch:
                        self._start_lanes(await self._claim(self._batch - len(lanes)), lanes)
                except Exception:  # a storage error: rows stay queued/inflight, never dropped
                    log.exception("outbox drainer: an error; retrying after a pause")
                    orphans = True
                    await asyncio.sleep(self.error_pause if not self._closing else 0)
                if not lanes:
                    if self._closing:
                        return
                    await self._idle()
                    continue
                await self._lane_done(lanes, stranded)
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    def _start_lanes(self, rows: list[tuple[int, Conv, Message]], lanes: Lanes) -> None:
        by_conv: dict[Conv, list[tuple[int, Message]]] = {}
        for row_id, conv, message in rows:
            by_conv.setdefault(conv, []).append((row_id, message))
        for conv, lane in by_conv.items():
            lanes[asyncio.create_task(self._send_lane(conv, lane))] = [row_id for row_id, _ in lane]

    async def _lane_done(self, lanes: Lanes, stranded: set[int]) -> None:
        """Wait for a lane to finish (or, with a free slot, for new rows); pause after a transient failure."""
        waker = asyncio.ensure_future(self._wake.wait()) if len(lanes) < self._batch else None
        waiting = [*lanes, *([waker] if waker else [])]
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if waker is not None:
            waker.cancel()
        failed = False
        for task in done & lanes.keys():
            rows = lanes.pop(task)
            error = task.exception()
            if error is not None:  # e.g. a storage error recording a send
                log.error("outbox drainer: a lane failed; its rows go back to the queue", exc_info=error)
                stranded.update(rows)
            failed |= error is not None or not task.result()
        if failed:  # e.g. the server is down: back off before claiming more
            self._pause = min(max(self._pause * 2, RETRY_PAUSE), RETRY_PAUSE_MAX)
            await asyncio.sleep(self._pause)
        elif done - {waker}:
            self._pause = 0.0

    async def _claim(self, limit: int | None = None) -> list[tuple[int, Conv, Message]]:
        rows: list[ClaimedRow] = await self._shared.outbox_claim_rows(
            limit or self._batch, owner=self.owner, lease=self._lease
        )
        # Rows another owner held (it died, or its lease ended): it may have sent them.
        self._taken = {row.id for row in rows if row.taken_from not in (None, self.owner)}
        return [(row.id, row.conv, row.message) for row in rows]

    async def _sent_before(self, row_id: int, conv: Conv, message: Message) -> Message | None:
        if row_id not in self._taken or self._lookup is None:
            return None
        try:
            found = await self._lookup(conv, message)
        except TIMError as error:  # cannot tell: resend with the same keys
            log.info("outbox: could not look a taken-over message up (%s); resending", error)
            return None
        self.looked_up += found is not None
        return found


async def _to_the_end(write: Coroutine[Any, Any, None]) -> None:
    """Await `write` to its end even if cancelled meanwhile, then let the cancel through."""
    task = asyncio.ensure_future(write)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


def owner_id() -> str:
    """A drainer's id: `host/pid/random` (the pid lets a restart on this host spot a dead owner)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """True for an owner that was a process on this host that no longer runs. An owner on
    another host, or one that cannot be read, is presumed alive: its lease decides."""
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or len(pid_text) > 10:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another client in this process: alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: someone else's live process (a reused pid)
        return False
    return False
