"""Redis Cluster (issue 32): the shared inbox spreads over every master by conversation, each
conversation's events in order; the cluster fixture's own rules; the key rules every cluster
path relies on (one hash tag per shard, no braces in the prefix, a conversation per webhook)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot
from redis_support import PrivateCluster, RedisTarget, on_ci, start_cluster

from aio_tim import ConvType, Message, TextElem
from aio_tim.coordination import RedisCoordinator
from aio_tim.coordination.redis_inbox import RedisInbox
from aio_tim.coordination.redis_shards import conversation_of, shard_base
from aio_tim.devserver import DevServer
from aio_tim.seams.inbox import NewEntry
from aio_tim.testing import client_for

PEERS = 30
PER_PEER = 4


def per_master(cluster: PrivateCluster, prefix: str) -> dict[int, tuple[int, int]]:
    """(keys under `prefix`, inbox entries in their streams) on each master, by port."""
    found = {}
    for port in cluster.masters():
        with redis.Redis(port=port) as node:
            keys = list(node.scan_iter(match=f"{prefix}:*", count=1000))
            streams = [k for k in keys if k.endswith(b":s") and b":inbox:" in k]
            found[port] = (len(keys), sum(int(node.xlen(k)) for k in streams))
    return found


async def test_the_inbox_spreads_over_every_master(redis_cluster: PrivateCluster) -> None:
    """120 C2C messages in 30 conversations, received as webhooks by one worker of a cluster
    coordinator and processed by another: every event once, each conversation's in order, and the
    inbox's entries on all three masters (per-master counts printed)."""
    target = RedisTarget(redis_cluster.url, True, f"aio_tim_test:{uuid.uuid4().hex[:12]}")
    async with (
        DevServer(limits=None) as server,
        target.coordinator() as shared,
        client_for(server, "bob", coordinator=shared) as receiver,
        client_for(server, "bob", coordinator=shared) as processor,
        client_for(server, "alice") as alice,
    ):
        server.set_webhook(await receiver.listen())
        for k in range(PER_PEER):
            await asyncio.gather(*(
                alice.msg.send_new_msg(f"u{j}", ConvType.C2C, {"message_elem_array": [
                    {"elem_type": 0, "text_elem_content": f"u{j}:{k}"}]})
                for j in range(PEERS)
            ))  # fmt: skip
        await server.webhooks_idle()
        seen: dict[str, list[int]] = {}
        async with asyncio.timeout(20):
            async for event in processor.events():
                if event.command == "C2C.CallbackAfterSendMsg" and event.message is not None:
                    element = event.message.elem_array[0]
                    assert isinstance(element, TextElem)
                    peer, _, index = element.content.partition(":")
                    seen.setdefault(peer, []).append(int(index))
                if sum(len(v) for v in seen.values()) == PEERS * PER_PEER:
                    await event.ack()
                    break
        counts = per_master(redis_cluster, target.prefix)
    print("inbox per master (port: keys, entries):", counts)
    assert seen == {f"u{j}": list(range(PER_PEER)) for j in range(PEERS)}  # once each, in order
    assert len(counts) == 3 and all(entries > 0 for _, entries in counts.values())
    assert sum(entries for _, entries in counts.values()) >= PEERS * PER_PEER


def test_a_cluster_that_cannot_start_fails_under_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No redis-server on PATH: a failure under CI=true, elsewhere a skip that gives the reason."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="CI=true needs a Redis Cluster"):
        start_cluster(tmp_path, ci=True)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        start_cluster(tmp_path, ci=False)


def test_a_prefix_with_braces_is_refused() -> None:
    """Braces in key_prefix would move every key's hash tag: refused before anything connects."""
    with pytest.raises(ValueError, match="hash tags"):
        RedisCoordinator(key_prefix="app{1}")


def test_a_shards_keys_share_one_hash_tag() -> None:
    """Every key of a shard carries the same tag, naming the app and the shard."""
    base = shard_base("aio_tim:outbox:1400000000", 3)
    assert base == "aio_tim:outbox:1400000000:{1400000000:3}"
    slots = {key_slot(f"{base}:{name}".encode()) for name in ("s", "lease", "stats", "dead")}
    assert len(slots) == 1


