"""`aio-tim`: the command line. `demo` and `serve` run the embedded dev server; `send` and
`batch-send` talk to any TIM REST endpoint (flags, `AIO_TIM_*` variables, or the running
`aio-tim serve`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import cli_admin
from .cli_listen import add_listen_command, add_serve_webhook_options
from .client import Client
from .devserver import DevServer
from .devserver.private import stop_on_sigterm, write_private_json
from .errors import TIMError
from .types import (
    BatchSendParam,
    ConvType,
    DownloadElemParam,
    DownloadType,
    FileElem,
    GetMsgListParam,
    Message,
    MsgDeleteParam,
    MsgLocator,
    TextElem,
)

console = Console()

SERVE_STATE = Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache") / "aio_tim-serve.json"


@dataclass(frozen=True)
class Target:
    """Where the CLI sends: a REST base URL and the credentials to sign with."""

    url: str
    sdk_app_id: int
    secret_key: str
    admin: str

    def client(self, user_id: str, store_path: str | None = None) -> Client:
        return Client(
            sdk_app_id=self.sdk_app_id,
            user_id=user_id,
            secret_key=self.secret_key,
            base_url=self.url,
            admin=self.admin,
            store_path=store_path,
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(asyncio.run(args.run(args)) or 0)
    except TIMError as error:
        console.print(f"[red]error[/red] {error}")
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aio-tim", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run a tour of aio_tim against an embedded dev server")
    demo.add_argument("--recipients", type=int, default=1200, help="batch-send audience size")
    demo.set_defaults(run=run_demo)

    serve = commands.add_parser("serve", help="run the TIM-compatible dev server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db", default=":memory:", help="sqlite file for state (default: memory)")
    serve.add_argument("--secret-key", default=None, help="default: random, kept in --db")
    add_serve_webhook_options(serve)
    serve.set_defaults(run=run_serve)

    send = commands.add_parser("send", help="send a C2C or group text message")
    _target_options(send)
    send.add_argument("--to", required=True, help="peer UserID, or group id with --group")
    send.add_argument("--group", action="store_true", help="--to names a group")
    send.add_argument("--file", type=Path, help="attach this file (uploaded first, with a progress bar)")
    send.add_argument("text", nargs="?", default="")
    send.set_defaults(run=run_send)

    batch = commands.add_parser("batch-send", help="send one text to every UserID in a file")
    _target_options(batch)
    batch.add_argument("--to-file", required=True, type=Path, help="one UserID per line")
    batch.add_argument("text")
    batch.set_defaults(run=run_batch_send)
    download = commands.add_parser("download", help="download an attachment URL with a progress bar")
    _target_options(download)
    download.add_argument("file_url", metavar="URL", help="the element's URL (e.g. file_elem_url)")
    download.add_argument("--to", default=".", help="file or folder (default: here)")
    download.add_argument("--overwrite", action="store_true")
    download.set_defaults(run=run_download)

    history = commands.add_parser("history", help="page through a conversation's history")
    _target_options(history)
    history.add_argument("conv", help="peer UserID, or group id with --group")
    history.add_argument("--group", action="store_true")
    history.add_argument("--page-size", type=int, default=20)
    history.add_argument("--limit", type=int, default=100, help="stop after this many messages")
    history.set_defaults(run=run_history)

    revoke = commands.add_parser("revoke", help="recall a message")
    _target_options(revoke)
    revoke.add_argument("conv", help="peer UserID, or group id with --group")
    revoke.add_argument("--group", action="store_true")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--msg-id", help="C2C: the msg_id (MsgKey) `send` printed")
    which.add_argument("--seq", type=int, help="group: the message's seq")
    revoke.set_defaults(run=run_revoke)
    cli_admin.register(commands)  # `group ...` and `account ...`
    add_listen_command(commands, _target_options)
    return parser


def _target_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--url", default=env("AIO_TIM_URL"))
    parser.add_argument("--sdk-app-id", type=int, default=env("AIO_TIM_SDK_APP_ID"))
    parser.add_argument("--secret-key", default=env("AIO_TIM_SECRET_KEY"))
    parser.add_argument("--admin", default=env("AIO_TIM_ADMIN"))
    parser.add_argument("--user", default=env("AIO_TIM_USER"), help="sender (default: the admin)")


def _target(args: argparse.Namespace) -> Target:
    """Flags and AIO_TIM_* first; what `aio-tim serve` recorded fills the rest."""
    saved: dict[str, Any] = {}
    if SERVE_STATE.exists():
        saved = json.loads(SERVE_STATE.read_text())
    url = args.url or saved.get("url")
    sdk_app_id = args.sdk_app_id or saved.get("sdk_app_id")
    secret_key = args.secret_key or saved.get("secret_key")
    if not (url and sdk_app_id and secret_key):
        raise SystemExit(
            "aio-tim: no server given. Start one with `aio-tim serve`, or pass --url, "
            "--sdk-app-id and --secret-key (or AIO_TIM_URL, AIO_TIM_SDK_APP_ID, AIO_TIM_SECRET_KEY)."
        )
    admin = args.admin or saved.get("admin") or "administrator"
    return Target(url, int(sdk_app_id), secret_key, admin)


def _text_message(text: str) -> Message:
    return Message(elem_array=[TextElem(content=text)])


async def run_send(args: argparse.Namespace) -> int:
    target = _target(args)
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    msg = _text_message(args.text) if args.text else Message()
    if args.file is not None:
        msg.elem_array.append(FileElem(file_path=str(args.file)))
    async with target.client(args.user or target.admin) as tim:
        sent = await send_with_upload_bar(tim, args.to, conv_type, msg)
    console.print(
        f"sent to {args.to}: seq={sent.seq} rand={sent.rand} "
        f"server_time={sent.server_time} msg_id={sent.msg_id}",
        soft_wrap=True,
    )
    for elem in sent.elem_array:
        if isinstance(elem, FileElem):
            console.print(f"attachment {elem.file_name} ({elem.file_size} bytes): {elem.url}", soft_wrap=True)
    return 0


def _bar() -> Progress:
    """A transfer bar: bytes, rate and time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


