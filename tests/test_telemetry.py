"""OpenTelemetry (`aio_tim.telemetry`, the `otel` extra): every TIM call, send, batch, enqueue,
delivery and received webhook records spans and metric points with the semantic conventions'
names, over real loopback against the dev server; nothing recorded carries a secret."""

from __future__ import annotations

import asyncio
import importlib.util
import random
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from aio_tim import Client, ConvType, FileElem, Message, TextElem
from aio_tim.coordination import RedisCoordinator
from aio_tim.devserver import DevServer
from aio_tim.errors import TIMError
from aio_tim.telemetry import Telemetry, redact_url
from aio_tim.telemetry import names as n
from aio_tim.telemetry.propagation import context_of
from aio_tim.testing import client_for
from aio_tim.testing.faultproxy import FaultPlan, FaultProxy

from cli_support import CLI, stop, user_env  # isort: skip

TOKEN = "webhook-token-for-the-telemetry-test"


@dataclass
class Recorded:
    """What an in-memory exporter and reader saw."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    telemetry: Telemetry

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def points(self, metric: str) -> list[Any]:
        found = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for each in scope.metrics:
                    if each.name == metric:
                        found.extend(each.data.data_points)
        return found


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=meter_provider, sample_interval=0.05
    )
    yield Recorded(exporter, reader, telemetry)
    meter_provider.shutdown()
    tracer_provider.shutdown()


def text(content: str) -> Message:
    return Message(elem_array=[TextElem(content=content)])


def secrets_in(recorded: Recorded, secrets: list[str]) -> list[str]:
    """Every recorded text (span names, attributes, events, links, metric labels) holding a secret."""
    texts: list[str] = []
    for span in recorded.spans():
        texts.append(span.to_json())
    data = recorded.reader.get_metrics_data()
    texts.append(data.to_json() if data else "")
    return [secret for secret in secrets if any(secret in t for t in texts)]


async def test_a_send_records_a_messaging_span_over_a_client_span(recorded: Recorded) -> None:
    """send_new_msg: `send c2c` (PRODUCER) with the REST attempt `POST /v4/openim/sendmsg` (CLIENT) inside."""
    async with DevServer() as server, client_for(server, "alice", telemetry=recorded.telemetry) as tim:
        await server.add_accounts("alice", "bob")
        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, text("hi"))
        url, port = server.url, server.port
        pipeline_sent = [p.value for p in recorded.points(n.PIPELINE_SENT)]
    (send,) = recorded.spans("send c2c")
    (rest,) = recorded.spans("POST /v4/openim/sendmsg")
    assert send.kind is SpanKind.PRODUCER and rest.kind is SpanKind.CLIENT
    assert rest.parent is not None and rest.parent.span_id == send.context.span_id
    assert send.attributes is not None and rest.attributes is not None
    assert dict(send.attributes) == {
        n.MESSAGING_SYSTEM: "tencent_im",
        n.MESSAGING_OPERATION_NAME: "send",
        n.MESSAGING_OPERATION_TYPE: "send",
        n.MESSAGING_DESTINATION_TEMPLATE: "c2c",
        n.MESSAGING_DESTINATION: "bob",
        n.MESSAGING_MESSAGE_ID: sent.msg_id,
    }
    assert rest.attributes[n.URL_TEMPLATE] == "/v4/openim/sendmsg"
    assert rest.attributes[n.HTTP_STATUS] == 200 and rest.attributes[n.HTTP_METHOD] == "POST"
    assert rest.attributes[n.URL_FULL] == f"{url}/v4/openim/sendmsg"
    assert rest.attributes[n.SERVER_PORT] == port
    (duration,) = [
        p for p in recorded.points(n.HTTP_CLIENT_DURATION) if p.attributes[n.URL_TEMPLATE].endswith("sendmsg")
    ]
    assert duration.count == 1 and duration.attributes[n.HTTP_STATUS] == 200
    (messaging,) = recorded.points(n.MESSAGING_DURATION)
    assert messaging.count == 1 and n.MESSAGING_DESTINATION not in messaging.attributes
    (sent_count,) = recorded.points(n.MESSAGING_SENT)
    assert sent_count.value == 1
    assert pipeline_sent == [1]


async def test_a_tim_error_is_the_spans_error_type_and_code(recorded: Recorded) -> None:
    """A send to an unknown account: error.type is the exception class, tim.error_code TIM's code."""
    async with DevServer() as server, client_for(server, "alice", telemetry=recorded.telemetry) as tim:
        await server.add_accounts("alice")
        with pytest.raises(Exception) as raised:
            await tim.msg.send_new_msg("no-such-group", ConvType.GROUP, text("hi"))
    code = raised.value.code  # type: ignore[attr-defined]
    (send,) = recorded.spans("send group")
    (rest,) = recorded.spans("POST /v4/group_open_http_svc/send_group_msg")
    for span in (send, rest):
        assert span.attributes is not None
        assert span.attributes[n.ERROR_TYPE] == type(raised.value).__qualname__
        assert span.attributes[n.TIM_ERROR_CODE] == code
        assert not span.status.is_ok
    (point,) = recorded.points(n.HTTP_CLIENT_DURATION)
    assert point.attributes[n.TIM_ERROR_CODE] == code


