"""The receiving faces of `Client`: the event stream, the webhook site and the inbox.

They live beside the client's core because receiving is its own half of the API (`tim.events()`,
`tim.listen()`, `@tim.on_before_send`); `Client` mixes them in.
"""

from __future__ import annotations

from collections.abc import Collection

from ..errors import TIM_ERR_PARAM, UsageError
from ..events.decide import BeforeSendHandler, OnTimeout
from ..events.hub import DEFAULT_PATH, Receiving, WebApp, WebHandler
from ..events.stream import EventStream
from ..msg import MsgManager
from ..seams import Inbox

__all__ = ["ReceivingFaces"]


class ReceivingFaces:
    """What `Client` offers for receiving TIM's webhooks; the client's `open()` sets `_receiving`."""

    _receiving: Receiving | None
    _msg: MsgManager | None
    _consumers: set[str]

    def events(
        self,
        consumer: str = "default",
        *,
        auto_ack: bool = True,
        commands: Collection[str] | None = None,
        batch: int = 100,
        before_send: bool = False,
    ) -> EventStream:
        """The received webhooks, from `consumer`'s first unacknowledged one, as they arrive.

            async for event in tim.events():
                if event.message is not None and not event.message.is_from_self:
                    print(event.command, event.message.sender, event.message.elem_array)

        Each delivered message comes out once (its after-send webhook); TIM's before-send
        questions come out too with `before_send=True` (decide them with `@tim.on_before_send`).
        The loop acknowledges an event when it asks for the next one (`auto_ack=False`: call
        `await event.ack()`); a new `tim.events()` resumes after the last acknowledged event.
        """
        self._consumers.add(consumer)
        return self._receiving_side().events(
            consumer, auto_ack=auto_ack, commands=commands, batch=batch, before_send=before_send
        )

    async def listen(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
        *,
        idle_timeout: float = 15.0,
        body_timeout: float = 10.0,
        max_connections: int | None = None,
    ) -> str:
        """Receive TIM's webhooks on a site of our own; returns the full callback URL to configure.

        url = await tim.listen(port=8080)   # "http://127.0.0.1:8080/tim/callback"

        A connection without a complete request head within `idle_timeout` seconds (of opening, or
        of its last answer) is closed, a body not in within `body_timeout` is refused (408), and at
        most `max_connections` are open (default: half the file-descriptor limit, at most 1,000;
        one more closes the oldest), so slow or idle clients cannot crowd TIM out.
        """
        return await self._receiving_side().listen(
            host,
            port,
            path,
            idle_timeout=idle_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
        )

    def webhook_app(self, path: str = DEFAULT_PATH) -> WebApp:
        """An aiohttp application receiving webhooks at `path`, to mount in your own app.

        app.add_subapp("/hooks", tim.webhook_app("/tim"))   # POST /hooks/tim
        """
        return self._receiving_side().webhook_app(path)

    @property
    def webhook_handler(self) -> WebHandler:
        """The receiver as an aiohttp handler: `app.router.add_post("/any/path", tim.webhook_handler)`."""
        return self._receiving_side().receiver.handle

    def on_before_send(
        self, handler: BeforeSendHandler, *, timeout: float = 1.5, on_timeout: OnTimeout = "allow"
    ) -> BeforeSendHandler:
        """Decide C2C and group before-send webhooks (see `aio_tim.events.decide`); usable as a decorator.
        A handler that raises or runs past `timeout` gets `on_timeout`: "allow" (TIM's default,
        fail-open) or "reject" (fail-closed).

        @tim.on_before_send
        def moderate(event):
            return Reject(info="no") if "spam" in repr(event.message) else None
        """
        return self._receiving_side().on_before_send(handler, timeout=timeout, on_timeout=on_timeout)

    async def inbox_backlog(self, consumer: str = "default") -> int:
        """Received events `consumer` has not acknowledged: the inbox's size, a slow consumer's backlog."""
        return await self._receiving_side().inbox.backlog(consumer)

    def webhook_statistics(self) -> dict[str, int]:
        """Webhook requests this client's receiver answered, by outcome: `accepted`, `refused_403`,
        `refused_400`, ..., `failed` (the store could not keep it).

            assert tim.webhook_statistics().get("refused_403", 0) == 0   # nobody forging requests
        """
        return dict(self._receiving_side().receiver.counts)

    @property
    def inbox(self) -> Inbox:
        """Where received webhooks wait (`Client(inbox=...)`, else the store's: `SqliteInbox`, `PgInbox`)."""
        return self._receiving_side().inbox

    def _receiving_side(self) -> Receiving:
        if self._receiving is None and self._msg is not None:
            raise UsageError(TIM_ERR_PARAM, "receiving with this store needs Client(inbox=...)")
        if self._receiving is None:
            raise RuntimeError("Client is not open: use `async with Client(...) as tim`")
        return self._receiving
