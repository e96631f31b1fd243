"""The ```python blocks of README.md and docs/*.md, as modules mypy can check and the tests can run.

The convention (written for authors in docs/devserver.md, "Every snippet runs"):

- A block with no comment above it is a whole program: it runs as it is (`python -W error`). A
  program that talks to Tencent takes its target from AIO_TIM_URL, AIO_TIM_SDK_APP_ID and
  AIO_TIM_SECRET_KEY (Tencent's URL by default); the test points them at a dev server.
- `<!-- snippet: async def(tim: Client, server: DevServer) -->` just above the fence: a fragment,
  run as the body of `async def snippet(tim: Client, server: DevServer) -> None`, in a fresh
  folder that holds a `report.pdf`. Each parameter is given by its name and type (`SnippetContext`
  below: `tim` is alice's client, `server` the dev server, `msg` a message alice sent to bob, ...).
  `def(...)`: the same, synchronous (run in a thread, the dev server serving meanwhile). A trailing
  `, names(Message, Download)` imports types that the fragment's annotations name (the mapping
  page's signature lines).
- `<!-- snippet: pytest -->`: a test module, run by pytest with the `aio_tim.testing` plugin.
- `<!-- snippet: serves PORT -->`: a program that serves until Ctrl-C; it gets a free port in
  $PORT, must accept a connection on it, then stops on SIGINT with status 0.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from pg_support import PG_URL, own_schema, require_pg
from redis_support import REDIS_URL, free_port, on_ci, require_redis

from aio_tim import Client, ConvType, FileElem, Message, TextElem
from aio_tim.auth import mint_usersig
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for
from aio_tim.transfer import download_param
from aio_tim.types import BatchSendParam, GetMsgListParam, MsgDeleteParam, MsgLocator

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A fence may be indented (in a list item): its lines are taken without that indentation.
BLOCK = re.compile(
    r"^(?:[ ]*<!-- snippet: (?P<context>[^\n]*?) -->\n)?"
    r"(?P<indent>[ ]*)```python\n(?P<code>.*?)\n(?P=indent)```",
    re.DOTALL | re.MULTILINE,
)
SIGNATURE = re.compile(r"(?P<async>async )?def\((?P<params>.*?)\)(?:, names\((?P<names>[\w, ]*)\))?")
# Where the types a context names come from (a fragment imports everything else it uses itself).
TYPE_IMPORTS = {
    "Client": "from aio_tim import Client",
    "ConvType": "from aio_tim import ConvType",
    "Message": "from aio_tim import Message",
    "MsgLocator": "from aio_tim.types import MsgLocator",
    "GetMsgListParam": "from aio_tim.types import GetMsgListParam",
    "MsgDeleteParam": "from aio_tim.types import MsgDeleteParam",
    "DownloadElemParam": "from aio_tim.types import DownloadElemParam",
    "BatchSendParam": "from aio_tim.types import BatchSendParam",
    "DevServer": "from aio_tim.devserver import DevServer",
    "Path": "from pathlib import Path",
    "Logger": "from logging import Logger",
    "Download": "from aio_tim.transfer import Download",
    "DownloadElemResult": "from aio_tim.types import DownloadElemResult",
    "BatchSendResult": "from aio_tim.types import BatchSendResult",
    "Callback": "from aio_tim.capi.runtime import Callback",
    "BeforeSendHandler": "from aio_tim.events import BeforeSendHandler",
    "Pool": "from asyncpg import Pool",
}


@dataclass(frozen=True)
class Snippet:
    page: str  # "README.md", "docs/receiving.md"
    line: int  # of the opening fence
    code: str
    context: str | None  # the comment's text, None for a whole program

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def module(self) -> str:
        return "snippet_" + re.sub(r"\W", "_", self.page.removesuffix(".md")) + f"_{self.line}"

    @property
    def kind(self) -> str:
        """program, serves, pytest, async or sync."""
        if self.context is None:
            return "program"
        if self.context in ("pytest", "serves PORT"):
            return self.context.split()[0]
        signature = SIGNATURE.fullmatch(self.context)
        if signature is None:
            raise ValueError(f"{self.id}: unknown snippet context {self.context!r}")
        return "async" if signature["async"] else "sync"

    @property
    def params(self) -> list[tuple[str, str]]:
        """(name, annotation) of each parameter a fragment's context gives it."""
        signature = SIGNATURE.fullmatch(self.context or "")
        if signature is None or not signature["params"].strip():
            return []
        pairs = (param.split(":", 1) for param in split_params(signature["params"]))
        return [(name.strip(), annotation.strip()) for name, annotation in pairs]

    def source(self) -> str:
        """The module mypy checks and the test runs."""
        if self.kind not in ("async", "sync"):
            return self.code + "\n"
        names = set(re.findall(r"\w+", " ".join(a for _, a in self.params)))
        names |= set(re.findall(r"\w+", SIGNATURE.fullmatch(self.context or "")["names"] or ""))  # type: ignore[index]
        imports = sorted(TYPE_IMPORTS[name] for name in names if name in TYPE_IMPORTS)
        params = ", ".join(f"{n}: {a}" for n, a in self.params)
        header = f"{'async ' if self.kind == 'async' else ''}def snippet({params}) -> None:"
        docstring = f'"""{self.id}, run as the body of its declared context."""'
        body = textwrap.indent(self.code, "    ")
        lines = [docstring, "", "from __future__ import annotations", "", *imports, "", "", header, body]
        return "\n".join(lines) + "\n"


