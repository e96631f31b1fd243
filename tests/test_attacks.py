"""Issue 11: attacks on the dev server over loopback, each reproduced with its counts printed."""

from __future__ import annotations

from collections import Counter

import aiohttp

from aio_tim import ConvType, Message, MsgStatus, TextElem
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

DATA = bytes(range(256)) * 40
TEXT = Message(elem_array=[TextElem(content="hi")])


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


async def rest_codes(url: str, queries: list[dict[str, str]], source: str = "127.0.0.1") -> Counter[int]:
    """POST sendmsg-shaped junk with each query from `source`; count the ErrorCodes answered."""
    codes: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        for query in queries:
            async with session.post(f"{url}/v4/openim/sendmsg", params=query, json={}) as response:
                codes[int((await response.json())["ErrorCode"])] += 1
    return codes


def garbage_query(server: DevServer, usersig: str = "garbage") -> dict[str, str]:
    return {"sdkappid": str(server.sdk_app_id), "identifier": server.admin, "usersig": usersig,
            "random": "1", "contenttype": "json"}  # fmt: skip


async def test_garbage_usersigs_cannot_lock_the_admin_out(dev_server: DevServer) -> None:
    """30 garbage UserSigs naming the admin (no credentials needed) lock out only failing callers
    from the attacker's address: the admin's client keeps sending from the same address, and a
    failing caller from another address is not locked out."""
    attack = await rest_codes(dev_server.url, [garbage_query(dev_server)] * 30, source="127.0.0.2")
    async with client_for(dev_server, "alice") as tim:
        sent = [await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT) for _ in range(20)]
    elsewhere = await rest_codes(dev_server.url, [garbage_query(dev_server)], source="127.0.0.1")
    print(f"\n70050 attack: attacker answers {dict(attack)}; legitimate sends ok {len(sent)}/20; "
          f"a failing caller elsewhere {dict(elsewhere)}")  # fmt: skip
    assert attack[70050] == 20 and attack[70003] == 10  # locked out after its 10 failures
    assert all(m.status == MsgStatus.SEND_SUCC for m in sent)
    assert elsewhere == {70003: 1}  # its own allowance, not the attacker's lockout
