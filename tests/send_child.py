"""Helper process for tests/test_store_durability.py's SIGKILL test (not a test module).

    python tests/send_child.py BASE_URL SDK_APP_ID SECRET_KEY ADMIN STORE_PATH WORKERS PEERS

Opens a Client on the file STORE_PATH and runs WORKERS concurrent `send_new_msg` loops round-robin
over PEERS peers (so the store's group commit batches their saves), printing
`peer time seq rand` as soon as each send returns, until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from aio_tim import Client, ConvType, Message, TextElem


async def main(argv: list[str]) -> None:
    base_url, app_id, key, admin, store_path, workers, peers = argv
    tim = Client(
        sdk_app_id=int(app_id), user_id="alice", secret_key=key, base_url=base_url, admin=admin,
        store_path=store_path, limits=None,
    )  # fmt: skip
    await tim.open()
    out = sys.stdout
    counter = iter(range(10**9))

    async def worker() -> None:
        for index in counter:
            peer = f"peer{index % int(peers)}"
            msg = Message(elem_array=[TextElem(content=f"m{index}")])
            sent = await tim.msg.send_new_msg(peer, ConvType.C2C, msg)
            out.write(f"{peer} {sent.server_time} {sent.seq} {sent.rand}\n")
            out.flush()

    await asyncio.gather(*(worker() for _ in range(int(workers))))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
