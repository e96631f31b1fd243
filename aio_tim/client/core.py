"""Client: the object a service holds. It owns the connection, the pipeline and the managers.

Open it in the running loop with `async with`; it closes everything it owns on the way out:

    async with Client(sdk_app_id=1400000000, user_id="alice", secret_key=KEY,
                      base_url="https://console.tim.qq.com") as tim:
        await tim.msg.send_new_msg("bob", ConvType.C2C, {"message_elem_array": [
            {"elem_type": 0, "text_elem_content": "hello"}]})
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from ..account import AccountManager
from ..connection import MAX_REPLY_SIZE, ConnectionManager, Timeouts
from ..conv import ConvManager
from ..coordination.base import Coordinator
from ..coordination.probe import Submit, find_sent
from ..errors import TIM_ERR_PARAM, UsageError
from ..events.hub import Receiving
from ..friendship import FriendshipManager
from ..group import GroupManager
from ..msg import MsgManager, SendContext
from ..pipeline import MessagePipeline, RetryBudget, RetryPolicy
from ..pipeline.outbox import Outbox, SharedOutbox
from ..profile import ProfileManager
from ..protocol.limits import RATE_LIMITS, Limits
from ..protocol.validate import check_identifier
from ..seams import Inbox, InboxStore, Limiter, OutboxQueue, OutboxStore, SharedOutboxStore
from ..store import LocalStore, default_store_path
from ..store.inbox import SqliteInbox
from ..telemetry import Telemetry
from ..telemetry.sampler import Sampler
from ..transfer import TransferManager, Uploader
from ..types import Conv, Message
from .choices import chosen_store, in_memory, make_signer, nothing
from .receiving import ReceivingFaces

__all__ = ["DEFAULT_BASE_URL", "Client"]

LIMIT_MARGIN: Final = 0.02  # the pipeline's: pace each limit 2% under TIM's ceiling
DEFAULT_BASE_URL: Final = "https://console.tim.qq.com"
"""Tencent's REST endpoint, the default `base_url`.

Tests point the client at a dev server's `server.url` instead:

    Client(sdk_app_id=1400000000, user_id="alice", secret_key=KEY, base_url=DEFAULT_BASE_URL)