async def test_a_batch_of_1200_has_a_child_span_per_chunk(recorded: Recorded) -> None:
    """batch_send to 1,200: `send batch` with three `send batch_chunk` children (500, 500, 200)."""
    recipients = [f"u{i}" for i in range(1200)]
    async with DevServer() as server, client_for(server, "alice", telemetry=recorded.telemetry) as tim:
        await server.add_accounts("alice", *recipients)
        param = {"msg_batch_send_param_identifier_array": recipients, "msg_batch_send_param_msg": text("hey")}
        results = await tim.msg.batch_send(param)
    assert all(r.code == 0 for r in results)
    (batch,) = recorded.spans("send batch")
    chunks = recorded.spans("send batch_chunk")
    assert batch.attributes is not None and batch.attributes[n.MESSAGING_BATCH_COUNT] == 1200
    assert sorted(c.attributes[n.MESSAGING_BATCH_COUNT] for c in chunks if c.attributes) == [200, 500, 500]
    assert all(c.parent is not None and c.parent.span_id == batch.context.span_id for c in chunks)
    assert len(recorded.spans("POST /v4/openim/batchsendmsg")) == 3
    sent = {
        p.attributes[n.MESSAGING_DESTINATION_TEMPLATE]: p.value for p in recorded.points(n.MESSAGING_SENT)
    }
    assert sent == {"batch": 1200, "batch_chunk": 1200}


async def test_a_retried_call_behind_the_fault_proxy(recorded: Recorded) -> None:
    """A 502 then a pass: two CLIENT spans, the second with resend_count 1 and the retry kind; a
    `retry` event on the send span; the pipeline's retried counter says 1."""
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        rng = random.Random(_seed_for_fault_then_pass())
        plan = FaultPlan(bad_gateway=0.5)
        async with (
            FaultProxy("127.0.0.1", server.port, plan=plan, rng=rng) as proxy,
            client_for(server, "alice", base_url=proxy.url, telemetry=recorded.telemetry) as tim,
        ):
            await tim.msg.send_new_msg("bob", ConvType.C2C, text("through"))
            retried = [p.value for p in recorded.points(n.PIPELINE_RETRIED)]
    first, second = sorted(recorded.spans("POST /v4/openim/sendmsg"), key=lambda s: s.start_time or 0)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes[n.HTTP_STATUS] == 502 and first.attributes[n.ERROR_TYPE] == "502"
    assert second.attributes[n.HTTP_RESEND_COUNT] == 1 and second.attributes[n.TIM_RETRY_KIND] == "ambiguous"
    (send,) = recorded.spans("send c2c")
    (event,) = send.events
    assert event.name == "retry" and event.attributes and event.attributes[n.TIM_ERROR_CODE] == 60008
    assert retried == [1]
    statuses = sorted(p.attributes.get(n.HTTP_STATUS) for p in recorded.points(n.HTTP_CLIENT_DURATION))
    assert statuses == [200, 502]


