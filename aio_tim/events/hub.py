"""`Receiving`: what a `Client` holds to receive: the inbox, the receiver, the sites it listens on.

The client delegates `tim.events()`, `tim.listen()`, `tim.webhook_app()`, `tim.webhook_handler` and
`tim.on_before_send()` here (DESIGN.md §10); nothing here sends, so the pipeline is not imported.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import Final

from aiohttp import web

from ..seams.inbox import Inbox
from .decide import DEFAULT_TIMEOUT, BeforeSendHandler, OnTimeout, check_handler
from .receiver import BODY_TIMEOUT, MAX_BODY, Receiver
from .site import IDLE_TIMEOUT, BusyConnections, GuardedSite, default_max_connections
from .stream import EventStream

__all__ = ["DEFAULT_PATH", "Receiving", "WebApp", "WebHandler"]

DEFAULT_PATH: Final = "/tim/callback"
WebApp = web.Application
WebHandler = Callable[[web.Request], Awaitable[web.Response]]


class Receiving:
    """The receiving side of one client: one inbox, one receiver, any number of listening sites."""

    def __init__(
        self,
        *,
        sdk_app_id: int,
        user_id: str,
        inbox: Inbox,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inbox = inbox
        self._user_id = user_id
        self.receiver = Receiver(
            sdk_app_id=sdk_app_id, user_id=user_id, inbox=inbox, token=token, clock=clock
        )
        self._runners: list[web.AppRunner] = []

    def events(
        self,
        consumer: str = "default",
        *,
        auto_ack: bool = True,
        commands: Collection[str] | None = None,
        batch: int = 100,
        before_send: bool = False,
    ) -> EventStream:
        return EventStream(
            self.inbox,
            self._user_id,
            consumer,
            auto_ack=auto_ack,
            commands=commands,
            batch=batch,
            before_send=before_send,
            telemetry=self.receiver.telemetry,
        )

    def on_before_send(
        self, handler: BeforeSendHandler, *, timeout: float = DEFAULT_TIMEOUT, on_timeout: OnTimeout = "allow"
    ) -> BeforeSendHandler:
        check_handler(handler, timeout, on_timeout)
        self.receiver.before_send = handler
        self.receiver.decision_timeout = timeout
        self.receiver.on_timeout = on_timeout
        return handler

    def webhook_app(self, path: str = DEFAULT_PATH) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)  # larger bodies get our TIM-shaped 413
        app.router.add_post(path, self.receiver.handle)
        return app

    async def listen(
        self,
        host: str,
        port: int,
        path: str,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        max_connections: int | None = None,
    ) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        if not (idle_timeout > 0 and body_timeout > 0):
            raise ValueError("idle_timeout and body_timeout must be positive (seconds)")
        self.receiver.body_timeout = body_timeout
        cap = default_max_connections() if max_connections is None else max_connections
        app, busy = self.webhook_app(path), BusyConnections()
        app.middlewares.append(busy.watch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, keepalive_timeout=idle_timeout)
        await runner.setup()
        try:
            site = GuardedSite(runner, host, port, max_connections=cap, busy=busy)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runners.append(runner)
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
        return f"http://{shown}:{bound[1]}{path}"

    async def aclose(self) -> None:
        """Stop listening (requests in progress finish), then finish the inbox's pending writes."""
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
        await self.receiver.drain()
        await self.inbox.aclose()
