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

from aiohttp import web

import aio_tim
from aio_tim.cli.progress import download_with_bar
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

PAGE = """<!doctype html><meta charset="utf-8"><title>aio_tim download</title>
<button onclick="go()">Download</button> <progress id="bar" value="0" max="1"></progress>
<span id="text"></span>
<script>
function go() {
  const events = new EventSource("/progress");
  events.onmessage = (e) => {
    const p = JSON.parse(e.data);
    bar.max = p.msg_download_elem_result_total_size;
    bar.value = p.msg_download_elem_result_current_size;
    text.textContent = bar.value + " / " + bar.max + " bytes";
  };
  events.addEventListener("done", () => { text.textContent += " done"; events.close(); });
}
</script>"""


def make_app(tim: aio_tim.Client, param: aio_tim.DownloadElemParam, folder: Path) -> web.Application:
    """GET / is the page; GET /progress streams one download's progress as server-sent events."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def progress(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        download = tim.msg.download_elem_to_path(param, folder / "download.bin", overwrite=True)
        try:
            async for snapshot in download:
                await response.write(f"data: {aio_tim.types.encode(snapshot).decode()}\n\n".encode())
            result = await download
            await response.write(f"event: done\ndata: {json.dumps(result.total_size)}\n\n".encode())
        except ConnectionResetError:
            # The browser left (tab closed, reload): stop the download, which stays resumable.
            await download.aclose()
        return response

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/progress", progress)
    return app


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
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--port", type=int, default=8081)
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
