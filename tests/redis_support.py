"""Redis for the tests: the shared server at 127.0.0.1:6379 (or $AIO_TIM_REDIS_URL) and private
ones a test may kill and restart. Not a test module.

Each test gets its own key prefix and deletes what it made; nothing here flushes a database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("AIO_TIM_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis(url: str, *, ci: bool) -> None:
    """Return if Redis at `url` answers PING; else fail under CI, skip (with the reason) elsewhere."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
        return
    except (redis.RedisError, OSError) as error:
        reason = f"Redis at {url} is unreachable ({error}); start one: redis-server --save '' --appendonly no"
    if ci:
        pytest.fail(f"CI=true needs Redis: {reason}", pytrace=False)
    pytest.skip(reason)


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def redis_url() -> str:
    """The shared Redis's URL; the test fails under CI=true, and is skipped elsewhere, without it."""
    require_redis(REDIS_URL, ci=on_ci())
    return REDIS_URL


@pytest_asyncio.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"aio_tim_test:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own (append-only file, fsync always) that it may kill and restart.

    with PrivateRedis(tmp_path) as server:
        server.kill(); server.start()
    """

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            reason = "redis-server is not installed (needed to kill and restart a Redis of the test's own)"
            if on_ci():
                pytest.fail(f"CI=true needs {reason}", pytrace=False)
            pytest.skip(reason)
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    if client.ping():
                        return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: what is not in the append-only file yet is gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


class StallingProxy:
    """A TCP proxy in front of a Redis whose replies it can hold back: `stall(seconds)` lets
    requests through (Redis runs them) and delivers the answers late, past a client's timeout.

    async with StallingProxy(server.port) as proxy:
        proxy.stall(1.0)   # the next second's answers arrive a second late (if at all)
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.held = 0  # replies held back
        self._hold_until = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def stall(self, seconds: float) -> None:
        self._hold_until = asyncio.get_running_loop().time() + seconds

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            try:
                await asyncio.gather(self._pipe(reader, up_writer, hold=False), self._pipe(up_reader, writer))
            finally:
                up_writer.close()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, hold: bool = True
    ) -> None:
        loop = asyncio.get_running_loop()
        while data := await source.read(65536):
            if hold and (wait := self._hold_until - loop.time()) > 0:
                self.held += 1
                await asyncio.sleep(wait)
            sink.write(data)
            await sink.drain()
        sink.close()


class PrivateCluster:
    """A Redis Cluster of the test session's own: `masters` redis-servers (and `replicas` per
    master) on free loopback ports, in a tmp folder, nothing kept on disk.

    cluster = PrivateCluster(folder); cluster.start()   # returns once cluster_state is ok
    cluster.url                                          # any node's URL: RedisCluster finds the rest
    cluster.stop()
    """

    def __init__(self, folder: Path, masters: int = 3, replicas: int = 0) -> None:
        self.folder = folder
        self.ports = [free_port() for _ in range(masters * (1 + replicas))]
        self.replicas = replicas
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        for port in self.ports:
            _wait_ping(port, 10)
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        # Ready once every node sees the cluster whole and every replica has synced (a replica
        # that never synced would not be promoted when its master fails).
        while not all(self.state_ok(port) and self.synced(port) for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok within 30 s")
            time.sleep(0.05)

    def synced(self, port: int) -> bool:
        """A master, or a replica whose link to its master is up."""
        try:
            with redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=1) as client:
                info = client.info("replication")
        except (redis.RedisError, OSError):
            return False
        return bool(info["role"] == "master" or info.get("master_link_status") == "up")

    def start_node(self, port: int) -> None:
        node = self.folder / str(port)
        node.mkdir(exist_ok=True)
        self._processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-port", str(free_port()), "--cluster-config-file", str(node / "nodes.conf"),
             "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
             "--save", "", "--appendonly", "no", "--dir", str(node)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def kill_node(self, port: int) -> None:
        process = self._processes.pop(port, None)
        if process is not None:
            process.kill()
            process.wait()

    def state_ok(self, port: int) -> bool:
        try:
            with redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=1) as client:
                info = client.execute_command("CLUSTER INFO")  # parsed by redis-py into a dict
                return bool(info.get("cluster_state") == "ok")
        except (redis.RedisError, OSError):
            return False

    def masters(self) -> list[int]:
        """The ports of the nodes that are masters now."""
        found = []
        for port in list(self._processes):
            try:
                with redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=1) as client:
                    if client.info("replication")["role"] == "master":
                        found.append(port)
            except (redis.RedisError, OSError):
                continue
        return found

    def stop(self) -> None:
        for port in list(self._processes):
            self.kill_node(port)


def _wait_ping(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with redis.Redis(port=port, socket_connect_timeout=0.2) as client:
                if client.ping():
                    return
        except (redis.RedisError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_cluster(folder: Path, *, ci: bool, masters: int = 3, replicas: int = 0) -> PrivateCluster:
    """A started PrivateCluster; if it cannot start: a failure under CI, a skip (with why) elsewhere."""
    cluster = PrivateCluster(folder, masters, replicas)
    try:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError("redis-server or redis-cli is not installed")
        cluster.start()
        return cluster
    except (RuntimeError, OSError, subprocess.SubprocessError, redis.RedisError) as error:
        cluster.stop()
        reason = f"a Redis Cluster could not start on loopback ({error})"
    if ci:
        pytest.fail(f"CI=true needs {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    """Three masters on free loopback ports, shared by the session's tests (each uses its own key
    prefix); fails under CI=true, skips elsewhere, when it cannot start."""
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"), ci=on_ci())
    yield cluster
    cluster.stop()


@dataclass(frozen=True)
class RedisTarget:
    """Where a test's Redis keys go: the shared single Redis or the session's cluster.

    async with redis_target.coordinator(workers=2) as coordinator: ...
    client = redis_target.client()   # redis.asyncio.Redis or RedisCluster; the test closes it
    """

    url: str
    cluster: bool
    prefix: str

    def coordinator(self, **options: Any) -> Any:
        from aio_tim.coordination import RedisCoordinator

        options.setdefault("key_prefix", self.prefix)
        return RedisCoordinator(self.url, cluster=self.cluster, **options)

    def client(self) -> Any:
        if self.cluster:
            return aioredis.RedisCluster.from_url(self.url)
        return aioredis.Redis.from_url(self.url)

    @property
    def inbox_shards(self) -> int:
        """The coordinator's default: one stream on a single Redis, spread over a cluster."""
        return 16 if self.cluster else 1

    def inbox(self, client: Any, **options: Any) -> Any:
        """A RedisInbox on `client` under the test's prefix, sharded as the coordinator would."""
        from aio_tim.coordination.redis_inbox import RedisInbox

        return RedisInbox(client, self.prefix, shards=self.inbox_shards, **options)

    def worker_flags(self) -> tuple[str, ...]:
        """The flags examples/workers.py needs for this Redis."""
        return ("--cluster",) if self.cluster else ()


@pytest.fixture(params=["redis", "cluster"])
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """The test runs twice: on the shared Redis (its `redis_prefix`, deleted afterwards) and on the
    session's three-master cluster (a prefix of its own; the cluster goes at the session's end)."""
    if request.param == "cluster":
        cluster: PrivateCluster = request.getfixturevalue("redis_cluster")
        return RedisTarget(cluster.url, True, f"aio_tim_test:{uuid.uuid4().hex[:12]}")
    return RedisTarget(request.getfixturevalue("redis_url"), False, request.getfixturevalue("redis_prefix"))
