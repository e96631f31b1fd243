"""The I/O seam: one aiohttp session, request signing, envelope decoding, error mapping."""

from .errors import reply_error, status_error, transport_error
from .manager import MAX_REPLY_SIZE, ConnectionManager, Signer, Timeouts

__all__ = [
    "MAX_REPLY_SIZE",
    "ConnectionManager",
    "Signer",
    "Timeouts",
    "reply_error",
    "status_error",
    "transport_error",
]