def test_a_webhook_names_its_conversation() -> None:
    """A group's webhooks, a C2C pair's (either direction) and a user's state go together."""
    assert conversation_of(b'{"GroupId":"g1","From_Account":"a"}') == "g:g1"
    assert conversation_of(b'{"From_Account":"a","To_Account":"b"}') == "c:a|b"
    assert conversation_of(b'{"From_Account":"b","To_Account":"a"}') == "c:a|b"
    assert conversation_of(b'{"Info":{"Action":"Login","To_Account":"a"}}') == "u:a"
    assert conversation_of(b'{"To_Account":["a","b"]}') == ""  # not a conversation: shard 0's
    assert conversation_of(b"not json") == ""


async def test_a_sharded_inbox_on_one_redis_keeps_each_conversation_in_order(
    redis_target: RedisTarget,
) -> None:
    """Four shards (on one Redis, and on the cluster): 400 events of 20 conversations, read by one
    consumer in batches: each handed out once, each conversation's in the order appended."""
    client = redis_target.client()
    try:
        inbox = RedisInbox(client, redis_target.prefix, shards=4)
        for k in range(20):
            await inbox.append([
                NewEntry(key=f"k{j}:{k}", command="C2C.CallbackAfterSendMsg",
                         body=f'{{"From_Account":"u{j}","To_Account":"bot","n":{k}}}'.encode())
                for j in range(20)
            ])  # fmt: skip
        seen: dict[str, list[int]] = {}
        handed: Counter[str] = Counter()
        last = None
        while got := await inbox.read("bot", after=last, limit=32):
            for entry in got:
                handed[entry.key] += 1
                peer, _, index = entry.key.partition(":")
                seen.setdefault(peer, []).append(int(index))
            last = got[-1].position
            await inbox.ack("bot", [e.position for e in got])
        assert max(handed.values()) == 1 and len(handed) == 400
        assert seen == {f"k{j}": list(range(20)) for j in range(20)}
        assert await inbox.backlog("bot") == 0
        await inbox.aclose()
    finally:
        await client.aclose()


async def test_a_master_failed_over_mid_drain_loses_nothing(tmp_path: Path) -> None:
    """Three masters with a replica each; 400 messages enqueued, two workers draining; a master
    SIGKILLed after 100 are sent and its replica promoted: every message reaches the server, none
    twice, and the counters count each once."""
    cluster = start_cluster(tmp_path, ci=on_ci(), replicas=1)
    try:
        async with (
            DevServer(db_path=tmp_path / "server.db", limits=None) as server,
            RedisCoordinator(cluster.url, cluster=True, key_prefix="t", drain=False) as front,
            RedisCoordinator(cluster.url, cluster=True, key_prefix="t", visibility_timeout=2.0) as back,
            client_for(server, "alice", coordinator=front) as alice,
        ):
            queued = [
                await alice.msg.enqueue_new_msg(f"p{i % 20}", ConvType.C2C, Message(
                    elem_array=[TextElem(content=f"m{i}")])) for i in range(400)
            ]  # fmt: skip
            async with (
                client_for(server, "alice", coordinator=back),
                client_for(server, "alice", coordinator=back),
            ):
                await until(alice, lambda c: c["sent"] >= 100, 30)
                victim = next(port for port in cluster.masters() if port != cluster.ports[0])
                cluster.kill_node(victim)
                counts = await until(
                    alice, lambda c: c["sent"] >= 400 and not c["queued"] + c["inflight"], 60
                )
        with sqlite3.connect(tmp_path / "server.db") as db:
            rows = db.execute("SELECT to_account, msg_random FROM c2c_msgs WHERE kind = 'send'").fetchall()
        db.close()
    finally:
        cluster.stop()
    sends = Counter((str(t), int(r)) for t, r in rows)
    lost = sum(1 for q in queued if (q.conv_id, q.rand) not in sends)
    duplicated = sum(n - 1 for n in sends.values())
    print(f"a master failed over mid-drain: tried 400, lost {lost}, duplicated {duplicated}, counts {counts}")
    assert (lost, duplicated) == (0, 0)
    assert counts["sent"] == 400


async def until(tim: Any, done: Callable[[dict[str, int]], bool], seconds: float) -> dict[str, int]:
    """The outbox's counts once `done` says so, or after `seconds` (the asserts tell)."""
    counts: dict[str, int] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                try:
                    counts = await tim.outbox_statistics()
                except (redis.RedisError, OSError):  # the failover under way: ask again
                    counts = {}
                if counts and done(counts):
                    break
                await asyncio.sleep(0.05)
    return counts
