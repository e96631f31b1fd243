"""`aio-tim download URL [--to FILE_OR_FOLDER/]`: an attachment to disk, resumed and verified.

aio-tim download https://.../report.pdf --to inbox/    # the server's file name, in inbox/
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from ..types import DownloadElemParam, DownloadType
from .commands import add_command
from .console import console
from .options import add_target_options
from .progress import draw_download
from .target import CONNECT_CHECK_SECONDS, target_of

__all__ = ["disposition_file_name", "register", "run_download"]


def register(commands: Any) -> None:
    download = add_command(commands, "download",
                           "Downloads (resuming a partial file) and verifies the file. --to is a file, or "
                           "a folder (existing, or written with a trailing /) to put it in under the "
                           "server's file name.")  # fmt: skip
    add_target_options(download)
    download.add_argument("file_url", metavar="URL", help="the element's URL (e.g. file_elem_url)")
    download.add_argument("--to", default=".", help="file or folder (default: here)")
    download.add_argument("--overwrite", action="store_true", help="replace an existing file")
    download.set_defaults(run=run_download)


async def run_download(args: argparse.Namespace) -> int:
    target = target_of(args)
    param = DownloadElemParam(type=int(DownloadType.FILE), url=args.file_url)
    destination = Path(args.to)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        name = None
        if _means_folder(args.to):
            await asyncio.to_thread(destination.mkdir, parents=True, exist_ok=True)
            name = await _served_file_name(args.file_url)
        download = tim.msg.download_elem_to_path(param, destination, file_name=name, overwrite=args.overwrite)
        path = await draw_download(download)
    console.print(f"saved {path}", soft_wrap=True)
    return 0


def _means_folder(to: str) -> bool:
    """`--to inbox/` (trailing separator) or an existing folder: put the file in it."""
    return to.endswith(("/", os.sep)) or Path(to).is_dir()


async def _served_file_name(url: str) -> str | None:
    """The file name the server gives (`Content-Disposition`, RFC 6266, `filename*` first), else
    the URL's last path segment; the download sanitises it either way."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        timeout = aiohttp.ClientTimeout(total=10, sock_connect=CONNECT_CHECK_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.head(url, allow_redirects=True) as reply,
        ):
            if name := disposition_file_name(reply.headers.get("Content-Disposition")):
                return name
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None


def disposition_file_name(header: str | None) -> str | None:
    """The file name in a Content-Disposition value (RFC 6266: `filename*` wins over `filename`).

    >>> disposition_file_name("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf")
    '报告.pdf'
    """
    if not header:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp warns on a malformed header; we just find no name
        _, params = parse_content_disposition(header)
        return content_disposition_filename(params, "filename") or None
