"""`Telemetry`: aio_tim's spans and metrics, recorded through the OpenTelemetry API when it is
installed (`pip install 'aio_tim[otel]'`) and a provider is configured.

Whether to record is decided once, when the client opens (`activate`): with no package, no
provider, or `enabled=False`, every call site sees `active` False and takes its plain path, so
telemetry that is off costs one attribute read per operation. Call sites never import
opentelemetry; this module is the only one that does.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from . import names as n

try:  # the optional extra
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider
    from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, StatusCode

    from .instruments import Sampled, instruments_for
    from .propagation import TRACEPARENT, context_of, span_context_of, traceparent
except ImportError:  # pragma: no cover - exercised by the benchmark's "off" mode
    trace = None  # type: ignore[assignment]

__all__ = ["ATTEMPT", "Operation", "Processing", "RestRecord", "Telemetry", "Transfer", "available"]

MAX_REMEMBERED: Final = 10_000
"""Enqueued messages whose span context is kept for their delivery's link (oldest dropped first)."""

Attributes = Mapping[str, str | int | float | bool]

ATTEMPT: Final[contextvars.ContextVar[tuple[int, str]]] = contextvars.ContextVar("aio_tim_attempt")
"""(attempt number, the previous attempt's failure kind), set by the pipeline while telemetry is on."""


def available() -> bool:
    """Whether the opentelemetry API is importable (the `otel` extra)."""
    return trace is not None


class RestRecord:
    """One REST attempt: the `headers` to send (the span's `traceparent`), and what the connection
    (or the dev server) learns: the HTTP status and TIM's ErrorCode."""

    __slots__ = ("error_code", "headers", "status")

    def __init__(self) -> None:
        self.status = 0
        self.error_code = 0
        self.headers: dict[str, str] | None = None


class Operation:
    """One messaging operation under way: its `span`, and `count`, the messages it carries."""

    __slots__ = ("count", "span")

    def __init__(self, span: Any, count: int) -> None:
        self.span = span
        self.count = count


