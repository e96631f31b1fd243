"""Helpers of the inspector's browser tests: Debian's chromium, a plain webhook receiver, raw REST
calls signed as the admin, and a recorder of everything the page received."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SCREENSHOTS = os.environ.get("AIO_TIM_INSPECTOR_SCREENSHOTS")  # docs/img: how the docs' pictures are made

# Every EventSource message the page gets, kept where the test can read it (the stream never
# ends, so playwright cannot hand over its body).
RECORD_SSE = """
(() => {
  window.__sse = [];
  const Original = window.EventSource;
  window.EventSource = function (url, options) {
    const source = new Original(url, options);
    const keep = (event) => window.__sse.push(String(event.data));
    source.addEventListener("message", keep);
    source.addEventListener("reset", keep);
    return source;
  };
  window.EventSource.prototype = Original.prototype;
})();
"""


def browser_or_skip() -> str:
    """Debian's chromium; under CI its absence fails the run, elsewhere the test is skipped."""
    has_playwright = importlib.util.find_spec("playwright") is not None
    missing = [what for what, ok in (("chromium", CHROMIUM), ("playwright", has_playwright)) if not ok]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install chromium; pip install playwright)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert CHROMIUM is not None
    return CHROMIUM


def screenshot_path(tmp_path: Path, name: str) -> str:
    """Where a screenshot goes: docs/img when AIO_TIM_INSPECTOR_SCREENSHOTS names it, else tmp_path."""
    return str(Path(SCREENSHOTS) / name) if SCREENSHOTS else str(tmp_path / name)


def tiny_png(path: Path, size: int = 24) -> Path:
    """A real PNG (a blue square), so the thumbnail the page shows is an image the browser decodes."""
    row = b"\x00" + b"\x1f\x5f\xbf" * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


class Receiver:
    """A plain aiohttp webhook handler (not aio_tim's receiver): records each POST, answers OK,
    or HTTP 500 while `failing` is above zero."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.failing = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.query), json.loads(await request.read())))
        if self.failing > 0:
            self.failing -= 1
            return web.Response(status=500, text="handler crashed")
        return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    handler = Receiver()
    app = web.Application()
    app.router.add_post("/hook", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield handler, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


# A dev server of its own process (no rate limits), with group "busy" created a day ago so that
# history can be imported into it: the load a test makes then does not share the server's core.
# On "journal RATE SECONDS" (stdin) it records RATE sends a second straight into its journal, as
# the REST front would, and answers "done N": what the page receives at exactly that rate, with
# no REST work on the machine's cores.
_CHILD = """
import asyncio, json, sys, time
from types import SimpleNamespace
from aio_tim.devserver import DevServer

async def journal_flood(server, rate, seconds):
    started, total = time.perf_counter(), int(rate * seconds)
    for n in range(total):
        call = SimpleNamespace(From_Account=f"sender{n % 20}", To_Account="alice")
        server.journal.rest_call("openim/sendmsg", server.admin, 0, 0.001, call)
        ahead = started + (n + 1) / rate - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return total, time.perf_counter() - started

async def main():
    async with DevServer(enforce_limits=False) as server:
        await server.create_group("busy", owner="alice", members=["bob"], name="Busy group",
                                  created=int(time.time()) - 86400)
        keys = ("url", "sdk_app_id", "secret_key", "admin", "inspector_url")
        print(json.dumps({key: getattr(server, key) for key in keys}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            _, rate, seconds = line.split()
            total, took = await journal_flood(server, float(rate), float(seconds))
            print(f"done {total} {took}", flush=True)

asyncio.run(main())
"""


@contextmanager
def server_process() -> Iterator[SimpleNamespace]:
    """A DevServer in a child process: its url, sdk_app_id, secret_key, admin and inspector_url."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        assert line, "the dev server process printed nothing"
        yield SimpleNamespace(**json.loads(line), process=child)
    finally:
        child.terminate()
        child.wait(timeout=10)
        for pipe in (child.stdout, child.stdin):
            if pipe is not None:
                pipe.close()


async def journal_flood(server: SimpleNamespace, rate: int, seconds: float) -> tuple[int, float]:
    """Have the server process record `rate` sends a second into its journal for `seconds`;
    (entries recorded, seconds it took)."""
    child = server.process
    child.stdin.write(f"journal {rate} {seconds}\n")
    child.stdin.flush()
    line = await asyncio.to_thread(child.stdout.readline)
    _, total, took = line.split()
    return int(total), float(took)


class Rest:
    """Raw REST calls signed with one known admin UserSig (`usersig`), to look for on the page."""

    def __init__(self, server: DevServer | SimpleNamespace, session: aiohttp.ClientSession) -> None:
        self.usersig = mint_usersig(server.sdk_app_id, server.secret_key, server.admin)
        self._server = server
        self._session = session
        self._query = {
            "sdkappid": str(server.sdk_app_id), "identifier": server.admin, "usersig": self.usersig,
            "random": "1", "contenttype": "json",
        }  # fmt: skip

    async def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._server.url}/v4/{endpoint}"
        async with self._session.post(url, params=self._query, json=body) as response:
            answer: dict[str, Any] = await response.json()
            return answer


def text_body(text: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]
