"""aio_tim's metric instruments, made once per meter provider and shared by every client using it.

An observable instrument keeps only the callbacks given when it was first made (a second
`create_observable_gauge` of the same name returns the first), so the sources it reads (pipelines'
statistics, sampled outbox and inbox depths) are lists that clients join and leave.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from . import names as n

__all__ = ["Instruments", "instruments_for"]

Labels = tuple[tuple[str, str], ...]

_PIPELINE_COUNTERS = {
    n.PIPELINE_SENT: "sent",
    n.PIPELINE_FAILED: "failed",
    n.PIPELINE_RETRIED: "retried",
    n.PIPELINE_THROTTLED: "throttled",
}
_PIPELINE_GAUGES = {n.PIPELINE_QUEUED: "queued", n.PIPELINE_IN_FLIGHT: "in_flight"}


class Instruments:
    """The instruments of one meter provider and the sources its observable ones read."""

    def __init__(self, meter: Any) -> None:
        buckets = n.DURATION_BUCKETS
        self.http_duration = meter.create_histogram(
            n.HTTP_CLIENT_DURATION, "s", "Duration of TIM REST attempts",
            explicit_bucket_boundaries_advisory=buckets,
        )  # fmt: skip
        self.server_duration = meter.create_histogram(
            n.HTTP_SERVER_DURATION, "s", "Duration of REST calls the dev server answered",
            explicit_bucket_boundaries_advisory=buckets,
        )  # fmt: skip
        self.messaging_duration = meter.create_histogram(
            n.MESSAGING_DURATION, "s", "Duration of send, enqueue, deliver and receive operations",
            explicit_bucket_boundaries_advisory=buckets,
        )  # fmt: skip
        self.sent = meter.create_counter(
            n.MESSAGING_SENT, "{message}", "Messages sent (an outbox message when it is delivered)"
        )
        self.consumed = meter.create_counter(n.MESSAGING_CONSUMED, "{message}", "Webhooks received")
        self.download_bytes = meter.create_counter(n.DOWNLOAD_BYTES, "By", "Bytes downloaded")
        self.upload_bytes = meter.create_counter(n.UPLOAD_BYTES, "By", "Bytes uploaded")
        self.pipelines: list[Callable[[], Any]] = []
        self.samples: weakref.WeakSet[Sampled] = weakref.WeakSet()
        for name, field in _PIPELINE_COUNTERS.items():
            meter.create_observable_counter(name, [self._pipeline_reader(field)], "{operation}")
        for name, field in _PIPELINE_GAUGES.items():
            meter.create_observable_up_down_counter(name, [self._pipeline_reader(field)], "{operation}")
        for name, unit in ((n.OUTBOX_MESSAGES, "{message}"), (n.INBOX_BACKLOG, "{event}")):
            meter.create_observable_gauge(name, [self._sample_reader(name)], unit)

    def _pipeline_reader(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def read(_: CallbackOptions) -> Iterable[Observation]:
            if not self.pipelines:
                return []
            return [Observation(sum(getattr(statistics(), field) for statistics in self.pipelines))]

        return read

    def _sample_reader(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def read(_: CallbackOptions) -> Iterable[Observation]:
            total: Counter[Labels] = Counter()
            for sampled in list(self.samples):
                total.update(sampled.values.get(name, {}))
            return [Observation(value, dict(labels)) for labels, value in total.items()]

        return read


class Sampled:
    """One client's last sampled depths: name -> labels -> value."""

    def __init__(self) -> None:
        self.values: dict[str, dict[Labels, int]] = {}


_BY_PROVIDER: dict[int, tuple[Any, Instruments]] = {}


def instruments_for(meter_provider: Any, scope: str) -> Instruments:
    """The provider's instruments, made on first use (the provider is kept, so its id stays its own)."""
    known = _BY_PROVIDER.get(id(meter_provider))
    if known is None:
        known = _BY_PROVIDER[id(meter_provider)] = (
            meter_provider,
            Instruments(meter_provider.get_meter(scope)),
        )
    return known[1]
