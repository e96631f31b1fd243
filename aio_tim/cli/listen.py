"""`aio-tim listen`: receive TIM's webhooks and print each event as one JSON line.

    aio-tim listen --port 8080 --user bob --token s3cret     # then point TIM's callback URL at it
    aio-tim serve --webhook-url http://127.0.0.1:8080/tim/callback --webhook-token s3cret

Events are committed to the user's local store before TIM gets its answer; a restarted `listen`
resumes after the last event it printed (`--consumer` names the cursor). With `--forward-to URL`
it relays each webhook to the user's own handler instead (`forward`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from ..client import Client
from ..events.model import Event, RawCallback
from ..types import encode
from .commands import add_command
from .options import add_target_options, at_least, option, port
from .target import target_of

__all__ = ["event_json", "register", "run_listen"]


def register(commands: Any) -> None:
    listen = add_command(
        commands,
        "listen",
        "Receive TIM's webhooks (verified, committed to the inbox) and print each event as a "
        "JSON line; a restart resumes after the last event printed.",
    )
    add_target_options(listen)
    listen.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    listen.add_argument("--port", type=port, default=8080, help="0 picks a free port (default: 8080)")
    listen.add_argument("--path", type=url_path, default="/tim/callback",
                        help="the callback URL's path (default: /tim/callback)")  # fmt: skip
    option(listen, "--token", env="AIO_TIM_WEBHOOK_TOKEN",
           help="the webhook authentication token, if the app has one")  # fmt: skip
    listen.add_argument("--store", default=None, help="sqlite file of the inbox (default: the user's store)")
    listen.add_argument("--consumer", default="cli", help="whose acknowledgement cursor to resume")
    listen.add_argument("--count", type=at_least(0), default=0, help="stop after this many events (0: never)")
    listen.add_argument("--forward-to", metavar="URL", default=None,
                        help="relay each webhook to your handler at URL instead (re-signed with --token), "
                             "printing one line per delivery")  # fmt: skip
    option(listen, "--inbound-token", env="AIO_TIM_INBOUND_WEBHOOK_TOKEN",
           help="with --forward-to: the token senders sign with, if not --token")  # fmt: skip
    listen.set_defaults(run=run_listen)


def url_path(text: str) -> str:
    """An argparse type: a URL path, "/" and what follows."""
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL path; did you mean /{text}?")
    return text


def event_json(event: Event) -> bytes:
    """One line: command, id, position, the message in C SDK JSON (or null) and the body."""
    body = event.body.fields if isinstance(event.body, RawCallback) else msgspec.to_builtins(event.body)
    message = None if event.message is None else msgspec.json.decode(encode(event.message))
    record = {"command": event.command, "id": event.id, "position": event.position,
              "message": message, "body": body}  # fmt: skip
    return msgspec.json.encode(record)


async def run_listen(args: argparse.Namespace) -> int:
    if args.forward_to is not None:
        from .forward import run_forward  # the relay needs no Client, store or server record

        return await run_forward(args)
    target = target_of(args)
    user = args.user or target.admin
    tim = Client(
        sdk_app_id=target.sdk_app_id, user_id=user, secret_key=target.secret_key, base_url=target.url,
        admin=target.admin, store_path=args.store, webhook_token=args.token,
    )  # fmt: skip
    async with tim:
        url = await tim.listen(args.host, args.port, args.path)
        print(f"listening for TIM's webhooks at {url} (as {user})", file=sys.stderr, flush=True)
        seen = 0
        async for event in tim.events(args.consumer):
            sys.stdout.buffer.write(event_json(event) + b"\n")
            sys.stdout.flush()
            seen += 1
            if seen == args.count:
                await event.ack()
                break
    return 0