async def download_with_bar(tim: Client, param: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Download an element's file, drawing its progress; return where it landed."""
    download = tim.msg.download_elem_to_path(param, path, overwrite=overwrite)
    with _bar() as bar:
        task = bar.add_task("download", total=None)
        async for progress in download:
            bar.update(task, completed=progress.current_size, total=progress.total_size)
    await download
    return Path(download.target)


async def send_with_upload_bar(tim: Client, conv_id: str, conv_type: ConvType, msg: Message) -> Message:
    """Send a message whose elements name local files, drawing each upload's progress."""
    watch = tim.transfers.watch_uploads()
    with _bar() as bar:
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


async def run_download(args: argparse.Namespace) -> int:
    target = _target(args)
    param = DownloadElemParam(type=int(DownloadType.FILE), url=args.file_url)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        path = await download_with_bar(tim, param, args.to, overwrite=args.overwrite)
    console.print(f"saved {path}")
    return 0


async def run_batch_send(args: argparse.Namespace) -> int:
    target = _target(args)
    recipients = [line.strip() for line in args.to_file.read_text().splitlines() if line.strip()]
    param = BatchSendParam(identifier_array=recipients, msg=_text_message(args.text))
    async with target.client(args.user or target.admin) as tim:
        results = await tim.msg.batch_send(param)
    failed = [r for r in results if r.code]
    console.print(f"delivered {len(results) - len(failed)} of {len(results)}")
    for result in failed:
        console.print(f"  [red]{result.identifier}[/red] {result.code} {result.desc}")
    return 1 if failed else 0


async def run_history(args: argparse.Namespace) -> int:
    target = _target(args)
    conv_type = ConvType.GROUP if args.group else ConvType.C2C
    table = Table("time", "seq", "from", "status", "content")
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        shown = 0
        async for msg in tim.msg.iter_msg_list(args.conv, conv_type, page_size=args.page_size, remble=True):
            table.add_row(str(msg.server_time), str(msg.seq), msg.sender or "", _status(msg), _summary(msg))
            shown += 1
            if shown >= args.limit:
                break
    console.print(table)
    return 0


async def run_revoke(args: argparse.Namespace) -> int:
    target = _target(args)
    async with target.client(args.user or target.admin, store_path=":memory:") as tim:
        if args.group:
            if args.seq is None:
                raise SystemExit("aio-tim revoke: a group message is named by --seq")
            await tim.msg.revoke(args.conv, ConvType.GROUP, Message(seq=args.seq))
        else:
            await tim.msg.revoke(args.conv, ConvType.C2C, _message_from_key(args.msg_id))
    console.print("revoked")
    return 0


def _message_from_key(msg_id: str | None) -> Message:
    """A C2C MsgKey is `{seq}_{rand}_{time}`: enough to name the message to recall."""
    parts = (msg_id or "").split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise SystemExit(f"aio-tim revoke: --msg-id must look like SEQ_RAND_TIME, not {msg_id!r}")
    seq, rand, time = map(int, parts)
    return Message(seq=seq, rand=rand, server_time=time, msg_id=msg_id)


_STATUS_NAMES = {2: "sent", 3: "failed", 4: "deleted", 5: "imported", 6: "revoked"}


def _status(msg: Message) -> str:
    return _STATUS_NAMES.get(msg.status or 0, str(msg.status))


def _summary(msg: Message) -> str:
    """A one-line view of a message's elements."""
    parts = []
    for elem in msg.elem_array:
        content = getattr(elem, "content", None)
        parts.append(content if isinstance(content, str) else f"<{type(elem).__name__}>")
    return " ".join(parts)


async def run_serve(args: argparse.Namespace) -> int:
    server = DevServer(db_path=args.db, host=args.host, port=args.port, secret_key=args.secret_key,
                       webhook_url=args.webhook_url, webhook_token=args.webhook_token)  # fmt: skip
    async with server:
        _record_serve_state(server)
        console.print(f"[bold]aio_tim dev server[/bold] listening on {server.url}")
        console.print(f"  sdkappid   {server.sdk_app_id}")
        console.print(f"  admin      {server.admin}")
        console.print(f"  secret key {server.secret_key}")
        if args.webhook_url:
            console.print(f"  webhooks   {args.webhook_url}", soft_wrap=True)
        console.print(f"  (recorded in {SERVE_STATE} for `aio-tim send`; Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        finally:
            SERVE_STATE.unlink(missing_ok=True)
    return 0


def _record_serve_state(server: DevServer) -> None:
    SERVE_STATE.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "url": server.url,
        "sdk_app_id": server.sdk_app_id,
        "admin": server.admin,
        "secret_key": server.secret_key,
    }
    # The file holds the secret key: 0600 (an existing file too); SIGTERM removes it as Ctrl-C does.
    write_private_json(SERVE_STATE, state)
    stop_on_sigterm()


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
        msg = await tim.msg.send_new_msg("bob", ConvType.C2C, _text_message(text))
        console.print(f"  sent {text!r}: seq={msg.seq} time={msg.server_time} msg_id={msg.msg_id}")
        sent.append(msg)
    return sent


async def _demo_history(bob: Client) -> None:
    console.rule("History: bob, local store empty, pages TIMMsgGetMsgList 2 at a time")
    last: Message | None = None
    for number in range(1, 4):
        param = GetMsgListParam(count=2, is_remble=True, last_msg=last)
        page = await bob.msg.get_msg_list("alice", ConvType.C2C, param)
        console.print(f"  page {number}: {[_summary(m) for m in page]}")
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
    status = [_status(m) for m in found]
    console.print(f"  alice recalled {_summary(msg)!r}; bob's roaming lookup finds it as {status}")


async def _demo_group(tim: Client) -> None:
    console.rule('Group: TIMMsgSendNewMsg("demo-group", kTIMConv_Group, ...)')
    for text in ("hi all", "agenda at 10"):
        sent = await tim.msg.send_new_msg("demo-group", ConvType.GROUP, _text_message(text))
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
    param = BatchSendParam(identifier_array=audience, msg=_text_message("service notice"))
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


if __name__ == "__main__":
    sys.exit(main())
