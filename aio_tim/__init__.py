"""aio_tim: Tencent Cloud IM's C SDK message API as asyncio coroutines.

The public names are here; the details live in the submodules (`aio_tim.types`, `aio_tim.capi`...):

    import aio_tim
    async with aio_tim.Client(sdk_app_id=..., user_id="alice", secret_key=...) as tim:
        sent = await tim.msg.send_new_msg("bob", aio_tim.ConvType.C2C, {
            "message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
"""

from . import _moved
from .client import DEFAULT_BASE_URL, Client
from .connection import Timeouts
from .errors import (
    AuthError,
    ContentRejectedError,
    DownloadError,
    NotFoundError,
    RateLimitedError,
    TIMError,
    TransientError,
    TransportError,
    UnreachableError,
    UsageError,
)
from .pipeline import MessagePipeline, PipelineClosedError, PipelineFullError, RetryBudget, RetryPolicy
from .types import (
    BatchSendParam,
    BatchSendResult,
    ConvType,
    CustomElem,
    DownloadElemParam,
    DownloadElemResult,
    DownloadType,
    ElemType,
    FaceElem,
    FileElem,
    GetMsgListParam,
    ImageElem,
    LocationElem,
    Message,
    MsgDeleteParam,
    MsgLocator,
    MsgStatus,
    SoundElem,
    TextElem,
    VideoElem,
)

__version__ = "0.1.0"

_moved.install()  # `import aio_tim.faultproxy` and the other moved paths keep working

__all__ = [
    "DEFAULT_BASE_URL",
    "AuthError",
    "BatchSendParam",
    "BatchSendResult",
    "Client",
    "ContentRejectedError",
    "ConvType",
    "CustomElem",
    "DownloadElemParam",
    "DownloadElemResult",
    "DownloadError",
    "DownloadType",
    "ElemType",
    "FaceElem",
    "FileElem",
    "GetMsgListParam",
    "ImageElem",
    "LocationElem",
    "Message",
    "MessagePipeline",
    "MsgDeleteParam",
    "MsgLocator",
    "MsgStatus",
    "NotFoundError",
    "PipelineClosedError",
    "PipelineFullError",
    "RateLimitedError",
    "RetryBudget",
    "RetryPolicy",
    "SoundElem",
    "TIMError",
    "TextElem",
    "Timeouts",
    "TransientError",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "VideoElem",
]
