"""An async web service whose endpoint awaits `send_new_msg` and answers with the message id.

Run it against an embedded dev server (no flags) or a real TIM app (AIO_TIM_* variables):

    .venv/bin/python examples/web_service.py   # then: curl -d '{"to":"bob","text":"hi"}' localhost:8080/send

Bad input is a 400 naming the problem (a body that is not JSON, an empty text, an empty or
too-long UserID); a failure TIM reports is a 502 carrying TIM's code. See the "aiohttp service"
recipe in the docs for the pattern (one Client for the app's lifetime, opened in cleanup_ctx).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from aiohttp import web

import aio_tim
from aio_tim.devserver import DevServer

TIM_KEY = web.AppKey("tim", aio_tim.Client)


async def send(request: web.Request) -> web.Response:
    """POST /send {"to": USER, "text": TEXT} -> {"msg_id": ..., "seq": ..., "time": ...}."""
    try:
        body = await request.json()
    except ValueError:  # json.JSONDecodeError, or a body that is not UTF-8
        return web.json_response({"error": 'the body must be JSON: {"to": USER, "text": TEXT}'}, status=400)
    if not isinstance(body, dict):
        return web.json_response(
            {"error": 'the body must be a JSON object: {"to": ..., "text": ...}'}, status=400
        )
    try:
        sent = await request.app[TIM_KEY].msg.send_text(
            str(body.get("to", "")), aio_tim.ConvType.C2C, str(body.get("text", ""))
        )
    except aio_tim.UsageError as error:
        return web.json_response({"code": error.code, "desc": error.desc}, status=400)
    except aio_tim.TIMError as error:
        return web.json_response({"code": error.code, "desc": error.desc}, status=502)
    return web.json_response({"msg_id": sent.msg_id, "seq": sent.seq, "time": sent.server_time})


def make_app(tim_options: dict[str, object] | None = None) -> web.Application:
    """The service; with no options it brings up its own dev server."""
    app = web.Application()
    app.router.add_post("/send", send)

    async def tim_context(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            options = tim_options or await _dev_server_options(stack)
            app[TIM_KEY] = await stack.enter_async_context(aio_tim.Client(**options))  # type: ignore[arg-type]
            yield

    app.cleanup_ctx.append(tim_context)
    return app


async def _dev_server_options(stack: AsyncExitStack) -> dict[str, object]:
    if os.environ.get("AIO_TIM_URL"):
        return {
            "base_url": os.environ["AIO_TIM_URL"],
            "sdk_app_id": int(os.environ["AIO_TIM_SDK_APP_ID"]),
            "secret_key": os.environ["AIO_TIM_SECRET_KEY"],
            "user_id": os.environ.get("AIO_TIM_USER", "service"),
            "store_path": ":memory:",
        }
    server = await stack.enter_async_context(DevServer())
    return {
        "base_url": server.url,
        "sdk_app_id": server.sdk_app_id,
        "secret_key": server.secret_key,
        "user_id": "service",
        "store_path": ":memory:",
    }


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
