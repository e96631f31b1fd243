"""Helper process for tests/test_events_delivery.py (not a test module).

    python tests/listen_child.py STORE_PATH NOFILE OPTIONS_JSON

Lowers its file-descriptor limit to NOFILE, receives webhooks with `tim.listen(**OPTIONS)` and prints
the callback URL, then serves until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from aio_tim import Client


async def main(store_path: str, nofile: str, options: str) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(nofile), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    tim = Client(
        sdk_app_id=1400000000, user_id="bob", secret_key="k" * 32, base_url="http://127.0.0.1:9",
        store_path=store_path, webhook_token="a-token", clock=lambda: 1_700_000_000.0,
    )  # fmt: skip
    async with tim:
        print(await tim.listen(**json.loads(options)), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
