"""An echo bot: an aiohttp service that receives TIM's webhooks and answers every message it gets.

One command runs it against an embedded dev server, sends it a message and shows the answer:

    .venv/bin/python examples/echo_bot.py --demo

Without `--demo` it keeps serving (Ctrl-C stops); against a real TIM app, set AIO_TIM_URL,
AIO_TIM_SDK_APP_ID, AIO_TIM_SECRET_KEY (and AIO_TIM_WEBHOOK_TOKEN if the app signs its webhooks),
and point the app's callback URL at http://HOST:PORT/tim/callback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

from aiohttp import web

import aio_tim
from aio_tim.devserver import DevServer
from aio_tim.protocol.callbacks import C2C_AFTER_SEND_MSG

BOT = "echo-bot"


async def echo_forever(tim: aio_tim.Client) -> None:
    """Answer each message sent to the bot with the same elements, prefixed by "echo: " for text."""
    async for event in tim.events(commands={C2C_AFTER_SEND_MSG}):
        msg = event.message
        if msg is None or msg.is_from_self or msg.conv_id is None:
            continue  # our own answers come back as webhooks too
        reply = aio_tim.Message(elem_array=[_echo(elem) for elem in msg.elem_array])
        await tim.msg.send_new_msg(msg.conv_id, aio_tim.ConvType.C2C, reply)
        # Acknowledged when the loop asks for the next event: a crash here means one more echo
        # after the restart, never a lost message.


def _echo(elem: aio_tim.types.Elem) -> aio_tim.types.Elem:
    if isinstance(elem, aio_tim.TextElem):
        return aio_tim.TextElem(content=f"echo: {elem.content}")
    return elem


def make_app(tim: aio_tim.Client) -> web.Application:
    """The bot's web app: TIM's webhooks at /tim/callback, and the echo loop as a background task."""
    app = web.Application()
    app.router.add_post("/tim/callback", tim.webhook_handler)

    async def echo_task(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(echo_forever(tim))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(echo_task)
    return app


async def main(argv: list[str] | None = None) -> str | None:
    """Run the bot; with --demo, send it one message as alice and return its answer."""
    args = _parse(argv)
    async with contextlib.AsyncExitStack() as stack:
        server, options = await _target(stack)
        tim = await stack.enter_async_context(aio_tim.Client(user_id=BOT, **options))  # type: ignore[arg-type]
        runner = web.AppRunner(make_app(tim), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/tim/callback"
        if server is not None:
            server.set_webhook(url, commands={C2C_AFTER_SEND_MSG})
        print(f"echo bot {BOT!r} receiving webhooks at {url}", flush=True)
        if args.demo:
            return await _demo(options, args.text)
        await asyncio.Event().wait()
    return None


async def _demo(options: dict[str, object], text: str) -> str:
    async with aio_tim.Client(user_id="alice", **options) as alice:  # type: ignore[arg-type]
        await alice.msg.send_new_msg(
            BOT, aio_tim.ConvType.C2C, aio_tim.Message(elem_array=[aio_tim.TextElem(content=text)])
        )
        print(f"alice -> {BOT}: {text}")
        answer = await _first_answer(alice)
        print(f"{BOT} -> alice: {answer}")
        return answer


async def _first_answer(alice: aio_tim.Client) -> str:
    """Poll alice's roaming history for the bot's answer (alice has no webhook receiver here)."""
    param = aio_tim.GetMsgListParam(count=5, is_remble=True)
    async with asyncio.timeout(10):
        while True:
            for msg in await alice.msg.get_msg_list(BOT, aio_tim.ConvType.C2C, param):
                if msg.sender == BOT and isinstance(msg.elem_array[0], aio_tim.TextElem):
                    return msg.elem_array[0].content
            await asyncio.sleep(0.05)


async def _target(stack: contextlib.AsyncExitStack) -> tuple[DevServer | None, dict[str, object]]:
    """A real TIM app from AIO_TIM_* variables, or an embedded dev server."""
    common = {"store_path": ":memory:", "limits": None}
    if os.environ.get("AIO_TIM_URL"):
        return None, common | {
            "base_url": os.environ["AIO_TIM_URL"],
            "sdk_app_id": int(os.environ["AIO_TIM_SDK_APP_ID"]),
            "secret_key": os.environ["AIO_TIM_SECRET_KEY"],
            "webhook_token": os.environ.get("AIO_TIM_WEBHOOK_TOKEN"),
        }
    server = await stack.enter_async_context(DevServer())
    return server, common | {
        "base_url": server.url, "sdk_app_id": server.sdk_app_id, "secret_key": server.secret_key,
    }  # fmt: skip


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="send one message as alice and show the echo")
    parser.add_argument("--text", default="hello, bot")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8081")))
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
