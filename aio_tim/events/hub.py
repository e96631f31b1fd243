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
from .decide import BeforeSendHandler
from .receiver import MAX_BODY, Receiver
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
        )

    def on_before_send(self, handler: BeforeSendHandler, *, timeout: float = 1.5) -> BeforeSendHandler:
        if not 0 < timeout < 2.0:
            raise ValueError("timeout must be within TIM's 2 s answer time (0 < timeout < 2)")
        self.receiver.before_send = handler
        self.receiver.decision_timeout = timeout
        return handler

    def webhook_app(self, path: str = DEFAULT_PATH) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)  # larger bodies get our TIM-shaped 413
        app.router.add_post(path, self.receiver.handle)
        return app

    async def listen(self, host: str, port: int, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        runner = web.AppRunner(self.webhook_app(path), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
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
        await self.inbox.aclose()
