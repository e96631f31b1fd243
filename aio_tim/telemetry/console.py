"""Spans printed to the console, for `aio-tim serve --otel`: the quickest way to see a call's trace
at both ends without a collector. Needs the OpenTelemetry SDK (`pip install opentelemetry-sdk`)."""

from __future__ import annotations

import sys
from typing import TextIO

from .core import Telemetry

__all__ = ["console_telemetry"]


def console_telemetry(out: TextIO = sys.stderr) -> Telemetry:
    """A `Telemetry` that writes each finished span to `out` as JSON; ImportError, naming the
    package to install, when the SDK is missing."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        raise ImportError("console spans need the OpenTelemetry SDK: pip install opentelemetry-sdk") from None
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    return Telemetry(tracer_provider=provider)
