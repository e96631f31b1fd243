"""Progress displays: a batch send's recipients (done, delivered/failed, rate, ETA) and a
transfer's bytes (rate, time left), for uploads on send and for downloads."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ..client import Client
from ..types import ConvType, FileElem, Message
from .console import progress_console

__all__ = ["RateColumn", "batch_progress", "download_with_bar", "draw_download", "send_with_upload_bar"]


class RateColumn(ProgressColumn):
    """Items per second, from rich's own speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


def batch_progress(console: Console) -> Progress:
    """A bar for a batch send; update it with `delivered=` and `failed=` fields.

    with batch_progress(console) as bar:
        task = bar.add_task("sending", total=len(ids), delivered=0, failed=0)
        bar.update(task, advance=1, delivered=1)
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[delivered]:,} delivered[/] [red]{task.fields[failed]:,} failed[/]"),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _transfer_bar() -> Progress:
    """A transfer bar: bytes, rate and time left, on stderr (stdout is the command's result)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),  # MiB, as --mib and file sizes are counted
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=progress_console,
    )


async def download_with_bar(tim: Client, param: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Download an element's file, drawing its progress; return where it landed."""
    return await draw_download(tim.msg.download_elem_to_path(param, path, overwrite=overwrite))


async def draw_download(download: Any) -> Path:
    """Draw a started download's progress until it is done; return where it landed."""
    with _transfer_bar() as bar:
        task = bar.add_task("download", total=None)
        async for progress in download:
            bar.update(task, completed=progress.current_size, total=progress.total_size)
    await download
    return Path(download.target)


async def send_with_upload_bar(tim: Client, conv_id: str, conv_type: ConvType, msg: Message) -> Message:
    """Send a message whose elements name local files, drawing each upload's progress."""
    if not any(isinstance(elem, FileElem) and elem.file_path for elem in msg.elem_array):
        return await tim.msg.send_new_msg(conv_id, conv_type, msg)  # nothing to upload: no bar
    watch = tim.transfers.watch_uploads()
    with _transfer_bar() as bar:
        tasks: dict[tuple[int, str], TaskID] = {}

        async def draw() -> None:
            async for event in watch:
                key = (event.index, str(event.kind))
                if key not in tasks:
                    tasks[key] = bar.add_task(f"upload {event.kind}", total=event.total_size)
                bar.update(tasks[key], completed=event.current_size)

        drawer = asyncio.create_task(draw())
        try:
            return await tim.msg.send_new_msg(conv_id, conv_type, msg)
        finally:
            drawer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drawer