def _seed_for_fault_then_pass() -> int:
    """A seed whose first draw faults (< 0.5) and second passes."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < 0.5 <= rng.random():
            return seed
    raise AssertionError("no seed")


async def test_an_enqueued_message_is_delivered_in_a_linked_span_sqlite(
    recorded: Recorded, tmp_path: Path
) -> None:
    """enqueue (SQLite outbox): `enqueue c2c` then `deliver c2c` linked to it; outbox depth by state."""
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        options = {"store_path": tmp_path / "a.db", "outbox": True, "telemetry": recorded.telemetry}
        async with client_for(server, "alice", **options) as tim:
            queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("later"))
            await tim.outbox_result(queued, 10)
            await asyncio.sleep(0.2)  # a sample of the outbox's depth
            depth = {p.attributes[n.OUTBOX_STATE]: p.value for p in recorded.points(n.OUTBOX_MESSAGES)}
    _assert_linked(recorded)
    assert depth.get("sent") == 1 and depth.get("queued", 0) == 0


async def test_an_enqueued_message_is_delivered_in_a_linked_span_redis(
    recorded: Recorded, redis_url: str, redis_prefix: str
) -> None:
    """enqueue (Redis streams outbox): the delivery's span links to the enqueue's."""
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        async with (
            RedisCoordinator(redis_url, key_prefix=redis_prefix, shards=1) as shared,
            client_for(server, "alice", coordinator=shared, telemetry=recorded.telemetry) as tim,
        ):
            queued = await tim.msg.enqueue_new_msg("bob", ConvType.C2C, text("later"))
            await tim.outbox_result(queued, 10)
    _assert_linked(recorded)


def _another_process(recorded: Recorded) -> Telemetry:
    """A Telemetry recording into the same providers but knowing nothing of the first one's
    enqueues, as a drainer in another process would."""
    first = recorded.telemetry
    return Telemetry(tracer_provider=first._tracer_provider, meter_provider=first._meter_provider)


async def test_the_trace_context_crosses_the_sqlite_outbox_to_another_drainer(
    recorded: Recorded, tmp_path: Path
) -> None:
    """A message enqueued by one client (its server unreachable, so it stays queued) and delivered
    by another opening the same store: the delivery links to the enqueue's span, carried in the row."""
    store = {"store_path": tmp_path / "a.db", "outbox": True}
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        gone = {"base_url": "http://127.0.0.1:9", "telemetry": recorded.telemetry}
        async with client_for(server, "alice", **store, **gone) as first:
            queued = await first.msg.enqueue_new_msg("bob", ConvType.C2C, text("carried"))
        async with client_for(server, "alice", **store, telemetry=_another_process(recorded)) as second:
            await second.outbox_result(queued, 10)
    (enqueue,) = recorded.spans("enqueue c2c")
    delivered = [s for s in recorded.spans("deliver c2c") if s.status.is_ok]
    assert [[link.context.span_id for link in s.links] for s in delivered] == [[enqueue.context.span_id]]
    assert delivered[0].links[0].context.trace_id == enqueue.context.trace_id


def test_a_stamped_row_decodes_as_the_message_and_gives_its_trace_once() -> None:
    """The row's bytes: the trace context first, under a key the Message decoder ignores."""
    from aio_tim.telemetry import carry
    from aio_tim.types import encode

    message = Message(elem_array=[TextElem(content="x")], rand=7, seq=8, client_time=9)
    header = f"00-{'a' * 32}-{'b' * 16}-01"
    assert carry.stamped(encode(message)) == encode(message)  # nothing to carry: unchanged
    token = carry.ENQUEUE_TRACE.set(header)
    try:
        row = carry.stamped(encode(message))
    finally:
        carry.ENQUEUE_TRACE.reset(token)
    assert row.startswith(b'{"aio_tim_traceparent":"00-') and carry.claimed(row) == message
    assert carry.claimed_trace(message) == header and carry.claimed_trace(message) is None


def _assert_linked(recorded: Recorded) -> None:
    (enqueue,) = recorded.spans("enqueue c2c")
    (deliver,) = recorded.spans("deliver c2c")
    assert enqueue.attributes is not None and enqueue.attributes[n.MESSAGING_OPERATION_TYPE] == "create"
    assert [link.context.span_id for link in deliver.links] == [enqueue.context.span_id]
    assert deliver.context.trace_id != enqueue.context.trace_id  # the drainer's own trace
    (rest,) = recorded.spans("POST /v4/openim/sendmsg")
    assert rest.parent is not None and rest.parent.span_id == deliver.context.span_id


