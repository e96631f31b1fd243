"""`aio-tim faults`: switch a running dev server's faults and rate limits from the shell.

    aio-tim faults add openim/sendmsg --code 60018 --count 2     # the next two sends: throttled
    aio-tim faults add '*' --latency-ms 300 --share 0.5           # half of all calls: 300 ms late
    aio-tim faults add C2C.CallbackAfterSendMsg --webhook --code 503 --count 1
    aio-tim faults list
    aio-tim faults remove f3
    aio-tim faults clear
    aio-tim faults limits off                                     # (on again: `limits on`)

`--server` (default: the running `aio-tim serve`) names the dev server; requests are signed as
its admin when the credentials are known (flags, AIO_TIM_* or the serve record), which a server
bound beyond loopback requires.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import aiohttp

from ..auth import mint_usersig
from . import records
from .commands import add_command
from .console import console
from .errors import CliError, ExitCode
from .options import at_least, option

__all__ = ["register", "run_faults"]

_TIMEOUT = aiohttp.ClientTimeout(total=15)


def register(commands: Any) -> None:
    faults = add_command(commands, "faults",
                         "Make a running dev server answer TIM error codes, add latency, fail webhook "
                         "deliveries, or switch its rate limits off, on purpose.")  # fmt: skip
    common = argparse.ArgumentParser(add_help=False)  # every action takes them, after its name
    _server_options(common)
    actions = faults.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a fault; prints its id", parents=[common])
    add.add_argument("endpoint", help='"service/command" (or a CallbackCommand with --webhook), or "*"')
    add.add_argument("--code", type=at_least(1), default=None,
                     help="TIM ErrorCode to answer (--webhook: HTTP status to fail with)")  # fmt: skip
    add.add_argument("--count", type=at_least(1), default=None, help="only the next N calls (default: all)")
    add.add_argument("--share", type=_share, default=None, help="only this share of calls, 0 < S <= 1")
    add.add_argument("--latency-ms", type=at_least(0), default=0, help="hold each picked call back")
    add.add_argument("--webhook", action="store_true", help="apply to webhook deliveries, not REST calls")
    actions.add_parser("list", help="the faults in force", parents=[common])
    remove = actions.add_parser("remove", help="remove one fault by id", parents=[common])
    remove.add_argument("fault_id", help="the id `add` printed (f1, f2, ...)")
    actions.add_parser("clear", help="remove every fault", parents=[common])
    limits = actions.add_parser(
        "limits", help="switch TIM's call frequency limits on or off", parents=[common]
    )
    limits.add_argument("state", choices=("on", "off"), help="on: enforce TIM's limits; off: no limits")
    faults.set_defaults(run=run_faults)


def _server_options(parser: argparse.ArgumentParser) -> None:
    option(parser, "--server", env="AIO_TIM_URL", dest="server",
           help="the dev server's URL (default: the running `aio-tim serve`)")  # fmt: skip
    option(parser, "--sdk-app-id", env="AIO_TIM_SDK_APP_ID", type=at_least(1), help="to sign as the admin")
    option(parser, "--secret-key", env="AIO_TIM_SECRET_KEY", help="to sign as the admin")
    option(parser, "--admin", env="AIO_TIM_ADMIN", help="the admin's UserID (default: administrator)")


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not above 0 and at most 1")
    return value


async def run_faults(args: argparse.Namespace) -> int:
    base, query = _where(args)
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
        call = _DevCall(http, base, query)
        if args.action == "add":
            fault_id = (await call("POST", "/faults", _fault_body(args)))["id"]
            console.print(fault_id, highlight=False)
        elif args.action == "list":
            _print_faults((await call("GET", "/faults"))["faults"])
        elif args.action == "remove":
            await call("DELETE", f"/faults/{args.fault_id}")
        elif args.action == "clear":
            removed = (await call("DELETE", "/faults"))["removed"]
            console.print(f"removed {removed} fault{'s' * (removed != 1)}", highlight=False)
        else:
            enabled = (await call("POST", "/limits", {"enabled": args.state == "on"}))["enabled"]
            console.print(f"rate limits {'on' if enabled else 'off'}", highlight=False)
    return 0


def _fault_body(args: argparse.Namespace) -> dict[str, Any]:
    return {"endpoint": args.endpoint, "error_code": args.code, "count": args.count, "share": args.share,
            "latency_ms": args.latency_ms, "webhook": args.webhook}  # fmt: skip


def _print_faults(faults: list[dict[str, Any]]) -> None:
    if not faults:
        console.print("no faults", highlight=False)
    for fault in faults:
        what = f"{'webhook ' if fault['webhook'] else ''}{fault['endpoint']}"
        parts = [fault["id"], what]
        if fault["error_code"] is not None:
            parts.append(f"code={fault['error_code']}")
        if fault["latency_ms"]:
            parts.append(f"latency={fault['latency_ms']}ms")
        if fault["share"] is not None:
            parts.append(f"share={fault['share']:g}")
        if fault["count"] is not None:
            parts.append(f"remaining={fault['remaining']}/{fault['count']}")
        console.print("  ".join(parts), highlight=False, soft_wrap=True)


def _where(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """The server's base URL, and the admin's signature when its credentials are known."""
    live, _ = records.read_records()
    saved = next((r for r in live if not args.server or r.url == args.server.rstrip("/")), None)
    url = args.server or (saved and saved.url)
    if not url or not url.startswith(("http://", "https://")):
        given = f"--server {url!r} must start with http:// or https://" if url else "no server given"
        raise CliError(f"{given}; start one with `aio-tim serve`, or pass --server URL")
    sdk_app_id = args.sdk_app_id or (saved and saved.sdk_app_id)
    key = args.secret_key or (saved and saved.secret_key)
    admin = args.admin or (saved and saved.admin) or "administrator"
    if not (sdk_app_id and key):
        return url.rstrip("/"), {}
    usersig = mint_usersig(int(sdk_app_id), key, admin, expire=300)
    return url.rstrip("/"), {"sdkappid": str(sdk_app_id), "identifier": admin, "usersig": usersig}


class _DevCall:
    def __init__(self, http: aiohttp.ClientSession, base: str, query: dict[str, str]) -> None:
        self._http, self._base, self._query = http, base, query

    async def __call__(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self._base}/_dev{path}"
        try:
            async with self._http.request(method, url, params=self._query, json=body) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise CliError(f"cannot reach {self._base} ({reason}): is `aio-tim serve` running?",
                           ExitCode.UNREACHABLE) from None  # fmt: skip
        answer = _json(text)
        if response.status == 404 and "error" not in answer:
            raise CliError(
                f"{self._base} has no fault switches: is it an aio_tim dev server?", ExitCode.REFUSED
            )
        if response.status >= 400:
            code = ExitCode.AUTH if response.status in (401, 403) else ExitCode.REFUSED
            raise CliError(f"faults: {answer.get('error', text)} (HTTP {response.status})", code)
        return answer


def _json(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