def split_params(text: str) -> list[str]:
    """`a: int, b: dict[str, int]` -> the two parameters (commas inside brackets stay)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char in "[(" and 1) or ((char in "])" and -1) or 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


def snippets() -> list[Snippet]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in BLOCK.finditer(text):
            line = text[: block.start("code")].count("\n")
            code = textwrap.dedent(block["code"])
            found.append(Snippet(str(page.relative_to(ROOT)), line, code, block["context"]))
    return found


def python_fences() -> int:
    """Every ```python fence of the pages: the test checks none escapes the extraction."""
    return sum(page.read_text(encoding="utf-8").count("```python\n") for page in PAGES)


class SnippetContext:
    """The values a fragment's context names, by "name: type" or by name; made on first use.

    `tim` is alice's client and `bob` bob's, both on `server`; `conv_id`/`conv_type` are bob's C2C
    conversation and `msg` a message alice sent there; the C API names get a logged-out SDK's
    arguments (`cb` ignores its result).
    """

    def __init__(self, server: DevServer, stack: contextlib.AsyncExitStack, folder: Path) -> None:
        self.server, self.stack, self.folder = server, stack, folder
        self.made: dict[str, Any] = {}

    async def value(self, name: str, annotation: str) -> Any:
        for key in (f"{name}: {annotation}", name):
            if key in self.made:
                return self.made[key]
            maker = getattr(self, "make_" + re.sub(r"\W+", "_", key).strip("_"), None)
            if maker is not None:
                self.made[key] = await maker()
                return self.made[key]
        raise LookupError(f"no value for the context's parameter {name}: {annotation}")

    async def client(self, user_id: str) -> Client:
        return await self.stack.enter_async_context(client_for(self.server, user_id))

    async def make_server(self) -> DevServer:
        return self.server

    make_dev_server = make_server

    async def make_tim(self) -> Client:
        await self.server.add_accounts("alice", "bob")
        store = self.folder / "alice.sqlite3"  # a file store: enqueue_new_msg works too
        alice = client_for(self.server, "alice", store_path=store, outbox=True)
        return await self.stack.enter_async_context(alice)

    async def make_bob(self) -> Client:
        return await self.client("bob")

    async def make_conv_id(self) -> str:
        return "bob"

    async def make_conv_type(self) -> ConvType:
        return ConvType.C2C

    async def make_msg(self) -> Message:
        tim = await self.value("tim", "Client")
        return await tim.msg.send_text("bob", ConvType.C2C, "a message alice sent")

    async def make_msgs(self) -> list[Message]:
        return [Message(elem_array=[TextElem(content="imported")], sender="alice", client_time=1764000000)]

    async def make_locators(self) -> list[MsgLocator]:
        msg = await self.value("msg", "Message")
        return [MsgLocator(time=msg.server_time, seq=msg.seq, rand=msg.rand, is_self=True)]

    async def make_param_GetMsgListParam(self) -> GetMsgListParam:
        return GetMsgListParam(count=20, is_remble=True)

    async def make_param_MsgDeleteParam(self) -> MsgDeleteParam:
        return MsgDeleteParam(msg=await self.value("msg", "Message"))

    async def make_param_BatchSendParam(self) -> BatchSendParam:
        return BatchSendParam(
            identifier_array=["u1", "u2"], msg=Message(elem_array=[TextElem(content="notice")])
        )

    async def make_received_file(self) -> Message:
        """A message with a FileElem that alice sent (uploaded) to bob."""
        report = self.folder / "report.pdf"
        report.write_bytes(b"%PDF-1.4 a report")
        tim = await self.value("tim", "Client")
        message = Message(elem_array=[FileElem(file_path=str(report))])
        return await tim.msg.send_new_msg("bob", ConvType.C2C, message)

    make_received = make_received_file

    async def make_param_DownloadElemParam(self) -> Any:
        return download_param((await self.make_received_file()).elem_array[0])

    async def make_port(self) -> int:
        return free_port()

    async def make_tim_url(self) -> str:
        return self.server.url

    async def make_redis_url(self) -> str:
        require_redis(REDIS_URL, ci=on_ci())
        return REDIS_URL

    async def make_prefix(self) -> str:
        """A key prefix of this run's own; its keys are deleted afterwards."""
        prefix = f"aio_tim_docs:{uuid.uuid4().hex[:8]}"

        async def forget() -> None:
            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()

        self.stack.push_async_callback(forget)
        return prefix

    async def make_pg_url(self) -> str:
        """The shared PostgreSQL's URL (tests/pg_support.py: fails under CI=true, skips elsewhere)."""
        await require_pg(PG_URL)
        return PG_URL

    async def make_schema(self) -> str:
        """A PostgreSQL schema of this run's own, with an `orders` table; dropped afterwards."""
        url = await self.value("pg_url", "str")
        schema = await self.stack.enter_async_context(own_schema(url))
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'CREATE TABLE "{schema}".orders (id integer PRIMARY KEY, paid boolean)')
            await conn.execute(f'INSERT INTO "{schema}".orders VALUES (1, false)')
        finally:
            await conn.close()
        return schema

    async def make_pool_Pool(self) -> Any:
        """An asyncpg pool whose connections see the run's schema first (its `orders` table)."""
        schema = await self.value("schema", "str")
        settings = {"search_path": f'"{schema}"'}
        pool = await asyncpg.create_pool(await self.value("pg_url", "str"), server_settings=settings)
        self.stack.push_async_callback(pool.close)
        return pool

    async def make_pg_tim(self) -> Client:
        """alice's client on the dev server with her store in the run's PostgreSQL schema."""
        from aio_tim.pgstore import PgStore

        await self.server.add_accounts("alice", "bob")
        url, schema = await self.value("pg_url", "str"), await self.value("schema", "str")
        store = PgStore(url, sdk_app_id=self.server.sdk_app_id, user_id="alice", schema=schema)
        return await self.stack.enter_async_context(client_for(self.server, "alice", store=store))

    async def make_order_id(self) -> int:
        return 1

    async def make_path(self) -> str:
        (self.folder / "downloads").mkdir()
        return str(self.folder / "downloads") + "/"

    async def make_log(self) -> logging.Logger:
        return logging.getLogger("snippet")

    # The C API's arguments.
    async def make_sdk_app_id(self) -> int:
        return self.server.sdk_app_id

    async def make_url(self) -> str:
        return self.server.url

    async def make_key(self) -> str:
        return self.server.secret_key

    async def make_json_sdk_config(self) -> str:
        return json.dumps({"aio_tim_base_url": self.server.url, "aio_tim_secret_key": self.server.secret_key})

    async def make_user_id(self) -> str:
        return "user1"

    async def make_user_sig(self) -> str:
        return mint_usersig(self.server.sdk_app_id, self.server.secret_key, "user1")

    async def make_json_msg(self) -> str:
        return json.dumps({"message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})

    async def make_cb(self) -> Any:
        return lambda code, desc, json_params, user_data: None

    make_on_login = make_cb

    async def make_moderate(self) -> Any:
        return lambda event: None  # a before-send handler that allows everything

    async def make_user_data(self) -> None:
        return None
