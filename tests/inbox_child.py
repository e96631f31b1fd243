"""Helper process for tests/test_events_sigkill.py (not a test module).

    python tests/inbox_child.py STORE_PATH PORT LOG RUN

Receives webhooks on 127.0.0.1:PORT into the inbox at STORE_PATH and consumes `tim.events()`,
appending `RUN EVENT_ID` to LOG for each event it is handed (flushed at once), until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from aio_tim import Client


async def main(store_path: str, port: str, log_path: str, run: str) -> None:
    tim = Client(
        sdk_app_id=1400000000, user_id="bob", secret_key="k" * 32, base_url="http://127.0.0.1:9",
        store_path=store_path, webhook_token="trial-token",
    )  # fmt: skip
    await tim.open()
    await tim.listen(port=int(port))
    print("ready", flush=True)
    with open(log_path, "a", encoding="utf-8") as log:  # noqa: ASYNC230 (tiny appends, on purpose unbuffered)
        async for event in tim.events():
            log.write(f"{run} {event.id}\n")
            log.flush()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