@pytest.fixture
async def receiving(recorded: Recorded, tmp_path: Path) -> AsyncIterator[tuple[DevServer, Any]]:
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        options = {"store_path": tmp_path / "bob.db", "webhook_token": TOKEN, "telemetry": recorded.telemetry}
        async with client_for(server, "bob", **options) as bob:
            server.set_webhook(await bob.listen(), token=TOKEN)
            yield server, bob


async def test_a_received_webhook_records_a_consumer_span_and_the_backlog(
    recorded: Recorded, receiving: tuple[DevServer, Any]
) -> None:
    """A webhook: `receive webhook` (CONSUMER) with its command; consumed counter; inbox backlog sampled."""
    server, _ = receiving
    async with client_for(server, "alice") as alice:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("to bob"))
    await server.webhooks_idle()
    await asyncio.sleep(0.2)
    received = recorded.spans("receive webhook")
    assert received and all(s.kind is SpanKind.CONSUMER for s in received)
    commands = {s.attributes[n.TIM_COMMAND] for s in received if s.attributes}
    assert "C2C.CallbackAfterSendMsg" in commands
    assert all(s.attributes and s.attributes[n.HTTP_STATUS] == 200 for s in received)
    assert sum(p.value for p in recorded.points(n.MESSAGING_CONSUMED)) == len(received)
    backlog = {p.attributes[n.MESSAGING_CONSUMER_GROUP]: p.value for p in recorded.points(n.INBOX_BACKLOG)}
    assert backlog["default"] >= 1


async def test_nothing_recorded_carries_a_secret(
    recorded: Recorded, receiving: tuple[DevServer, Any]
) -> None:
    """Every operation, then a scan of everything recorded: no UserSig, secret key or webhook token;
    the scan itself finds a UserSig put into an attribute on purpose."""
    server, bob = receiving
    usersig = bob._connection._signer.current()
    async with client_for(server, "alice", telemetry=recorded.telemetry) as alice:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("hi"))
        await alice.msg.batch_send(
            {"msg_batch_send_param_identifier_array": ["bob"], "msg_batch_send_param_msg": text("b")}
        )
        await alice.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 10})
        alice_sig = alice._connection._signer.current()
    await server.webhooks_idle()
    await asyncio.sleep(0.2)
    secrets = sorted({usersig, alice_sig, server.secret_key, TOKEN})
    assert len(recorded.spans()) >= 5
    assert secrets_in(recorded, secrets) == []
    span = recorded.telemetry._tracer.start_span("planted")
    span.set_attribute("oops", f"https://x/v4/y?usersig={alice_sig}")
    span.end()
    assert secrets_in(recorded, secrets) == [alice_sig]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://h/v4/a?sdkappid=1&usersig=eJw*x-y&random=2",
            "https://h/v4/a?sdkappid=1&usersig=REDACTED&random=2",
        ),
        (
            "http://u:p@h:8/cb?sign=abc&token=t&RequestTime=1",
            "http://h:8/cb?sign=REDACTED&token=REDACTED&RequestTime=1",
        ),
        ("https://h/path", "https://h/path"),
    ],
)
def test_redact_url_strips_usersig_and_tokens(url: str, expected: str) -> None:
    """The url_filter for the stock aiohttp instrumentation: secrets' values and user info go."""
    assert redact_url(url) == expected


async def test_off_by_default_without_a_provider() -> None:
    """No provider configured: telemetry stays inactive and nothing is made."""
    async with DevServer() as server, client_for(server, "alice") as tim:
        assert tim.telemetry.active is False
        await server.add_accounts("alice", "bob")
        await tim.msg.send_text("bob", ConvType.C2C, "plain")


