"""The REST v4 envelope every reply carries, and the base of every request.

Each request Struct names its endpoint and reply type (one class per API method, as aiogram
does), so the connection layer needs no table of routes:

    >>> SendMsg.endpoint, SendMsg.Response.__name__
    ('openim/sendmsg', 'SendMsgResponse')
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

__all__ = ["Envelope", "Request", "UInt32"]

UInt32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]


class Envelope(msgspec.Struct, omit_defaults=True):
    """`{"ActionStatus": "OK"|"FAIL", "ErrorCode": 0, "ErrorInfo": ""}`, present in every reply."""

    ActionStatus: Literal["OK", "FAIL"] = "OK"
    ErrorCode: int = 0
    ErrorInfo: str = ""
    ErrorDisplay: str | None = None
    RequestId: str | None = None

    @property
    def failed(self) -> bool:
        # Both official SDKs treat either signal as failure.
        return self.ActionStatus != "OK" or self.ErrorCode != 0


class Request(msgspec.Struct, omit_defaults=True):
    """A REST request body; subclasses set `endpoint` ("service/command") and `Response`."""

    endpoint: ClassVar[str]
    Response: ClassVar[type[Envelope]] = Envelope
