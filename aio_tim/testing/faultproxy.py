"""FaultProxy: an asyncio TCP proxy that breaks HTTP/1.1 exchanges on purpose, for tests.

Put it between a client and a server (the dev server, or anything speaking HTTP/1.1 with
Content-Length bodies) and give it a `FaultPlan`: each request draws at most one fault from
the plan's probabilities, using an injectable rng.

    async with FaultProxy("127.0.0.1", server.port, plan=FaultPlan(reset_before=0.02)) as proxy:
        client = Client(..., base_url=proxy.url)
        ...
        proxy.plan = FaultPlan(bad_gateway=1.0)   # change the plan at any time
        proxy.refuse_for(2.0)                      # nobody can connect for two seconds
        print(proxy.counters)

Faults, as the client sees them:

    reset_before  the request arrives, is not forwarded, the connection is reset (RST):
                  the server did nothing, the client cannot know that (ambiguous)
    reset_after   forwarded and answered, the answer is swallowed and the connection reset:
                  the server committed, the client cannot know that (ambiguous)
    delay         the request is held `delay_seconds` before it is forwarded
    cut           the answer is relayed up to `cut_at` bytes, then the connection closes
    bad_gateway   the request is not forwarded; the proxy answers HTTP 502
    refuse_for(s) the listening socket closes for `s` seconds (connect refused: not sent);
                  open connections finish their exchange with `Connection: close`
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import socket
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["FaultCounters", "FaultPlan", "FaultProxy"]

_HEAD_END: Final = b"\r\n\r\n"
_BAD_GATEWAY: Final = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n"


@dataclass(frozen=True)
class FaultPlan:
    """The chance of each fault per request (they add up to at most 1; the rest pass)."""

    reset_before: float = 0.0
    reset_after: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.1
    cut: float = 0.0
    cut_at: int = 20
    bad_gateway: float = 0.0

    def __post_init__(self) -> None:
        chances = (self.reset_before, self.reset_after, self.delay, self.cut, self.bad_gateway)
        if min(chances) < 0 or sum(chances) > 1 + 1e-9:
            raise ValueError("fault chances must be non-negative and add up to at most 1")

    def draw(self, rng: random.Random) -> str | None:
        """The fault for one request ("reset_before", ..., "bad_gateway"), or None."""
        roll = rng.random()
        for name in ("reset_before", "reset_after", "delay", "cut", "bad_gateway"):
            chance: float = getattr(self, name)
            if roll < chance:
                return name
            roll -= chance
        return None


@dataclass
class FaultCounters:
    """What the proxy saw and did; `faults` adds up the injected ones."""

    connections: int = 0
    requests: int = 0
    forwarded: int = 0
    reset_before: int = 0
    reset_after: int = 0
    delay: int = 0
    cut: int = 0
    bad_gateway: int = 0
    refusals: int = 0

    @property
    def faults(self) -> int:
        return self.reset_before + self.reset_after + self.delay + self.cut + self.bad_gateway

    def snapshot(self) -> FaultCounters:
        return dataclasses.replace(self)


@dataclass(eq=False)  # identity: kept in a set of open connections
class _Exchange:
    """One client connection and the upstream connection opened for it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    closing: bool = False  # finish the current exchange with `Connection: close`
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class FaultProxy:
    """A loopback TCP proxy to `target_host:target_port` that injects `plan`'s faults."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        plan: FaultPlan | None = None,
        rng: random.Random | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.plan = plan or FaultPlan()
        self._target = (target_host, target_port)
        self._rng = rng or random.Random()
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._exchanges: set[_Exchange] = set()
        self._reopen: asyncio.Task[None] | None = None
        self._counters = FaultCounters()
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Listen (inside the running loop); a port of 0 picks a free one, kept for reopening."""
        await self._listen()
        self._started = True

    async def aclose(self) -> None:
        """Stop listening and cut every open connection; safe to call twice."""
        self._started = False
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._stop_listening()
        tasks = [x.task for x in self._exchanges if x.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stops accepting; open connections are ours to end

    # --- what tests use --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL a client uses instead of the server's."""
        if not self._started:
            raise RuntimeError("FaultProxy is not running: use `async with FaultProxy(...)`")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def counters(self) -> FaultCounters:
        """A snapshot of what happened so far."""
        return self._counters.snapshot()

    @property
    def refusing(self) -> bool:
        return self._started and self._server is None

    def refuse_for(self, seconds: float) -> None:
        """Refuse new connections for `seconds`: close the listening socket, then reopen it.

        Open connections are not broken: each finishes its current or next exchange with
        `Connection: close`, so the client's next request needs a new (refused) connection.
        """
        if not self._started or self._server is None:
            raise RuntimeError("FaultProxy is not listening")
        self._counters.refusals += 1
        self._stop_listening()
        for exchange in self._exchanges:
            exchange.closing = True
        self._reopen = asyncio.create_task(self._reopen_after(seconds))

    async def _reopen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._started:
            await self._listen()
        self._reopen = None

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_started", False):
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)

    def __repr__(self) -> str:
        state = "refusing" if self.refusing else "listening" if self._started else "closed"
        return f"<FaultProxy {self._host}:{self._port} -> {self._target[0]}:{self._target[1]} {state}>"

    # --- one client connection -------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        exchange = _Exchange(reader, writer)
        exchange.task = asyncio.current_task()
        self._exchanges.add(exchange)
        self._counters.connections += 1
        try:
            while await self._relay_one(exchange):
                pass
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # either side went away or spoke garbage mid-exchange: end this connection
        finally:
            self._exchanges.discard(exchange)
            _close(exchange)

    async def _relay_one(self, exchange: _Exchange) -> bool:
        """Relay one request and its answer, or inject a fault; False ends the connection."""
        request = await _read_message(exchange.reader)
        if request is None:
            return False
        self._counters.requests += 1
        fault = self.plan.draw(self._rng)
        if fault is not None:
            setattr(self._counters, fault, getattr(self._counters, fault) + 1)
        if fault == "reset_before":
            _reset(exchange.writer)
            return False
        if fault == "bad_gateway":
            return await self._answer(exchange, _BAD_GATEWAY)
        if fault == "delay":
            await asyncio.sleep(self.plan.delay_seconds)
        answer = await self._forward(exchange, request)
        if fault == "reset_after":
            _reset(exchange.writer)
            return False
        if fault == "cut":
            exchange.writer.write(answer[: self.plan.cut_at])
            await exchange.writer.drain()
            return False
        return await self._answer(exchange, answer)

    async def _forward(self, exchange: _Exchange, request: bytes) -> bytes:
        if exchange.upstream is None:
            exchange.upstream = await asyncio.open_connection(*self._target)
        up_reader, up_writer = exchange.upstream
        up_writer.write(request)
        await up_writer.drain()
        self._counters.forwarded += 1
        answer = await _read_message(up_reader)
        if answer is None:
            raise ConnectionResetError("the server closed the connection")
        return answer

    async def _answer(self, exchange: _Exchange, answer: bytes) -> bool:
        if exchange.closing:
            answer = _with_connection_close(answer)
        exchange.writer.write(answer)
        await exchange.writer.drain()
        return not exchange.closing


# --- HTTP/1.1 framing, just enough --------------------------------------------------------------


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One whole request or response (head and body, by Content-Length or chunked); None at a
    clean EOF between messages."""
    try:
        head = await reader.readuntil(_HEAD_END)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    if b"chunked" in (_header(head, b"transfer-encoding") or b"").lower():
        return head + await _read_chunked(reader)
    length = int(_header(head, b"content-length") or 0)
    return head + (await reader.readexactly(length) if length else b"")


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        body += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        body += await reader.readexactly(size + 2)  # the chunk and its CRLF
        if size == 0:
            return bytes(body)


def _with_connection_close(answer: bytes) -> bytes:
    """The answer with `Connection: close`, so the client opens a new connection next time."""
    head, _, body = answer.partition(_HEAD_END)
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + _HEAD_END + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN, as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _close(exchange: _Exchange) -> None:
    exchange.writer.close()
    if exchange.upstream is not None:
        exchange.upstream[1].close()
