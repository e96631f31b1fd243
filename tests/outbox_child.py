"""Helper process for tests/test_outbox.py's SIGKILL test (not a test module).

    python tests/outbox_child.py BASE_URL SDK_APP_ID SECRET_KEY ADMIN STORE_PATH COUNT PEERS

Opens `Client(outbox=True)` on STORE_PATH, enqueues COUNT messages round-robin to PEERS peers and
prints `index rand peer` after each acknowledged (committed) enqueue, then waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys

from aio_tim import Client, ConvType, Message, TextElem


async def main(argv: list[str]) -> None:
    base_url, app_id, key, admin, store_path, count, peers = argv
    tim = Client(
        sdk_app_id=int(app_id), user_id="alice", secret_key=key, base_url=base_url, admin=admin,
        store_path=store_path, outbox=True, limits=None,
    )  # fmt: skip
    await tim.open()
    out = sys.stdout
    for index in range(int(count)):
        peer = f"peer{index % int(peers)}"
        msg = Message(elem_array=[TextElem(content=f"m{index}")])
        queued = await tim.msg.enqueue_new_msg(peer, ConvType.C2C, msg)
        out.write(f"{index} {queued.rand} {peer}\n")
        out.flush()
    out.write("done\n")
    out.flush()
    await asyncio.sleep(3600)  # the test kills us


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
