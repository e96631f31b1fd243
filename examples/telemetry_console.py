"""OpenTelemetry on the console: a client sends, enqueues and receives against an embedded dev
server, and every span aio_tim records is printed as one line as it ends; the metrics follow.

    pip install 'aio_tim[otel]' opentelemetry-sdk
    .venv/bin/python examples/telemetry_console.py

The same providers, given an OTLP or Prometheus exporter instead of the console, feed a real
backend (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from aio_tim import ConvType, Message, TextElem
from aio_tim.devserver import DevServer
from aio_tim.telemetry import Telemetry
from aio_tim.testing import client_for


def one_line(span: ReadableSpan) -> str:
    """`name kind {attributes}`, trace and span ids shortened: what to look at first."""
    context = span.context
    ids = f"{context.trace_id:032x}"[:8] + "/" + f"{context.span_id:016x}"[:8] if context else ""
    links = f" links={len(span.links)}" if span.links else ""
    return f"{ids} {span.name} [{span.kind.name}]{links} {dict(span.attributes or {})}\n"


def metric_lines(reader: InMemoryMetricReader) -> list[str]:
    """Each metric point as `name {attributes} value` (a histogram: its count and sum)."""
    lines = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value: Any = getattr(point, "value", None)
                    if value is None:
                        value = f"count={point.count} sum={point.sum:.4f}"  # type: ignore[union-attr]
                    lines.append(f"{metric.name} {dict(point.attributes or {})} {value}")
    return lines


async def main(out: Any = sys.stdout) -> list[str]:
    """Send, enqueue and receive once each; returns the names of the spans printed."""
    names: list[str] = []
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=one_line)))
    tracer_provider.add_span_processor(SimpleSpanProcessor(_Names(names)))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    with tempfile.TemporaryDirectory() as folder:
        async with DevServer() as server:
            await server.add_accounts("alice", "bob")
            async with (
                client_for(server, "bob", store_path=Path(folder, "bob.db"), telemetry=telemetry) as bob,
                client_for(
                    server, "alice", store_path=Path(folder, "alice.db"), outbox=True, telemetry=telemetry
                ) as alice,
            ):
                server.set_webhook(await bob.listen())
                await alice.msg.send_text("bob", ConvType.C2C, "hello")
                queued = await alice.msg.enqueue_new_msg(
                    "bob", ConvType.C2C, Message(elem_array=[TextElem(content="later")])
                )
                await alice.outbox_result(queued, 10)
                await server.webhooks_idle()
                await asyncio.sleep(0.1)
                print("--- metrics", file=out)
                for line in metric_lines(reader):
                    print(line, file=out)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return names


class _Names(SpanExporter):
    """Keeps the ended spans' names (for the example's test)."""

    def __init__(self, names: list[str]) -> None:
        self._names = names

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._names.extend(span.name for span in spans)
        return SpanExportResult.SUCCESS


if __name__ == "__main__":
    asyncio.run(main())
