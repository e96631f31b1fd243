"""Helper process for tests/test_events_delivery.py (not a test module): slowloris clients.

    python tests/slowloris_child.py PORT CONNECTIONS RECONNECT

Each client sends a request line, then a header line every 0.3 s and never the blank line; when the
server closes it, it connects again RECONNECT seconds later. Prints "ready" once every client has
connected once, and, when its stdin closes, the counts as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter


async def trickle(port: int, reconnect: float, stop: asyncio.Event, counts: Counter[str]) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["connect failed"] += 1
            await asyncio.sleep(reconnect)
            continue
        counts["opened"] += 1
        writer.write(b"POST /tim/callback HTTP/1.1\r\nHost: x\r\n")
        try:
            while not stop.is_set():
                try:
                    if not await asyncio.wait_for(reader.read(1024), 0.3):
                        counts["closed by the server"] += 1
                        break
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
        except OSError:
            counts["closed by the server"] += 1
        finally:
            writer.close()
        await asyncio.sleep(reconnect)


async def main(port: str, connections: str, reconnect: str) -> None:
    stop, counts, total = asyncio.Event(), Counter[str](), int(connections)
    clients = [asyncio.create_task(trickle(int(port), float(reconnect), stop, counts)) for _ in range(total)]
    await asyncio.sleep(0)
    for _ in range(600):  # up to 30 s for every client to connect once
        if counts["opened"] + counts["connect failed"] >= total:
            break
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await asyncio.gather(*clients)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
