"""Every name aio_tim's telemetry records, in one place: the OpenTelemetry semantic conventions'
(HTTP client, messaging, errors) and the few of our own, under `tim.` and `aio_tim.`.

Dashboards and tests read these names; changing one is a user-visible change.
"""

from __future__ import annotations

from typing import Final

INSTRUMENTATION_SCOPE: Final = "aio_tim"

# --- HTTP client (semconv: http-spans, http-metrics) ----------------------------------------------
HTTP_CLIENT_DURATION: Final = "http.client.request.duration"
HTTP_SERVER_DURATION: Final = "http.server.request.duration"
HTTP_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_RESEND_COUNT: Final = "http.request.resend_count"
URL_TEMPLATE: Final = "url.template"
URL_FULL: Final = "url.full"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# --- messaging (semconv: messaging-spans, messaging-metrics) --------------------------------------
MESSAGING_DURATION: Final = "messaging.client.operation.duration"
MESSAGING_SENT: Final = "messaging.client.sent.messages"
MESSAGING_CONSUMED: Final = "messaging.client.consumed.messages"
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_DESTINATION: Final = "messaging.destination.name"
MESSAGING_DESTINATION_TEMPLATE: Final = "messaging.destination.template"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_BATCH_COUNT: Final = "messaging.batch.message_count"
MESSAGING_CONSUMER_GROUP: Final = "messaging.consumer.group.name"
SYSTEM: Final = "tencent_im"
"""`messaging.system`: not a well-known value of the conventions, so a name of our own."""

# Operation types (semconv's enumeration) and the operation names aio_tim uses.
CREATE: Final = "create"
SEND: Final = "send"
RECEIVE: Final = "receive"
PROCESS: Final = "process"

# --- TIM's own ------------------------------------------------------------------------------------
TIM_ERROR_CODE: Final = "tim.error_code"
TIM_RETRY_KIND: Final = "tim.retry.kind"
TIM_COMMAND: Final = "tim.callback_command"
OUTBOX_STATE: Final = "aio_tim.outbox.state"

# --- aio_tim's instruments ----------------------------------------------------------------------
PIPELINE_SENT: Final = "aio_tim.pipeline.sent"
PIPELINE_FAILED: Final = "aio_tim.pipeline.failed"
PIPELINE_RETRIED: Final = "aio_tim.pipeline.retried"
PIPELINE_THROTTLED: Final = "aio_tim.pipeline.throttled"
PIPELINE_QUEUED: Final = "aio_tim.pipeline.queued"
PIPELINE_IN_FLIGHT: Final = "aio_tim.pipeline.in_flight"
OUTBOX_MESSAGES: Final = "aio_tim.outbox.messages"
INBOX_BACKLOG: Final = "aio_tim.inbox.backlog"
DOWNLOAD_BYTES: Final = "aio_tim.download.bytes"
UPLOAD_BYTES: Final = "aio_tim.upload.bytes"
TRANSFER_BYTES: Final = "aio_tim.transfer.bytes"
"""On a `download file` / `upload file` span: the bytes it moved."""

# Seconds: the semantic conventions' advised buckets for `*.duration` histograms.
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