@pytest.mark.parametrize("url_filter", [None, redact_url], ids=["stock", "redact_url"])
async def test_the_stock_aiohttp_instrumentation_needs_redact_url(
    recorded: Recorded, url_filter: Any
) -> None:
    """The stock aiohttp-client instrumentation records the UserSig in url.full by itself (its
    redaction knows `sig`, not `usersig`); with `url_filter=redact_url` it records none."""
    stock = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
    instrumentor = stock.AioHttpClientInstrumentor()
    tracer_provider = recorded.telemetry._tracer_provider
    instrumentor.instrument(tracer_provider=tracer_provider, url_filter=url_filter)
    try:
        async with DevServer() as server, client_for(server, "alice") as tim:
            await server.add_accounts("alice", "bob")
            await tim.msg.send_text("bob", ConvType.C2C, "hi")
            usersig = tim._connection._signer.current()
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in recorded.spans()] == ["POST"]
    leaked = secrets_in(recorded, [usersig])
    assert leaked == ([usersig] if url_filter is None else [])


async def test_the_console_example_prints_every_kind_of_span(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/telemetry_console.py: send, enqueue, deliver and receive spans, then the metrics."""
    path = Path(__file__).parent.parent / "examples" / "telemetry_console.py"
    spec = importlib.util.spec_from_file_location("example_telemetry_console", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    names = await example.main()
    expected = {"send c2c", "enqueue c2c", "deliver c2c", "receive webhook", "POST /v4/openim/sendmsg"}
    assert expected <= set(names)
    printed = capsys.readouterr().out
    assert "deliver c2c [PRODUCER] links=1" in printed and "aio_tim.pipeline.sent {} 2" in printed


async def test_a_history_page_is_an_internal_span_with_its_roaming_calls_inside(recorded: Recorded) -> None:
    """get_msg_list with roaming: `get_msg_list c2c` (INTERNAL), the REST call its child, the count kept."""
    async with DevServer() as server:
        await server.add_accounts("alice", "bob")
        async with client_for(server, "bob") as bob:
            await bob.msg.send_text("alice", ConvType.C2C, "one")
            await bob.msg.send_text("alice", ConvType.C2C, "two")
        async with client_for(server, "alice", telemetry=recorded.telemetry) as alice:
            param = {"msg_getmsglist_param_count": 10, "msg_getmsglist_param_is_remble": True}
            page = await alice.msg.get_msg_list("bob", ConvType.C2C, param)
    assert len(page) == 2
    (span,) = recorded.spans("get_msg_list c2c")
    assert span.kind is SpanKind.INTERNAL and span.attributes is not None
    assert span.attributes[n.MESSAGING_DESTINATION] == "bob"
    assert span.attributes[n.MESSAGING_BATCH_COUNT] == 2
    children = [
        s for s in recorded.spans() if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    assert children and all(c.kind is SpanKind.CLIENT for c in children)


async def test_a_consumed_event_is_a_process_span_from_hand_out_to_ack(
    recorded: Recorded, receiving: tuple[DevServer, Any]
) -> None:
    """`tim.events()`: each event handed out opens a CONSUMER `process webhook` span that its
    acknowledgement ends, with the consumer's name and TIM's command; no span before the ack."""
    server, bob = receiving
    async with client_for(server, "alice") as alice:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("process me"))
    await server.webhooks_idle()
    stream = bob.events("worker", auto_ack=False)
    event = await asyncio.wait_for(anext(stream), 5)
    assert recorded.spans("process webhook") == []
    await event.ack()
    (span,) = recorded.spans("process webhook")
    assert span.kind is SpanKind.CONSUMER and span.attributes is not None
    assert span.attributes[n.MESSAGING_CONSUMER_GROUP] == "worker"
    assert span.attributes[n.TIM_COMMAND] == "C2C.CallbackAfterSendMsg"
    assert span.attributes[n.MESSAGING_OPERATION_TYPE] == "process"
    await stream.aclose()


async def test_an_unacknowledged_event_ends_its_span_as_an_error_when_the_stream_closes(
    recorded: Recorded, receiving: tuple[DevServer, Any]
) -> None:
    server, bob = receiving
    async with client_for(server, "alice") as alice:
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("left unacknowledged"))
    await server.webhooks_idle()
    stream = bob.events("quitter", auto_ack=False)
    await asyncio.wait_for(anext(stream), 5)
    await stream.aclose()
    (span,) = recorded.spans("process webhook")
    assert span.attributes is not None and span.attributes[n.ERROR_TYPE] == "unacknowledged"


async def test_an_upload_and_a_download_record_spans_and_their_bytes(
    recorded: Recorded, tmp_path: Path
) -> None:
    """`upload file` and `download file` (INTERNAL) carry the bytes they moved; the download
    bytes counter adds them up."""
    data = random.Random(7).randbytes(70_000)
    local = tmp_path / "report.bin"
    local.write_bytes(data)
    async with DevServer() as server, client_for(server, "alice", telemetry=recorded.telemetry) as alice:
        sent = await alice.msg.send_new_msg(
            "bob", ConvType.C2C, Message(elem_array=[FileElem(file_path=str(local))])
        )
        url = sent.elem_array[0].url  # type: ignore[union-attr]
        await alice.transfers.download({"msg_download_elem_param_url": url}, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == data
    (upload,) = recorded.spans("upload file")
    (download,) = recorded.spans("download file")
    for span in (upload, download):
        assert span.kind is SpanKind.INTERNAL and span.attributes is not None
        assert span.attributes[n.TRANSFER_BYTES] == len(data)
    assert sum(p.value for p in recorded.points(n.DOWNLOAD_BYTES)) == len(data)
    assert sum(p.value for p in recorded.points(n.UPLOAD_BYTES)) == len(data)


async def test_the_dev_server_continues_the_clients_trace(recorded: Recorded) -> None:
    """Both ends of a call: the client's REST span sends its `traceparent`, and the dev server's
    SERVER span is its child in the same trace, with the route and TIM's ErrorCode."""
    telemetry = recorded.telemetry
    async with (
        DevServer(telemetry=telemetry) as server,
        client_for(server, "alice", telemetry=telemetry) as alice,
    ):
        await alice.msg.send_new_msg("bob", ConvType.C2C, text("both ends"))
        with pytest.raises(TIMError):
            await alice.msg.send_new_msg("no-such-group", ConvType.GROUP, text("x"))
    client_spans = [s for s in recorded.spans() if s.kind is SpanKind.CLIENT]
    server_spans = [s for s in recorded.spans() if s.kind is SpanKind.SERVER]
    assert len(server_spans) == len(client_spans) >= 2
    by_id = {s.context.span_id: s for s in client_spans}
    for span in server_spans:
        assert span.parent is not None and span.parent.is_remote
        caller = by_id[span.parent.span_id]
        assert span.context.trace_id == caller.context.trace_id and span.name == caller.name
    codes = {s.name: (s.attributes or {}).get(n.TIM_ERROR_CODE) for s in server_spans}
    assert codes["POST /v4/openim/sendmsg"] is None
    assert codes["POST /v4/group_open_http_svc/send_group_msg"] == 10010
    assert sum(p.count for p in recorded.points(n.HTTP_SERVER_DURATION)) == len(server_spans)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "00-" + "0" * 32 + "-" + "1" * 16 + "-01",
        "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
    ],
)
def test_a_missing_or_malformed_traceparent_starts_a_new_trace(header: str | None) -> None:
    assert context_of(header) is None


def test_serve_otel_prints_the_servers_spans_with_the_callers_trace(
    recorded: Recorded, tmp_path: Path
) -> None:
    """`aio-tim serve --otel`: a span per REST call on stderr, in the calling client's trace."""
    key = "k" * 32
    errors = tmp_path / "stderr.txt"

    async def send(url: str) -> None:
        options = {"sdk_app_id": 1400000000, "user_id": "alice", "secret_key": key, "base_url": url}
        async with Client(**options, telemetry=recorded.telemetry) as alice:  # type: ignore[arg-type]
            await alice.msg.send_new_msg("bob", ConvType.C2C, text("traced"))

    with errors.open("w") as sink:
        server = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--secret-key", key, "--otel"],
            stdout=subprocess.PIPE, stderr=sink, text=True, env=user_env(tmp_path),
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = next(m[1] for line in server.stdout if (m := re.search(r"listening on (\S+)", line)))
            asyncio.run(send(url))
        finally:
            stop(server)
    (call,) = recorded.spans("POST /v4/openim/sendmsg")
    printed = errors.read_text()
    assert '"name": "POST /v4/openim/sendmsg"' in printed
    assert f'"trace_id": "0x{call.context.trace_id:032x}"' in printed
    assert key not in printed
