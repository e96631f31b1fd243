"""The receiving process of benchmarks/soak_receive.py (not a benchmark of its own).

    python benchmarks/_soak_receiver.py STORE PORT LOG RUN [REDIS_URL]

Receives webhooks on 127.0.0.1:PORT (inbox in the SQLite store at STORE, or on Redis at REDIS_URL),
moderates before-send webhooks (a text containing "forbidden" is rejected, and so is anything not
decided in time: fail-closed) and consumes `tim.events()`, appending one line per event it is handed
to LOG (flushed at once): `RUN COMMAND MARK`, where MARK names the distinct event the soak sent.
It runs until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from aio_tim import Client, TextElem
from aio_tim.events import Event, Reject
from aio_tim.protocol import callbacks as cb

TOKEN = "soak-token"


def moderate(event: Event) -> Reject | None:
    """Reject a message whose text says "forbidden"; let everything else through."""
    texts = [
        e.content for e in (event.message.elem_array if event.message else []) if isinstance(e, TextElem)
    ]
    return Reject(info="forbidden word") if any("forbidden" in t for t in texts) else None


def mark_of(event: Event) -> str:
    """What names the distinct event the soak sent: a message's MsgKey, or a membership change's
    group and member."""
    body = event.body
    if event.message is not None:
        return event.message.msg_id or "?"
    if isinstance(body, cb.GroupAfterNewMemberJoin):
        return f"{body.GroupId}|{','.join(m.Member_Account for m in body.NewMemberList)}"
    if isinstance(body, cb.GroupAfterMemberExit):
        return f"{body.GroupId}|{','.join(m.Member_Account for m in body.ExitMemberList)}"
    return "-"


async def main(store: str, port: str, log_path: str, run: str, redis_url: str = "") -> None:
    coordinator = None
    if redis_url:
        from aio_tim.coordination import RedisCoordinator

        coordinator = RedisCoordinator(redis_url, visibility_timeout=2.0)
    tim = Client(
        sdk_app_id=1400000000, user_id="bob", secret_key="k" * 32, base_url="http://127.0.0.1:9",
        store_path=store, webhook_token=TOKEN, coordinator=coordinator,
    )  # fmt: skip
    await tim.open()
    tim.on_before_send(moderate, timeout=1.0, on_timeout="reject")
    await tim.listen(port=int(port))
    print("ready", flush=True)
    with open(log_path, "a", encoding="utf-8") as log:  # noqa: ASYNC230 (tiny appends, unbuffered on purpose)
        async for event in tim.events():
            log.write(f"{run} {event.command} {mark_of(event)}\n")
            log.flush()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
