"""Issue 11: attacks on the dev server over loopback, each reproduced with its counts printed."""

from __future__ import annotations

from collections import Counter

import aiohttp

from aio_tim.devserver import DevServer

DATA = bytes(range(256)) * 40


async def test_range_numbers_too_long_for_int_are_never_a_500(dev_server: DevServer) -> None:
    """Range positions of 19 to 8,000 digits (Python's int() refuses over 4,300): a first byte
    past the end is 416, a long last byte or suffix reads as "to the end"; never a 500."""
    stored = await dev_server.files.put(DATA)
    long = ["9" * n for n in (19, 4301, 5000, 8000)] + ["0" * 5000 + "7"]
    headers = [f"bytes={n}-" for n in long] + [f"bytes=0-{n}" for n in long] + [f"bytes=-{n}" for n in long]
    headers.append("bytes=\u0661-")  # an Arabic-Indic digit: not a Range number
    statuses: Counter[int] = Counter()
    bodies = []
    async with aiohttp.ClientSession() as session:
        for header in headers:
            async with session.get(stored.url, headers={"Range": header}) as response:
                statuses[response.status] += 1
                bodies.append((header[:12], response.status, len(await response.read())))
    print(f"\nRange attack: {len(headers)} requests -> statuses {dict(statuses)}")
    assert statuses[500] == 0
    # A range covering the whole file is answered as a plain 200.
    sizes = [(200 if (s, n) == (206, len(DATA)) else s, n) for _, s, n in bodies]
    whole, past_end = (200, len(DATA)), (416, 0)
    assert sizes[:5] == [past_end] * 4 + [(206, len(DATA) - 7)]  # "bytes=000...07-": from byte 7
    assert sizes[5:10] == [whole] * 4 + [(206, 8)]
    assert sizes[10:15] == [whole] * 4 + [(206, 7)]
    assert sizes[-1] == (200, len(DATA))
