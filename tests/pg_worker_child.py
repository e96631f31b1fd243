"""One worker of tests/test_pg_workers.py: a Client whose store is the shared PostgreSQL schema.
Not a test module. Driven by lines on stdin; answers one JSON line per command.

    (at start it listens for webhooks and prints their URL: received messages go to the shared inbox)
    send N      send N messages to peer0..peer3 (send_new_msg) and save N/4 from each peer as received
    dump        every peer's history as get_msg_list pages it (rands, newest first), count, unread
    read PEER   report the conversation with PEER read
    quit
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from aio_tim import Client, ConvType, Message, MsgStatus, TextElem
from aio_tim.pgstore import PgStore

PEERS = [f"peer{i}" for i in range(4)]


async def send(tim: Client, count: int, name: str) -> dict[str, int]:
    sends = [tim.msg.send_text(PEERS[i % 4], ConvType.C2C, f"{name} {i}") for i in range(count)]
    await asyncio.gather(*sends)
    for i in range(count // 4):  # what a receiving worker saves of the peers' messages
        for peer in PEERS:
            incoming = Message(elem_array=[TextElem(content=f"{peer} to {name} {i}")], sender=peer)
            incoming.server_time, incoming.seq, incoming.rand = (
                1_700_000_000 + i,
                i + 1,
                hash((name, peer, i)) % 2**31,
            )
            await tim.store.save((int(ConvType.C2C), peer), incoming, status=int(MsgStatus.SEND_SUCC))
    return {"sent": count}


async def dump(tim: Client) -> dict[str, object]:
    found: dict[str, object] = {}
    for peer in PEERS:
        page = await tim.msg.get_msg_list(peer, ConvType.C2C, {"msg_getmsglist_param_count": 100_000})
        conv = (int(ConvType.C2C), peer)
        found[peer] = {
            "rands": [m.rand for m in page],
            "keys": [[m.server_time, m.seq, m.rand] for m in page],
            "count": await tim.store.count(conv),
            "unread": await tim.store.unread_count(conv),
        }
    return found


async def main() -> None:
    url, schema, base_url, app, name = sys.argv[1:6]
    store = PgStore(url, sdk_app_id=int(app), user_id="alice", schema=schema, pool_size=4)
    secret, token = os.environ["AIO_TIM_SECRET_KEY"], os.environ["AIO_TIM_WEBHOOK_TOKEN"]
    async with Client(
        sdk_app_id=int(app), user_id="alice", secret_key=secret, base_url=base_url, store=store, limits=None,
        webhook_token=token,
    ) as tim:  # fmt: skip
        print(json.dumps({"ready": name, "webhooks": await tim.listen()}), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            command, _, argument = line.strip().partition(" ")
            if command == "send":
                answer: object = await send(tim, int(argument), name)
            elif command == "dump":
                answer = await dump(tim)
            elif command == "read":
                await tim.msg.report_readed(argument, ConvType.C2C)
                answer = {"read": argument}
            else:
                break
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
