"""Issue 11: attacks on the dev server over loopback, each reproduced with its counts printed."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter

import aiohttp
import pytest

from aio_tim import ConvType, Message, MsgStatus, TextElem
from aio_tim.auth import mint_usersig
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


def signed_query(server: DevServer) -> dict[str, str]:
    usersig = mint_usersig(server.sdk_app_id, server.secret_key, server.admin)
    return garbage_query(server, usersig)


def batch_body(index: int, recipients: int) -> bytes:
    return json.dumps({
        "SyncOtherMachine": 2, "From_Account": "alice", "MsgRandom": index + 1,
        "To_Account": [f"r{index}_{n}" for n in range(recipients)],
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "flood"}}],
    }).encode()  # fmt: skip


async def test_cancelled_batch_floods_leave_the_server_responsive() -> None:
    """300 batch sends of 500 new recipients, cancelled 100 ms after the backlog filled: it is
    bounded (64 here; the excess is answered 60018 at once), the calls whose clients left are
    dropped when their turn comes, and a normal send right after is answered within seconds
    (the unbounded server answered 9520 timeouts for 80 s)."""
    async with DevServer(limits=None, max_pending=64) as server:
        query = signed_query(server)
        url = f"{server.url}/v4/openim/batchsendmsg"
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(index: int) -> int:
                body, headers = batch_body(index, 500), {"Content-Type": "application/json"}
                async with session.post(url, params=query, data=body, headers=headers) as response:
                    return int((await response.json())["ErrorCode"])

            tasks = [asyncio.create_task(post(i)) for i in range(300)]
            for _ in range(500):  # until the server holds a backlog (or some have been answered)
                if server.admission.pending >= 64 or any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            backlog = server.admission.pending
            done, pending = await asyncio.wait(tasks, timeout=0.1)
            for task in pending:
                task.cancel()
            answered = Counter(t.result() for t in done if not t.cancelled() and t.exception() is None)
            await asyncio.gather(*pending, return_exceptions=True)
        started = time.monotonic()
        async with client_for(server, "alice", limits=None) as tim:
            sent = await tim.msg.send_new_msg("bob", ConvType.C2C, TEXT)
        latency = time.monotonic() - started
        admission = server.admission
    print(f"\nbatch flood: 300 sent, backlog {backlog}, {len(pending)} cancelled 100 ms later, "
          f"answered {dict(answered)}; "
          f"refused at once {admission.refused}, dropped (client gone) {admission.abandoned}; "
          f"next send answered in {latency * 1000:.0f} ms")  # fmt: skip
    assert sent.status == MsgStatus.SEND_SUCC
    assert admission.refused + admission.abandoned > 0
    assert latency < 3.0


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_idle_and_slow_connections_are_closed(caplog: pytest.LogCaptureFixture) -> None:
    """200 idle sockets and 100 that trickle half a header are closed after the keep-alive
    timeout (0.5 s here; 15 s by default); 100 clients leaving mid-body log one DEBUG line each
    and no ERROR."""
    caplog.set_level(logging.DEBUG, logger="aio_tim.devserver")
    async with DevServer(keepalive_timeout=0.5) as server:
        query = "&".join(f"{k}={v}" for k, v in signed_query(server).items())
        opened = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(300)]
        for _, writer in opened[200:]:
            writer.write(b"POST /v4/openim/sendmsg HTTP/1.1\r\nHost: x\r\n")  # never finished
        closed = await asyncio.gather(*(closed_by_server(reader, 3.0) for reader, _ in opened))
        leaving = []
        for _ in range(100):
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            head = (
                f"POST /v4/openim/sendmsg?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            )
            writer.write(f"{head}Content-Length: 1000\r\n\r\n{{".encode())
            leaving.append(writer)
        await asyncio.sleep(0.2)
        for writer in leaving:
            writer.transport.abort()
        await asyncio.sleep(0.3)
        for _, writer in opened:
            writer.close()
    records = [r for r in caplog.records if r.name.startswith("aio_tim.devserver")]
    errors = sum(r.levelno >= logging.ERROR for r in records)
    gone = sum("client went away" in r.getMessage() for r in records)
    print(f"\nconnections: idle closed {sum(closed[:200])}/200, slow headers closed {sum(closed[200:])}/100; "
          f"100 clients left mid-body: {gone} DEBUG lines, {errors} ERROR records")  # fmt: skip
    assert all(closed)
    assert gone == 100 and errors == 0


@pytest.mark.parametrize(
    ("content_type", "contenttype", "code"),
    [("application/json", "json", 90003), ("text/plain", "json", 90003), ("application/xml", "json", 90001),
     ("multipart/form-data; boundary=x", "json", 90001), ("application/json", "xml", 60002)],
)  # fmt: skip
async def test_a_wrong_content_type_is_refused(
    dev_server: DevServer, content_type: str, contenttype: str, code: int
) -> None:
    """A body declared as non-JSON is refused as unparseable (90001) before it is read, and a
    `contenttype` other than json is a bad URL (60002); JSON-ish bodies reach the decoder."""
    query = signed_query(dev_server) | {"contenttype": contenttype}
    async with aiohttp.ClientSession() as session:
        url = f"{dev_server.url}/v4/openim/sendmsg"
        async with session.post(
            url, params=query, data=b"{}", headers={"Content-Type": content_type}
        ) as resp:
            assert (await resp.json())["ErrorCode"] == code