class Transfer:
    """One download or upload under way: the caller sets `size`, the bytes it moved."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0


class Processing:
    """An event handed to a consumer: a `process webhook` span from hand-out to acknowledgement.
    It is not the current span (the consumer's code runs outside the iterator), so `end` closes it."""

    __slots__ = ("_duration", "_labels", "_span", "_started")

    def __init__(self, span: Any, labels: dict[str, Any], duration: Any) -> None:
        self._span, self._labels, self._duration = span, labels, duration
        self._started = time.perf_counter()

    def end(self, acknowledged: bool = True) -> None:
        if not acknowledged:  # the stream closed first: the event will be handed out again
            self._labels[n.ERROR_TYPE] = "unacknowledged"
            self._span.set_attribute(n.ERROR_TYPE, "unacknowledged")
            self._span.set_status(StatusCode.ERROR)
        self._duration.record(time.perf_counter() - self._started, self._labels)
        self._span.end()


class Telemetry:
    """aio_tim's instrumentation. `Client(telemetry=Telemetry(tracer_provider=..., meter_provider=...))`
    records into those providers; the default records into the global ones (`trace.set_tracer_provider`)
    when they are set before the client opens. `sample_interval` seconds between two readings of the
    outbox's and inbox's depths (they cost a store query each).

        trace.set_tracer_provider(TracerProvider())     # before `async with Client(...)`
        async with Client(..., telemetry=Telemetry()) as tim: ...
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        enabled: bool = True,
        sample_interval: float = 5.0,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._enabled = enabled
        self.sample_interval = sample_interval
        self.active = False
        self._enqueued: dict[Hashable, Any] = {}

    def __repr__(self) -> str:
        return f"<Telemetry active={self.active} enabled={self._enabled}>"

    # --- switching on ---------------------------------------------------------------------------

    def activate(self) -> bool:
        """Decide, once, whether to record: the package is there and a provider is configured."""
        if self.active or not self._enabled or trace is None:
            return self.active
        tracer_provider = self._tracer_provider or trace.get_tracer_provider()
        meter_provider = self._meter_provider or metrics.get_meter_provider()
        tracing = not isinstance(tracer_provider, ProxyTracerProvider | NoOpTracerProvider)
        metering = not isinstance(meter_provider, _ProxyMeterProvider | NoOpMeterProvider)
        if tracing or metering:
            self._make_instruments(tracer_provider, meter_provider)
            self.active = True
        return self.active

    def _make_instruments(self, tracer_provider: Any, meter_provider: Any) -> None:
        self._tracer = tracer_provider.get_tracer(n.INSTRUMENTATION_SCOPE)
        self._metrics = instruments_for(meter_provider, n.INSTRUMENTATION_SCOPE)
        self._sampled = Sampled()
        self._metrics.samples.add(self._sampled)

    # --- spans ----------------------------------------------------------------------------------

    @contextmanager
    def rest_call(self, endpoint: str, address: str, port: int, url: str) -> Iterator[RestRecord]:
        """A CLIENT span and a `http.client.request.duration` point for one REST attempt."""
        record = RestRecord()
        attributes: dict[str, Any] = {
            n.HTTP_METHOD: "POST",
            n.URL_TEMPLATE: f"/v4/{endpoint}",
            n.SERVER_ADDRESS: address,
            n.SERVER_PORT: port,
        }
        attempt = ATTEMPT.get(None)
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"POST /v4/{endpoint}", kind=SpanKind.CLIENT, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            span.set_attribute(n.URL_FULL, url)
            record.headers = {TRACEPARENT: traceparent(span)}
            if attempt is not None and attempt[0] > 1:
                span.set_attributes({n.HTTP_RESEND_COUNT: attempt[0] - 1, n.TIM_RETRY_KIND: attempt[1]})
            error: BaseException | None = None
            try:
                yield record
            except BaseException as exc:
                error = exc
                raise
            finally:
                outcome = _rest_outcome(record, error)
                attributes.update(outcome)
                span.set_attributes(outcome)
                if n.ERROR_TYPE in outcome:
                    span.set_status(StatusCode.ERROR)
                self._metrics.http_duration.record(time.perf_counter() - started, attributes)

    @contextmanager
    def server_call(self, endpoint: str, headers: Mapping[str, str]) -> Iterator[RestRecord]:
        """A SERVER span for one REST call the dev server answers, continuing the caller's trace
        (its `traceparent`); the caller sets the record's status and ErrorCode."""
        record = RestRecord()
        attributes: dict[str, Any] = {n.HTTP_METHOD: "POST", n.HTTP_ROUTE: f"/v4/{endpoint}"}
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"POST /v4/{endpoint}", context=context_of(headers.get(TRACEPARENT)), kind=SpanKind.SERVER,
            attributes=attributes, record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            try:
                yield record
            finally:
                span.set_attribute(n.HTTP_STATUS, record.status)
                if record.error_code:
                    span.set_attribute(n.TIM_ERROR_CODE, record.error_code)
                if record.status >= 500:
                    span.set_status(StatusCode.ERROR)
                attributes[n.HTTP_STATUS] = record.status
                self._metrics.server_duration.record(time.perf_counter() - started, attributes)

    @contextmanager
    def operation(
        self,
        name: str,
        op_type: str,
        template: str,
        *,
        destination: str | None = None,
        count: int = 1,
        kind: str = "producer",
        attributes: Attributes | None = None,
        links: list[Any] | None = None,
    ) -> Iterator[Operation]:
        """A messaging span (`{name} {template}`) and a `messaging.client.operation.duration` point.
        `template` ("c2c", "group", a callback command) labels the metrics; the conversation's id
        (`destination`) goes on the span only, as it is unbounded."""
        labels: dict[str, Any] = {
            n.MESSAGING_SYSTEM: n.SYSTEM,
            n.MESSAGING_OPERATION_NAME: name,
            n.MESSAGING_OPERATION_TYPE: op_type,
            n.MESSAGING_DESTINATION_TEMPLATE: template,
        }
        on_span = dict(labels, **(attributes or {}))
        if destination is not None:
            on_span[n.MESSAGING_DESTINATION] = destination
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"{name} {template}", kind=_KINDS[kind], attributes=on_span, links=links,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            op = Operation(span, count)
            try:
                yield op
            except BaseException as exc:
                failure = _failure(exc)
                labels.update(failure)
                span.set_attributes(failure)
                span.set_status(StatusCode.ERROR)
                raise
            finally:
                self._metrics.messaging_duration.record(time.perf_counter() - started, labels)
            if op.count != 1:
                span.set_attribute(n.MESSAGING_BATCH_COUNT, op.count)
        if op_type == n.SEND:  # an enqueued message counts once: when its delivery sends it
            self._metrics.sent.add(op.count, labels)
        elif op_type == n.RECEIVE:
            self._metrics.consumed.add(op.count, labels)

    @contextmanager
    def transfer(self, direction: str) -> Iterator[Transfer]:
        """An INTERNAL `download file` / `upload file` span; a download's bytes (`transfer.size`,
        set by the caller, also when it fails part-way) go to the download bytes counter."""
        record = Transfer()
        with self._tracer.start_as_current_span(
            f"{direction} file", kind=SpanKind.INTERNAL, attributes={n.MESSAGING_SYSTEM: n.SYSTEM},
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            try:
                yield record
            except BaseException as exc:
                span.set_attributes(_failure(exc))
                span.set_status(StatusCode.ERROR)
                raise
            finally:
                span.set_attribute(n.TRANSFER_BYTES, record.size)
                metrics = self._metrics
                (metrics.download_bytes if direction == "download" else metrics.upload_bytes).add(record.size)

    def processing(self, command: str, consumer: str) -> Processing:
        """Start the `process webhook` span of one event handed out of `tim.events(consumer)`."""
        labels: dict[str, Any] = {
            n.MESSAGING_SYSTEM: n.SYSTEM,
            n.MESSAGING_OPERATION_NAME: "process",
            n.MESSAGING_OPERATION_TYPE: n.PROCESS,
            n.MESSAGING_DESTINATION_TEMPLATE: "webhook",
            n.MESSAGING_CONSUMER_GROUP: consumer,
        }
        on_span = dict(labels, **{n.TIM_COMMAND: command[:64]})
        span = self._tracer.start_span("process webhook", kind=SpanKind.CONSUMER, attributes=on_span)
        return Processing(span, labels, self._metrics.messaging_duration)

    def remember(self, key: Hashable, op: Operation) -> None:
        """Keep an enqueue's span context until its message is delivered (in this process)."""
        self._enqueued[key] = op.span.get_span_context()
        while len(self._enqueued) > MAX_REMEMBERED:
            del self._enqueued[next(iter(self._enqueued))]

    def recall(self, key: Hashable, carried: str | None = None) -> list[Any]:
        """The link to the span that enqueued `key`: remembered when this process enqueued it, else
        the `traceparent` its outbox row carried (`telemetry.carry`), from whichever process."""
        context = self._enqueued.pop(key, None)
        if context is None:
            context = span_context_of(carried)
        return [] if context is None else [trace.Link(context)]

    def trace_header(self, op: Operation) -> str:
        """The `traceparent` naming `op`'s span, for an outbox row to carry (`telemetry.carry`)."""
        return traceparent(op.span)

    def retrying(self, kind: str, error_code: int, delay: float) -> None:
        """A `retry` event on the operation's span: why the last attempt failed and the wait."""
        trace.get_current_span().add_event(
            "retry", {n.TIM_RETRY_KIND: kind, n.TIM_ERROR_CODE: error_code, "tim.retry.delay": delay}
        )

    # --- metrics --------------------------------------------------------------------------------

    def observe_pipeline(self, statistics: Callable[[], Any]) -> Callable[[], None]:
        """Counters and gauges read from a pipeline's `statistics()` at each collection (nothing
        is added on the hot path); call the function returned to stop."""
        pipelines = self._metrics.pipelines
        pipelines.append(statistics)
        return lambda: pipelines.remove(statistics) if statistics in pipelines else None

    def set_gauge(self, name: str, value: int, **labels: str) -> None:
        """Keep a sampled value (outbox depth, inbox backlog) for the next collection."""
        self._sampled.values.setdefault(name, {})[tuple(sorted(labels.items()))] = value


_KINDS: Final[dict[str, Any]] = (
    {"producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER, "internal": SpanKind.INTERNAL}
    if trace is not None
    else {}
)


def _failure(exc: BaseException) -> dict[str, Any]:
    """`error.type` (the exception's class) and, for a TIMError, TIM's code."""
    failure: dict[str, Any] = {n.ERROR_TYPE: type(exc).__qualname__}
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        failure[n.TIM_ERROR_CODE] = code
    return failure


def _rest_outcome(record: RestRecord, error: BaseException | None) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    if record.status:
        outcome[n.HTTP_STATUS] = record.status
    if error is not None:
        outcome.update(_failure(error))
        if record.status >= 400:  # the conventions' error.type for an HTTP failure: its status
            outcome[n.ERROR_TYPE] = str(record.status)
    elif record.error_code:
        outcome[n.TIM_ERROR_CODE] = record.error_code
    return outcome
