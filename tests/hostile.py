"""A hostile HTTP server for tests (not a test module): every request goes to `server.handler`.

async with HostileServer() as hostile:
    hostile.handler = lambda request: web.json_response({...})
    ... Client(base_url=hostile.url) ...
print(hostile.requests)   # every (method, path_qs) it was asked
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _not_set(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="no handler set")


class HostileServer:
    """An aiohttp server on loopback answering whatever `handler` says."""

    def __init__(self) -> None:
        self.handler: Handler = _not_set
        self.requests: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        return await self.handler(request)

    async def __aenter__(self) -> HostileServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def envelope(**fields: object) -> dict[str, object]:
    """A successful TIM envelope with `fields` added."""
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}