"""


class Client(ReceivingFaces):
    """A TIM client acting as `user_id` (the C SDK's logged-in user), calling REST as `admin`.

    Give either `secret_key` (the admin UserSig is minted and renewed from it) or a ready
    `admin_user_sig`. The local message store lives at `store_path` (default: one sqlite file, mode
    0600, per app, endpoint and user in the OS's data folder, `~/.local/share/aio_tim` on Linux;
    see `aio_tim.store.default_store_path`; `":memory:"` keeps nothing). Time (`clock`) and
    randomness (`rng`) are injectable for tests.

        async with Client(sdk_app_id=1400000000, user_id="alice", secret_key=KEY) as tim:
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, {
                "message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
            print(sent.msg_id, tim.pipeline.statistics())

    `timeouts` bound each HTTP attempt, `max_in_flight` the REST calls in progress at once (and
    the connection pool), `retry` how failed calls are retried, `max_queued` how many callers may
    wait for a slot (more wait, or get `PipelineFullError` with `block=False`), `limits` the calls per
    second per endpoint (TIM's documented limits by default; None = unpaced), `budget` the shared
    retry budget, `close_timeout` how long leaving `async with` drains, `usersig_lifetime` the seconds
    each minted admin UserSig lives; `uploader` stores attachments (default: the dev server's
    file service at `base_url`) and `max_transfers` bounds concurrent downloads and uploads.
    `store` chooses another store than SQLite at `store_path`: a `"postgresql://..."` URL or an
    asyncpg pool (`pip install 'aio_tim[postgres]'`, see docs/postgres.md: every worker then shares
    history, read marks and the outbox, drained by any worker; `enqueue_new_msg(...,
    connection=conn)` writes in your transaction), or any `aio_tim.seams.OutboxStore`.
    `outbox=True` turns on the durable outbox (`tim.msg.enqueue_new_msg`, see `aio_tim.pipeline.outbox`);
    it needs a file store (not `":memory:"`). `max_reply_size` caps a REST reply's bytes (a larger
    one is a bad reply, 9519); downloads are capped by `tim.transfers.options.max_size`.
    Receiving (`tim.events()`, `tim.listen()`, `tim.webhook_app()`, see `aio_tim.events`): TIM's
    webhooks are verified with `webhook_token` when the app configured one, and kept in `inbox`
    (default: the store's, SQLite's or PostgreSQL's; an `aio_tim.seams.Inbox` such as Redis's otherwise).

    `coordinator` makes this client one worker of many sharing the app (`aio_tim.coordination`):
    with a `RedisCoordinator` the limits are app-wide and `enqueue_new_msg` queues in Redis
    Streams that every worker drains (no file store needed); `tim.outbox_result(queued)` waits
    for a queued message's outcome.
    """

    def __init__(
        self,
        *,
        sdk_app_id: int,
        user_id: str,
        secret_key: str | None = None,
        admin_user_sig: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        admin: str = "administrator",
        timeouts: Timeouts = Timeouts(),
        max_in_flight: int = 64,
        max_reply_size: int = MAX_REPLY_SIZE,
        retry: RetryPolicy = RetryPolicy(),
        max_queued: int = 10_000,
        limits: Limits | None = RATE_LIMITS,
        budget: RetryBudget | None = None,
        close_timeout: float = 10.0,
        usersig_lifetime: int = 86400,
        store_path: str | os.PathLike[str] | None = None,
        store: str | OutboxStore | Any | None = None,
        uploader: Uploader | None = None,
        max_transfers: int = 4,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        outbox: bool = False,
        coordinator: Coordinator | None = None,
        webhook_token: str | None = None,
        inbox: Inbox | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        if isinstance(sdk_app_id, bool) or not isinstance(sdk_app_id, int) or sdk_app_id <= 0:
            raise UsageError(TIM_ERR_PARAM, f"sdk_app_id must be a positive int, not {sdk_app_id!r}")
        self.sdk_app_id = sdk_app_id
        self.user_id = check_identifier(user_id, "user_id")
        self.admin = check_identifier(admin, "admin")
        self.base_url = base_url
        self._clock = clock
        self._rng = rng or random.Random()
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        """OpenTelemetry spans and metrics (`aio_tim.telemetry`): on when a provider is set at open."""
        signer = make_signer(sdk_app_id, admin, secret_key, admin_user_sig, usersig_lifetime, clock)
        self._connection = ConnectionManager(
            base_url, sdk_app_id, signer, timeouts=timeouts, max_connections=max_in_flight,
            max_reply_size=max_reply_size, rng=self._rng, telemetry=self.telemetry,
        )  # fmt: skip
        path = store_path if store_path is not None else default_store_path(sdk_app_id, user_id, base_url)
        self.store: OutboxStore = chosen_store(store, path, sdk_app_id, user_id)
        """The message store (`tim.store`): history, read marks, saved and imported messages."""
        if outbox and coordinator is None and in_memory(self.store):
            raise UsageError(TIM_ERR_PARAM, "outbox=True needs a file store_path, not an in-memory store")
        self._pipeline_options: dict[str, Any] = {
            "max_in_flight": max_in_flight,
            "retry": retry,
            "max_queued": max_queued,
            "limits": limits,
            "budget": budget,
        }
        self._close_timeout = close_timeout
        self._pipeline: MessagePipeline | None = None
        self._msg: MsgManager | None = None
        self._outbox_enabled = outbox
        self._coordinator = coordinator
        self._limiter: Limiter | None = None
        self._outbox: OutboxQueue | None = None
        if webhook_token == "":
            raise UsageError(TIM_ERR_PARAM, "webhook_token must not be empty (None: no authentication)")
        self._webhook_token = webhook_token
        self._inbox = inbox
        self._receiving: Receiving | None = None
        self._sampler: Sampler | None = None
        self._unobserve: Callable[[], None] = nothing
        self._consumers = {"default"}  # the inbox consumers whose backlog telemetry samples
        # Downloads and uploads (`tim.transfers`); `uploader` stores attachments (default: the
        # dev server's file service at base_url), at most `max_transfers` at a time.
        self.transfers = TransferManager(
            self._connection, uploader=uploader, max_transfers=max_transfers, telemetry=self.telemetry
        )
        """Downloads and uploads (`tim.transfers`): `watch_uploads()`, `options`, `statistics()`."""

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the connection and start the pipeline (inside the running loop)."""
        await self.store.open()
        await self._connection.open()
        self.telemetry.activate()
        self._limiter = self._shared_limiter()
        self._pipeline = MessagePipeline(
            self._connection.call, rng=self._rng, limiter=self._limiter, telemetry=self.telemetry,
            **self._pipeline_options,
        )  # fmt: skip
        outbox = self._chosen_outbox(self._pipeline)
        context = SendContext(
            self.user_id, self._pipeline, self.store, self._clock, self._rng, transfers=self.transfers,
            outbox=outbox, telemetry=self.telemetry,
        )  # fmt: skip
        self._msg = MsgManager(context)
        inbox = self._chosen_inbox()
        if inbox is not None:
            self._receiving = Receiving(
                sdk_app_id=self.sdk_app_id, user_id=self.user_id, inbox=inbox,
                token=self._webhook_token, clock=self._clock,
            )  # fmt: skip
        if outbox is not None:
            await outbox.start(self._msg._deliver)  # requeues rows a crash left inflight
            self._outbox = outbox
        if self.telemetry.active:
            self._start_telemetry(self._pipeline, self._receiving, outbox)

    def _start_telemetry(
        self, pipeline: MessagePipeline, receiving: Receiving | None, outbox: OutboxQueue | None
    ) -> None:
        self._unobserve = self.telemetry.observe_pipeline(pipeline.statistics)
        if receiving is not None:
            receiving.receiver.telemetry = self.telemetry
        backlog, consumers = (receiving.inbox.backlog if receiving else None), self._consumers
        outbox_counts = outbox.statistics if outbox is not None else None
        self._sampler = Sampler(self.telemetry, outbox_counts, backlog, lambda: consumers)
        self._sampler.start()

    # The one place that chooses: shared (the coordinator's) or in-process limits and outbox.

    def _shared_limiter(self) -> Limiter | None:
        if self._coordinator is None:
            return None  # the pipeline's in-process token buckets
        return self._coordinator.limiter(self.sdk_app_id, self._pipeline_options["limits"], LIMIT_MARGIN)

    def _chosen_inbox(self) -> Inbox | None:
        if self._inbox is not None:
            return self._inbox
        if isinstance(self.store, InboxStore):  # PostgreSQL's: one inbox for every worker
            return self.store.inbox()
        if not isinstance(self.store, LocalStore):
            return None  # another store: give Client(inbox=...)
        if self._coordinator is not None:
            return self._coordinator.inbox(self.sdk_app_id, self.store)
        return SqliteInbox(self.store)

    def _chosen_outbox(self, pipeline: MessagePipeline) -> OutboxQueue | None:
        if isinstance(self.store, SharedOutboxStore):  # every worker drains the shared store's outbox
            return SharedOutbox(self.store, lookup=partial(self._find_sent, pipeline.submit))
        if self._coordinator is not None:
            return self._coordinator.outbox(self.sdk_app_id, self.store, pipeline.submit)
        return Outbox(self.store) if self._outbox_enabled else None

    async def _find_sent(self, submit: Submit, conv: Conv, message: Message) -> Message | None:
        return await find_sent(submit, conv, message, self._clock())

    async def aclose(self) -> int:
        """Stop intake and drain the pipeline (within `close_timeout`), cancel running transfers
        (they stay resumable), then close the connection and the store.

        With the outbox, intake stops first and the drainer works within `close_timeout` too; rows
        it did not finish stay queued for the next start and are counted in the result.

        Returns how many operations did not finish (also logged as a WARNING); never a silent drop.
        """
        unfinished = 0
        if self._sampler is not None:
            sampler, self._sampler = self._sampler, None
            await sampler.aclose()
        self._unobserve()
        if self._outbox is not None:
            outbox, self._outbox = self._outbox, None
            started = time.monotonic()
            unfinished += await outbox.aclose(self._close_timeout)
            remaining = max(0.0, self._close_timeout - (time.monotonic() - started))
        else:
            remaining = self._close_timeout
        if self._pipeline is not None:
            unfinished += await self._pipeline.aclose(remaining)  # needs the connection open
        if self._limiter is not None:
            await self._limiter.aclose()
        await self.transfers.aclose()  # cancels downloads (resumable) before their session goes
        if self._receiving is not None:
            receiving, self._receiving = self._receiving, None
            await receiving.aclose()  # stops listening and commits pending events before the store goes
        await self._connection.aclose()
        await self.store.aclose()
        return unfinished

    @property
    def closed(self) -> bool:
        """Whether the client is closed (or not opened yet): its operations then fail."""
        return self._connection.closed

    @property
    def msg(self) -> MsgManager:
        """The message manager (the C SDK's `TIMMsg*` functions)."""
        if self._msg is None or self._connection.closed:
            raise RuntimeError("Client is not open: use `async with Client(...) as tim`")
        return self._msg

    @property
    def conv(self) -> ConvManager:
        """The conversation list (`tim.conv`, the C SDK's `TIMConv*`), kept in the store (SQLite or
        PostgreSQL); a store of your own without a conversation table raises UsageError."""
        if self._msg is None or self._connection.closed:
            raise RuntimeError("Client is not open: use `async with Client(...) as tim`")
        return ConvManager(self.pipeline.submit, self.user_id, self.store, self._clock)

    @property
    def group(self) -> GroupManager:
        """Group administration (`tim.group`): create/dismiss groups, invite/remove members."""
        return GroupManager(self.pipeline.submit, self.user_id)

    @property
    def friendship(self) -> FriendshipManager:
        """The user's relationship chain (`tim.friendship`, the C SDK's `TIMFriendship*`)."""
        return FriendshipManager(self.pipeline.submit, self.user_id)

    @property
    def profile(self) -> ProfileManager:
        """User profiles (`tim.profile`, the C SDK's `TIMProfile*`)."""
        return ProfileManager(self.pipeline.submit, self.user_id)

    @property
    def account(self) -> AccountManager:
        """Account administration (`tim.account`): import, check, delete, online status."""
        return AccountManager(self.pipeline.submit)

    async def outbox_statistics(self) -> dict[str, int]:
        """Outbox rows per state (`Client(outbox=True)`): queued, inflight, sent, failed.

        counts = await tim.outbox_statistics()
        assert counts["queued"] + counts["inflight"] == 0  # everything acknowledged went out
        """
        if self._outbox is None:
            raise UsageError(
                TIM_ERR_PARAM, "outbox_statistics needs an open Client(outbox=True) or a coordinator"
            )
        return await self._outbox.statistics()

    async def outbox_result(self, queued: Message, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The outcome of a message `enqueue_new_msg` returned, whichever worker or client sent it
        (the local outbox or a coordinator's): the sent message, or TIM's error raised;
        TimeoutError after `timeout` seconds.

        sent = await tim.outbox_result(await tim.msg.enqueue_new_msg("bob", ConvType.C2C, msg), 30)
        """
        if self._outbox is None:
            raise UsageError(
                TIM_ERR_PARAM, "outbox_result needs an open Client(outbox=True) or a coordinator"
            )
        return await self._outbox.result(queued, timeout)

    @property
    def pipeline(self) -> MessagePipeline:
        """The pipeline every REST call passes through: `tim.pipeline.statistics()` shows its work."""
        if self._pipeline is None:
            raise RuntimeError("Client is not open: use `async with Client(...) as tim`")
        return self._pipeline

    def __repr__(self) -> str:
        state = "closed" if self._connection.closed else "open"
        return (
            f"<Client sdk_app_id={self.sdk_app_id} user_id={self.user_id!r} admin={self.admin!r} "
            f"base_url={self.base_url!r} {state}>"
        )

    def __del__(self, _warn: Callable[..., Any] = warnings.warn) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None and not connection.closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)
