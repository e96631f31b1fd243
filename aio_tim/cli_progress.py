"""The progress display of `aio-tim batch-send`: recipients done, delivered/failed, rate and ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["RateColumn", "batch_progress"]


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
