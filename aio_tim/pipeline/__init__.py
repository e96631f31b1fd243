"""The send path's plumbing: every outgoing REST call passes through one `MessagePipeline`.

An operation moves through named stages, each bounded::

    submit ─► intake (≤ max_queued waiting; when full the caller waits, or PipelineFullError)
           ─► its conversation's lane (one at a time per order key, in submission order)
           ─► an in-flight slot (≤ max_in_flight)
           ─► the endpoint's token bucket (TIM's documented calls/s) ─► the connection
           ─► on failure: classify, then retry, wait out, or raise

The modules, one concern each:

- `core`: `MessagePipeline`, the stages strung together, and its `statistics()`
- `dispatch`: who holds a queue place, a conversation's lane, an in-flight slot (`Dispatcher`)
- `pacing`: `TokenBucket` and `LocalLimiter`, TIM's frequency limits in process
- `policy`: `RetryPolicy` (backoff, deadline) and the shared `RetryBudget`
- `failures`: `classify` (not sent, throttled, ambiguous, fatal) and the pipeline's errors
- `outbox`: the durable outbox's drainer (`Client(outbox=True)`), which sends through the pipeline

    async with MessagePipeline(conn.call) as pipeline:
        reply = await pipeline.submit(SendMsg(...), order_key=("c2c", "bob"))
        print(pipeline.statistics())
"""

from ..protocol.limits import RATE_LIMITS
from .core import MessagePipeline, PipelineStatistics
from .failures import Failure, PipelineClosedError, PipelineFullError, classify
from .pacing import LocalLimiter, TokenBucket
from .policy import RetryBudget, RetryPolicy

__all__ = [
    "RATE_LIMITS",
    "Failure",
    "LocalLimiter",
    "MessagePipeline",
    "PipelineClosedError",
    "PipelineFullError",
    "PipelineStatistics",
    "RetryBudget",
    "RetryPolicy",
    "TokenBucket",
    "classify",
]
