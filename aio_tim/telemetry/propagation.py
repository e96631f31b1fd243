"""W3C Trace Context (`traceparent`) written and read by hand: the client's REST calls carry their
span's context to the server, and the dev server's spans continue it, so a trace shows both ends.

Written here rather than through `opentelemetry.propagate` because the global propagator may be
configured for other formats (B3, Jaeger) or none; TIM's REST API ignores the header either way.
"""

from __future__ import annotations

import re
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

__all__ = ["TRACEPARENT", "context_of", "span_context_of", "traceparent"]

TRACEPARENT: Final = "traceparent"
_FORMAT: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def traceparent(span: Any) -> str:
    """The `traceparent` header naming `span` as the parent of what the request causes."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def span_context_of(header: str | None) -> SpanContext | None:
    """The remote span `header` names; None when the header is absent or malformed (an all-zero
    id is invalid too, as the W3C spec says)."""
    match = _FORMAT.fullmatch(header or "")
    if match is None:
        return None
    trace_id, span_id = int(match[1], 16), int(match[2], 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(match[3], 16)))


def context_of(header: str | None) -> Any:
    """The OpenTelemetry context whose parent is the remote span `header` names (None: a new trace)."""
    remote = span_context_of(header)
    return None if remote is None else trace.set_span_in_context(NonRecordingSpan(remote))
