"""`aio-tim listen --forward-to URL`: relay every webhook to the app's own handler, re-signed.

    aio-tim listen --forward-to http://127.0.0.1:3000/tim/callback --token s3cret --port 8080
    aio-tim serve --webhook-url http://127.0.0.1:8080/tim/callback --webhook-token s3cret

Webhooks come from the dev server, or from TIM through a tunnel the user runs. With `--token` an
incoming callback must carry TIM's signature for it (`--inbound-token` when the sender signs with
another), fresh within a minute; each is passed on with the same query and body and a new
`RequestTime` and `Sign` for `--token`, so a handler that checks the replay window accepts it
however long it was on its way. The sender gets the handler's answer (status, body) back; a
handler that is down or slow gets the sender a 502. One line per delivery on stdout:

    12:00:01  C2C.CallbackBeforeSendMsg  200 {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}  4 ms
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Final

import aiohttp
from aiohttp import web

from ..protocol import callbacks as cb
from . import callback_kit as kit
from .errors import CliError
from .trigger import reason

__all__ = ["Relay", "run_forward"]

MAX_BODY: Final = 1024 * 1024
FORWARD_TIMEOUT: Final = 10.0  # seconds; TIM itself gives up sooner (2 s before-send, 5 s after)
_ANSWER_SHOWN: Final = 300  # characters of the handler's answer on a delivery's line


class Relay:
    """The aiohttp handler: check the sender's signature, forward, answer with the handler's answer."""

    def __init__(self, target: str, token: str | None, inbound_token: str | None, count: int = 0) -> None:
        self._target = target
        self._token = token
        self._inbound_token = inbound_token
        self._count = count
        self._session: aiohttp.ClientSession | None = None
        self.handled = 0
        self.done = asyncio.Event()

    async def __aenter__(self) -> Relay:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.Response:
        command = request.query.get("CallbackCommand", "?")
        refusal = self._check_sender(request)
        if refusal is not None:
            _line(command, f"refused: {refusal}")
            self._count_one()
            return web.json_response({"error": refusal}, status=401)
        body = await request.read()
        started = time.monotonic()
        try:
            status, answer, media = await self._forward(request, command, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = "no answer within 10 s" if isinstance(exc, TimeoutError) else reason(exc)
            _line(command, f"failed: {why} ({self._target}); the sender gets 502")
            self._count_one()
            return web.json_response({"error": f"the handler failed: {why}"}, status=502)
        _line(command, _described(command, status, answer, time.monotonic() - started))
        self._count_one()
        return web.Response(status=status, body=answer, content_type=media)

    def _check_sender(self, request: web.Request) -> str | None:
        """Why the sender's signature does not hold (None: it holds, or none is asked for)."""
        token = self._inbound_token if self._inbound_token is not None else self._token
        if token is None:
            return None
        request_time, given = request.query.get("RequestTime", ""), request.query.get("Sign", "")
        if not (request_time and given):
            return "unsigned (no RequestTime and Sign) while a token is set"
        if not request_time.isdigit() or abs(time.time() - int(request_time)) > cb.MAX_CLOCK_SKEW:
            return "RequestTime is more than a minute away (a replay, or a wrong clock)"
        if not cb.sign_matches(token, request_time, given):
            return "Sign does not match the token"
        return None

    async def _forward(self, request: web.Request, command: str, body: bytes) -> tuple[int, bytes, str]:
        assert self._session is not None
        query = {k: v for k, v in request.query.items() if k not in ("RequestTime", "Sign")}
        if self._token is not None:
            signed = kit.signed_query(command, 0, self._token)  # a fresh RequestTime, and its Sign
            query |= {"RequestTime": signed["RequestTime"], "Sign": signed["Sign"]}
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._session.post(self._target, params=query, data=body, headers=headers) as got:
            return got.status, await got.read(), got.content_type or "application/json"

    def _count_one(self) -> None:
        """One more webhook handled (relayed, refused or failed): `--count` stops after N."""
        self.handled += 1
        if self._count and self.handled >= self._count:
            self.done.set()


def _described(command: str, status: int, answer: bytes, seconds: float) -> str:
    text = " ".join(answer.decode("utf-8", "replace").split())
    shown = text if len(text) <= _ANSWER_SHOWN else text[:_ANSWER_SHOWN] + "..."
    problems = kit.answer_problems(command, status, answer)
    verdict = f"  (not a valid TIM answer: {'; '.join(problems)})" if problems else ""
    return f"{status} {shown}  {seconds * 1000:.0f} ms{verdict}"


def _line(command: str, what: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')}  {command}  {what}\n")
    sys.stdout.flush()


async def run_forward(args: argparse.Namespace) -> int:
    target = args.forward_to
    if not target.startswith(("http://", "https://")):
        raise CliError(f"--forward-to {target!r} must start with http:// or https://")
    # An empty token (a variable set to "") is no token, as `serve --webhook-token` refuses "".
    async with Relay(target, args.token or None, args.inbound_token or None, args.count) as relay:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(args.path, relay.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, args.host, args.port).start()
            host, port = runner.addresses[0][:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"forwarding webhooks from http://{shown}:{port}{args.path} to {target}",
                  file=sys.stderr, flush=True)  # fmt: skip
            await relay.done.wait()
        finally:
            await runner.cleanup()
    return 0
