"""`aio-tim trigger`: fire one realistic, signed TIM callback at the app's own handler.

    aio-tim trigger C2C.CallbackBeforeSendMsg --to http://127.0.0.1:8080/tim/callback --token s3cret
    aio-tim trigger Group.CallbackAfterSendMsg --to URL --set GroupId=team --set MsgBody.0.MsgContent.Text=hi
    aio-tim trigger --list

It prints the handler's answer, how long it took, and whether it is a valid TIM callback answer
(exit 0), or what is wrong with it (exit 5).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import socket
import sys
import time
from typing import Any

import aiohttp

from ..protocol import callbacks as cb
from . import callback_kit as kit
from .commands import add_command
from .errors import CliError, ExitCode
from .options import at_least, option

__all__ = ["reason", "register", "run_trigger"]


def register(commands: Any) -> None:
    trigger = add_command(commands, "trigger",
                          "Fire a realistic, signed TIM callback (a body as TIM's page shows it, times now) "
                          "at your handler; print its answer and whether TIM would accept it.")  # fmt: skip
    trigger.add_argument("command", nargs="?", metavar="COMMAND",
                         help=f"a CallbackCommand, e.g. {cb.C2C_BEFORE_SEND_MSG} (see --list)")  # fmt: skip
    trigger.add_argument("--to", metavar="URL", help="your handler's URL (http:// or https://)")
    option(trigger, "--token", env="AIO_TIM_WEBHOOK_TOKEN",
           help="sign with this webhook token (RequestTime, Sign), as TIM does when one is set")  # fmt: skip
    trigger.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                         help="change a field (VALUE is JSON when it parses, else text; "
                              "a dotted KEY reaches inside: MsgBody.0.MsgContent.Text=hi)")  # fmt: skip
    option(trigger, "--sdk-app-id", env="AIO_TIM_SDK_APP_ID", type=at_least(1), default=1400000000,
           help="the SdkAppid in the query (default: 1400000000)")  # fmt: skip
    trigger.add_argument(
        "--timeout", type=_seconds, default=5.0, help="seconds to wait for the answer (default: 5)"
    )
    trigger.add_argument("--show-body", action="store_true", help="print the body sent, too")
    trigger.add_argument("--list", action="store_true", help="list the commands and exit")
    trigger.set_defaults(run=run_trigger)


def _seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


async def run_trigger(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(kit.COMMANDS))
        return 0
    command, url = _command(args.command), _url(args.to)
    body = kit.sample_body(command)
    for assignment in args.sets:
        try:
            kit.apply_set(body, assignment)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.show_body:
        print(json.dumps(body, ensure_ascii=False))
    status, raw, seconds = await _post(
        url, kit.signed_query(command, args.sdk_app_id, args.token or None), body, args
    )
    print(f"HTTP {status} in {seconds * 1000:.0f} ms")
    print(raw.decode("utf-8", "replace"))
    return _report(command, status, raw, seconds)


def _command(name: str | None) -> str:
    if not name:
        raise CliError("name a CallbackCommand (aio-tim trigger --list names them)")
    if name in kit.COMMANDS:
        return name
    close = difflib.get_close_matches(name, kit.COMMANDS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else " (aio-tim trigger --list names them)"
    raise CliError(f"unknown CallbackCommand {name!r}{hint}")


def _url(url: str | None) -> str:
    if not url:
        raise CliError("--to URL: where your handler listens, e.g. http://127.0.0.1:8080/tim/callback")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--to {url!r} must start with http:// or https://")
    return url


async def _post(url: str, query: dict[str, str], body: dict[str, Any], args: argparse.Namespace
                ) -> tuple[int, bytes, float]:  # fmt: skip
    data = json.dumps(body, ensure_ascii=False).encode()
    started = time.monotonic()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=args.timeout)) as http,
            http.post(url, params=query, data=data, headers={"Content-Type": "application/json"}) as got,
        ):
            raw = await got.read()
    except TimeoutError:
        raise CliError(f"{url} did not answer within {args.timeout:g} s", ExitCode.UNREACHABLE) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise CliError(f"cannot reach {url} ({reason(exc)})", ExitCode.UNREACHABLE) from None
    return got.status, raw, time.monotonic() - started


def _report(command: str, status: int, raw: bytes, seconds: float) -> int:
    problems = kit.answer_problems(command, status, raw)
    if command in cb.BEFORE_COMMANDS and seconds > cb.BEFORE_TIMEOUT:
        problems.append(
            f"answered after {seconds:.1f} s: TIM waits {cb.BEFORE_TIMEOUT:g} s, then lets the message pass"
        )
    if problems:
        print("not a valid TIM callback answer:", file=sys.stdout)
        for problem in problems:
            print(f"  - {problem}")
        return int(ExitCode.REFUSED)
    print(f"valid TIM callback answer: {kit.verdict(command, raw)}")
    return 0


def reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused", not aiohttp's paragraph)."""
    cause = getattr(exc, "os_error", None) or exc
    if isinstance(cause, socket.gaierror):
        return "unknown host"
    if isinstance(cause, OSError) and (cause.errno or cause.strerror):
        return (os.strerror(cause.errno) if cause.errno else str(cause.strerror)).lower()
    return str(exc) or type(exc).__name__
