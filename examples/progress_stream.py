"""Progress streaming: a download's progress pushed to a browser (server-sent events) and drawn in
the terminal, from the same `async for progress in tim.msg.download_elem_to_path(...)`.

    .venv/bin/python examples/progress_stream.py              # open the printed URL, press "Download"
    .venv/bin/python examples/progress_stream.py --terminal   # just the terminal bar

It brings up an embedded dev server, sends a message with a generated 64 MiB file attached, and
downloads that element.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

import aio_tim
from aio_tim.cli.progress import download_with_bar
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for
from aio_tim.transfer.progress import Progress

PAGE = """<!doctype html><meta charset="utf-8"><title>aio_tim download</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2em; }
  table { border-collapse: collapse; margin-top: 1em; }
  td { padding: .3em .8em; border-bottom: 1px solid #ddd; white-space: nowrap; }
  td.status { white-space: normal; max-width: 36em; }
  .failed { color: #b00020; }
  .done { color: #1b5e20; }
</style>
<h1>aio_tim: a download's progress, streamed</h1>
<p>Each click starts a download of the same attachment; the second button asks for a file the
server does not have, to show what a failure looks like.</p>
<button id="go">Download</button> <button id="broken">Download a missing file</button>
<table id="rows"></table>
<script>
const MIB = 1024 * 1024;
let count = 0;
const mib = (n) => (n / MIB).toFixed(1) + " MiB";
const clock = (s) => s == null ? "…" : s < 60 ? s.toFixed(1) + " s"
  : Math.floor(s / 60) + ":" + String(Math.round(s % 60)).padStart(2, "0");
function start(missing) {
  const n = ++count;
  const row = document.getElementById("rows").insertRow();
  row.id = "download-" + n;
  row.innerHTML = `<td>#${n}</td><td><progress value="0" max="1"></progress></td>
    <td class="percent">0%</td><td class="bytes"></td><td class="rate"></td><td class="eta"></td>
    <td class="status">starting</td>`;
  const cell = (name) => row.querySelector("." + name);
  const events = new EventSource(`/progress?n=${n}` + (missing ? "&missing=1" : ""));
  events.onmessage = (e) => {
    const p = JSON.parse(e.data);
    const total = p.msg_download_elem_result_total_size, current = p.msg_download_elem_result_current_size;
    const bar = row.querySelector("progress");
    bar.max = total || 1; bar.value = current;
    cell("percent").textContent = total ? (100 * current / total).toFixed(1) + "%" : "…";
    cell("bytes").textContent = mib(current) + " / " + (total ? mib(total) : "?");
    cell("rate").textContent = p.speed ? mib(p.speed) + "/s" : "…";
    cell("eta").textContent = "ETA " + clock(p.eta);
    cell("status").textContent = "downloading";
  };
  events.addEventListener("done", (e) => {
    const d = JSON.parse(e.data);
    cell("percent").textContent = "100%";
    cell("eta").textContent = "";
    cell("status").textContent = `done: ${mib(d.total)} in ${d.elapsed.toFixed(1)} s`;
    cell("status").className = "status done";
    events.close();
  });
  events.addEventListener("failed", (e) => {
    const f = JSON.parse(e.data);
    cell("status").textContent = `failed: [${f.code}] ${f.desc}`;
    cell("status").className = "status failed";
    events.close();
  });
}
document.getElementById("go").onclick = () => start(false);
document.getElementById("broken").onclick = () => start(true);
</script>"""


def make_app(tim: aio_tim.Client, param: aio_tim.DownloadElemParam, folder: Path) -> web.Application:
    """GET / is the page; GET /progress?n=K streams download K's progress as server-sent events:
    `data:` snapshots (the C SDK's keys plus `speed`, `eta`, `elapsed`), then `done` or `failed`."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def progress(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        number = request.query.get("n", "1")
        target = folder / f"download-{number if number.isdigit() else 1}.bin"
        wanted = missing(param) if request.query.get("missing") else param
        download = tim.msg.download_elem_to_path(wanted, target, overwrite=True)
        try:
            async for snapshot in download:
                await send(response, "message", snapshot_of(download.progress, snapshot))
            result = await download
            elapsed = download.progress.elapsed
            await send(response, "done", {"total": result.total_size, "elapsed": elapsed})
        except aio_tim.TIMError as error:
            await send(response, "failed", {"code": error.code, "desc": error.desc})
        except ConnectionResetError:
            # The browser left (tab closed, reload): stop the download, which stays resumable.
            await download.aclose()
        return response

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/progress", progress)
    return app


def snapshot_of(progress: Progress, result: aio_tim.DownloadElemResult) -> dict[str, Any]:
    """The C SDK's progress keys, and the derived values a page shows (bytes/s, seconds)."""
    keys: dict[str, Any] = msgspec.json.decode(aio_tim.types.encode(result))
    return keys | {"speed": progress.speed, "eta": progress.eta, "elapsed": progress.elapsed}


async def send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    """One server-sent event (`message` is the unnamed default the page's onmessage gets)."""
    head = "" if event == "message" else f"event: {event}\n"
    await response.write(f"{head}data: {json.dumps(data)}\n\n".encode())


def missing(param: aio_tim.DownloadElemParam) -> aio_tim.DownloadElemParam:
    """The same element with a URL the server has no file at: a download that fails."""
    return msgspec.structs.replace(param, id=f"{param.id}-missing", url=f"{param.url}-missing")


async def attachment(tim: aio_tim.Client, folder: Path, size: int) -> aio_tim.DownloadElemParam:
    """Send a message carrying a generated file; return the download parameter of its element."""
    source = folder / "big.bin"
    await asyncio.to_thread(source.write_bytes, os.urandom(size))
    sent = await tim.msg.send_new_msg(
        "bob", aio_tim.ConvType.C2C, aio_tim.Message(elem_array=[aio_tim.FileElem(file_path=str(source))])
    )
    elem = sent.elem_array[0]
    assert isinstance(elem, aio_tim.FileElem)
    return aio_tim.DownloadElemParam(type=int(aio_tim.DownloadType.FILE), id=elem.file_id, url=elem.url)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--terminal", action="store_true", help="only draw the terminal bar")
    parser.add_argument("--mib", type=int, default=64, help="size of the generated attachment, in MiB")
    parser.add_argument("--port", type=int, default=8081, help="port of the page (127.0.0.1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        async with DevServer() as server, client_for(server, "alice") as tim:
            param = await attachment(tim, Path(folder), args.mib * 1024 * 1024)
            await download_with_bar(tim, param, Path(folder, "terminal.bin"))
            if args.terminal:
                return
            runner = web.AppRunner(make_app(tim, param, Path(folder)))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", args.port).start()
            print(f"open http://127.0.0.1:{args.port}/ (Ctrl-C stops)")
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C is how this example stops: no traceback
