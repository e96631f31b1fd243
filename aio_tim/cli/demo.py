"""`aio-tim demo`: a tour of aio_tim against an embedded dev server, every step printed."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

from ..client import Client
from ..devserver import DevServer
from ..types import (
    BatchSendParam,
    ConvType,
    DownloadElemParam,
    DownloadType,
    FileElem,
    GetMsgListParam,
    Message,
    MsgDeleteParam,
    MsgLocator,
)
from .commands import add_command
from .console import console
from .options import at_least
from .progress import download_with_bar, send_with_upload_bar
from .render import status_name, summary, text_message
from .target import Target

__all__ = ["register", "run_demo"]


def register(commands: Any) -> None:
    demo = add_command(commands, "demo",
                       "Starts an embedded dev server and walks through C2C and group sends, history, "
                       "read marks, revoke, an attachment and a batch send.")  # fmt: skip
    demo.add_argument("--recipients", type=at_least(0), default=1200, help="batch-send audience size")
    demo.set_defaults(run=run_demo)


async def run_demo(args: argparse.Namespace) -> int:
    console.rule("[bold]aio_tim demo[/bold]")
    async with DevServer(auto_accounts=False) as server:
        console.print(f"embedded dev server at {server.url} (sdkappid {server.sdk_app_id})")
        await _demo_setup(server, args.recipients)
        target = Target(server.url, server.sdk_app_id, server.secret_key, server.admin)
        async with target.client("alice", store_path=":memory:") as tim:
            sent = await _demo_c2c(tim)
            await _demo_group(tim)
            async with target.client("bob", store_path=":memory:") as bob:
                await _demo_history(bob)
                await _demo_read(bob)
                await _demo_revoke(tim, bob, sent[1])
            await _demo_attachments(tim)
            await _demo_batch(tim, args.recipients)
    console.rule("done")
    return 0


async def _demo_setup(server: DevServer, recipients: int) -> None:
    audience = [f"user{i:05d}" for i in range(recipients)]
    # Leave a few accounts unregistered so the batch shows per-recipient failures.
    await server.add_accounts("alice", "bob", "carol", *audience[: max(0, recipients - 7)])
    await server.create_group("demo-group", owner="alice", members=("bob", "carol"))
    console.print(
        f"accounts alice, bob, carol and {max(0, recipients - 7)} of {recipients} audience "
        "users; group demo-group"
    )


async def _demo_c2c(tim: Client) -> list[Message]:
    console.rule('C2C: TIMMsgSendNewMsg("bob", kTIMConv_C2C, ...)')
    sent = []
    for text in ("hello bob", "second message, same second", "third", "fourth", "fifth"):
        msg = await tim.msg.send_new_msg("bob", ConvType.C2C, text_message(text))
        console.print(f"  sent {text!r}: seq={msg.seq} time={msg.server_time} msg_id={msg.msg_id}")
        sent.append(msg)
    return sent


async def _demo_history(bob: Client) -> None:
    console.rule("History: bob, local store empty, pages TIMMsgGetMsgList 2 at a time")
    last: Message | None = None
    for number in range(1, 4):
        param = GetMsgListParam(count=2, is_remble=True, last_msg=last)
        page = await bob.msg.get_msg_list("alice", ConvType.C2C, param)
        console.print(f"  page {number}: {[summary(m) for m in page]}")
        if len(page) < 2:
            break
        last = page[-1]


async def _demo_read(bob: Client) -> None:
    console.rule("Read: TIMMsgReportReaded")
    before = await bob.store.unread_count((ConvType.C2C, "alice"))
    await bob.msg.report_readed("alice", ConvType.C2C)
    after = await bob.store.unread_count((ConvType.C2C, "alice"))
    console.print(f"  bob's unread messages from alice: {before} before, {after} after")


async def _demo_revoke(alice: Client, bob: Client, msg: Message) -> None:
    console.rule("Revoke: TIMMsgRevoke; bob finds it by locator")
    await alice.msg.revoke("bob", ConvType.C2C, msg)
    await bob.msg.delete("alice", ConvType.C2C, MsgDeleteParam())  # forget bob's local copies
    locator = MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand, is_revoked=True)
    found = await bob.msg.find_by_msg_locator_list("alice", ConvType.C2C, [locator])
    status = [status_name(m) for m in found]
    console.print(f"  alice recalled {summary(msg)!r}; bob's roaming lookup finds it as {status}")


async def _demo_group(tim: Client) -> None:
    console.rule('Group: TIMMsgSendNewMsg("demo-group", kTIMConv_Group, ...)')
    for text in ("hi all", "agenda at 10"):
        sent = await tim.msg.send_new_msg("demo-group", ConvType.GROUP, text_message(text))
        console.print(f"  sent {text!r}: group seq={sent.seq} time={sent.server_time}")


async def _demo_attachments(tim: Client) -> None:
    console.rule("Attachments: upload on send, TIMMsgDownloadElemToPath with progress")
    with tempfile.TemporaryDirectory() as folder:
        source = await asyncio.to_thread(_sample_file, Path(folder))
        msg = Message(elem_array=[FileElem(file_path=str(source), file_name=source.name)])
        sent = await send_with_upload_bar(tim, "bob", ConvType.C2C, msg)
        elem = sent.elem_array[0]
        assert isinstance(elem, FileElem)
        console.print(f"  sent file {elem.file_name} ({elem.file_size} bytes) at {elem.url}")
        param = DownloadElemParam(type=int(DownloadType.FILE), id=elem.file_id, url=elem.url)
        saved = await download_with_bar(tim, param, Path(folder, "inbox", source.name))
        same = await asyncio.to_thread(_same_bytes, saved, source)
        console.print(f"  downloaded to inbox/{saved.name}: identical to what was sent: {same}")


def _sample_file(folder: Path) -> Path:
    (folder / "inbox").mkdir()
    source = folder / "report.bin"
    source.write_bytes(os.urandom(8 * 1024 * 1024))
    return source


def _same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


async def _demo_batch(tim: Client, recipients: int) -> None:
    console.rule(f"Batch: TIMMsgBatchSend to {recipients} users")
    audience = [f"user{i:05d}" for i in range(recipients)]
    param = BatchSendParam(identifier_array=audience, msg=text_message("service notice"))
    with console.status("sending in chunks of 500..."):
        results = await tim.msg.batch_send(param)
    codes = Counter(result.code for result in results)
    table = Table("code", "meaning", "recipients")
    for code, count in sorted(codes.items()):
        meaning = "delivered" if code == 0 else next(r.desc for r in results if r.code == code)
        table.add_row(str(code), meaning, str(count))
    console.print(table)
    failed = [r.identifier for r in results if r.code]
    if failed:
        console.print(f"  not delivered: {', '.join(failed)}")
