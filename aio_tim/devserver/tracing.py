"""The dev server's own spans (`DevServer(telemetry=...)`, `aio-tim serve --otel`): one SERVER span
per REST call, continuing the caller's trace from its `traceparent`, so a trace shows both ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Final

from aiohttp import web

from ..telemetry import Telemetry

__all__ = ["ERROR_CODE", "traced"]

ERROR_CODE: Final = web.RequestKey("aio_tim.error_code", int)
"""The request key where the REST front leaves the ErrorCode it answered."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def traced(handle: Handler, telemetry: Telemetry, known: Collection[str]) -> Handler:
    """`handle` inside a SERVER span; an endpoint outside `known` is named by its template, so a
    caller cannot mint span names or metric labels."""

    async def traced_handle(request: web.Request) -> web.StreamResponse:
        endpoint = f"{request.match_info['service']}/{request.match_info['command']}"
        with telemetry.server_call(
            endpoint if endpoint in known else "{service}/{command}", request.headers
        ) as record:  # fmt: skip
            response = await handle(request)
            record.status = response.status
            record.error_code = request.get(ERROR_CODE, 0)
            return response

    return traced_handle
