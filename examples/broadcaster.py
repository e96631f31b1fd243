"""A high-throughput broadcaster: one announcement to many users, with a live progress display.

Recipients go out through `tim.msg.batch_send` in slices; every slice that finished is recorded
in a checkpoint file next to the failures file, so an interrupted run (Ctrl-C, a crash) can be
rerun and picks up where it stopped. Per-recipient failures are written as `identifier<TAB>code`.

    python examples/broadcaster.py --users 100000          # against an embedded dev server

The campaign's MsgRandom is fixed in the checkpoint so a resent slice carries the same key; TIM
only drops a C2C duplicate within the same second, though, so a slice that was in flight at the
moment of a crash may be delivered twice on a real server. (A durable outbox is the cure.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections.abc import Sequence
from pathlib import Path

from rich.progress import MofNCompleteColumn, Progress

import aio_tim
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for

SLICE = 5_000


class Checkpoint:
    """Which slices are done, and the campaign's fixed MsgRandom, in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        state = json.loads(path.read_text()) if path.exists() else {}
        self.rand: int = state.get("rand") or random.randrange(1, 2**32 - 1)
        self.done: set[int] = set(state.get("done", []))

    def mark(self, index: int) -> None:
        self.done.add(index)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps({"rand": self.rand, "done": sorted(self.done)}))
        temp.replace(self.path)  # atomic: a crash leaves the old or the new checkpoint


async def broadcast(
    tim: aio_tim.Client, recipients: Sequence[str], text: str, workdir: Path, progress: Progress
) -> tuple[int, int]:
    """Send `text` to every recipient not yet done; return (delivered, failed) of this run."""
    checkpoint = Checkpoint(workdir / "broadcast.checkpoint.json")
    message = aio_tim.Message(elem_array=[aio_tim.TextElem(content=text)], rand=checkpoint.rand)
    task = progress.add_task("broadcasting", total=len(recipients))
    delivered = failed = 0
    with (workdir / "broadcast.failures.tsv").open("a") as failures:
        for start in range(0, len(recipients), SLICE):
            chunk = list(recipients[start : start + SLICE])
            if start in checkpoint.done:
                progress.advance(task, len(chunk))
                continue
            results = await tim.msg.batch_send(aio_tim.BatchSendParam(identifier_array=chunk, msg=message))
            for result in results:
                if result.code:
                    failures.write(f"{result.identifier}\t{result.code}\n")
            failed += sum(1 for r in results if r.code)
            delivered += sum(1 for r in results if not r.code)
            failures.flush()
            checkpoint.mark(start)
            progress.advance(task, len(chunk))
    return delivered, failed


async def main(argv: Sequence[str] | None = None) -> tuple[int, int]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--unknown", type=int, default=25, help="users left unregistered")
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--text", default="Scheduled maintenance tonight at 02:00 UTC.")
    args = parser.parse_args(argv)
    recipients = [f"user{i:06d}" for i in range(args.users)]
    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("announcer", *recipients[: args.users - args.unknown])
        async with client_for(server, "announcer") as tim:
            with Progress(*columns) as progress:
                delivered, failed = await broadcast(tim, recipients, args.text, args.workdir, progress)
    print(f"delivered {delivered}, failed {failed}; failures in {args.workdir / 'broadcast.failures.tsv'}")
    return delivered, failed


if __name__ == "__main__":
    asyncio.run(main())
