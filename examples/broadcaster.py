"""A high-throughput broadcaster: one announcement to many users, with a live progress display.

Recipients go out through `tim.msg.iter_batch_send`; every result is recorded in a checkpoint
keyed by the announcement (its text and recipients), so an interrupted run (Ctrl-C, a crash)
rerun with the same text picks up where it stopped, and a *new* announcement starts fresh.
Per-recipient failures are written as `identifier<TAB>code`. Both files live in the OS's
per-user state folder (printed at the end), or in `--workdir`.

    .venv/bin/python examples/broadcaster.py --users 100000     # against an embedded dev server

The campaign's MsgRandom is fixed in the checkpoint so a resent recipient gets the same key; TIM
only drops a C2C duplicate within the same second, though, so a chunk that was in flight at the
moment of a crash may be delivered twice on a real server. (A durable outbox is the cure.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.progress import MofNCompleteColumn, Progress

import aio_tim
from aio_tim.cli.checkpoint import Checkpoint, campaign_key, checkpoint_folder
from aio_tim.devserver import DevServer
from aio_tim.errors import CODES
from aio_tim.testing import client_for

SLICE = 5_000
ACCOUNT_MISSING = 70107  # TIM: the recipient's account does not exist


async def broadcast(
    tim: aio_tim.Client,
    recipients: Sequence[str],
    text: str,
    workdir: Path,
    progress: Progress,
    stop: asyncio.Event | None = None,
) -> Outcome:
    """Send `text` to every recipient not yet done; return what this run did.

    Slices of 5,000 go out one after the other; when `stop` is set (Ctrl-C) the slice in flight
    finishes and the rest is left to the next run, so nothing is cut off mid-request.
    """
    key = campaign_key(text, recipients)
    delivered, codes = 0, Counter[int]()
    with Checkpoint.open(workdir, key) as checkpoint, (workdir / f"{key}.failures.tsv").open("a") as failures:
        pending = checkpoint.pending(recipients)
        done = len(recipients) - len(pending)
        if not pending:
            return Outcome(0, Counter(), workdir / f"{key}.failures.tsv", already_done=True)
        task = progress.add_task("broadcasting", total=len(recipients), completed=done)
        message = aio_tim.Message(elem_array=[aio_tim.TextElem(content=text)], rand=checkpoint.rand)
        for start in range(0, len(pending), SLICE):
            if stop is not None and stop.is_set():
                break
            param = aio_tim.BatchSendParam(identifier_array=pending[start : start + SLICE], msg=message)
            async for result in tim.msg.iter_batch_send(param):
                checkpoint.record(result.identifier, result.code)
                if result.code:
                    failures.write(f"{result.identifier}\t{result.code}\n")
                    codes[result.code] += 1
                else:
                    delivered += 1
                progress.advance(task)
            checkpoint.flush()
            failures.flush()
    return Outcome(delivered, codes, workdir / f"{key}.failures.tsv")


@dataclass(frozen=True)
class Outcome:
    """What one run did: delivered, failures by TIM code, where they are listed, or nothing to do."""

    delivered: int
    codes: Counter[int]
    failures_file: Path
    already_done: bool = False

    @property
    def failed(self) -> int:
        return sum(self.codes.values())


def summary(outcome: Outcome, unknown: int) -> str:
    """What a person reading the terminal needs: counts, what the failures mean, where they are."""
    if outcome.already_done:
        return (
            f"nothing to send: this announcement already went to every recipient (checkpoint in "
            f"{outcome.failures_file.parent}); pass --text for a new one"
        )
    lines = [f"delivered {outcome.delivered:,}, failed {outcome.failed:,}"]
    for code, count in outcome.codes.most_common():
        meaning = CODES.get(code, (None, "unknown error"))[1]
        lines.append(f"  {count:,} x {code}: {meaning}")
    if outcome.codes.get(ACCOUNT_MISSING) == unknown and unknown:
        lines.append(f"  (the {unknown:,} users this demo leaves unregistered, --unknown, on purpose)")
    if outcome.failed:
        lines.append(f"failed recipients, one per line with their code: {outcome.failures_file}")
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None, stop: asyncio.Event | None = None) -> tuple[int, int]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--unknown", type=int, default=25, help="users left unregistered")
    parser.add_argument("--workdir", type=Path, default=checkpoint_folder() / "broadcaster")
    parser.add_argument("--text", default="Scheduled maintenance tonight at 02:00 UTC.")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    recipients = [f"user{i:06d}" for i in range(args.users)]
    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    async with DevServer(auto_accounts=False) as server:
        await server.add_accounts("announcer", *recipients[: args.users - args.unknown])
        async with client_for(server, "announcer") as tim:
            with Progress(*columns) as progress:
                outcome = await broadcast(tim, recipients, args.text, args.workdir, progress, stop)
    print(summary(outcome, args.unknown))
    return outcome.delivered, outcome.failed


async def until_ctrl_c() -> bool:
    """Run main(); Ctrl-C asks it to stop after the slice in flight. True when it was stopped."""
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C interrupts at once instead
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    await main(stop=stop)
    return stop.is_set()


if __name__ == "__main__":
    try:
        stopped = asyncio.run(until_ctrl_c())
    except KeyboardInterrupt:
        stopped = True
    if stopped:
        # The checkpoint holds every result so far: the same command resumes.
        print("interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
