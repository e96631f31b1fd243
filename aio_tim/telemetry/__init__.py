"""OpenTelemetry traces and metrics for aio_tim (the `otel` extra): see docs/observability.md.

The only room that imports opentelemetry; without it installed everything here is a no-op.
"""

from . import names
from .core import ATTEMPT, RestRecord, Telemetry, available
from .redact import REDACTED, SECRET_PARAMETERS, redact_url

__all__ = [
    "ATTEMPT",
    "REDACTED",
    "SECRET_PARAMETERS",
    "RestRecord",
    "Telemetry",
    "available",
    "names",
    "redact_url",
]
