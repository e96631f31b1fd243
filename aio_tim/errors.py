"""Every failure aio_tim reports is a `TIMError` carrying TIM's own `code` and `desc`.

The tree groups errors by what the caller does next:

    TIMError(code, desc)                    .retryable says whether trying again can help
    ├── UsageError (ValueError)             fix the call: C SDK results -3..-6, REST 90xxx/60003/10004...
    ├── AuthError                           fix the credentials: 700xx, 60004-60006, 60010
    ├── RateLimitedError                    wait and retry: 60007 60011 60018 60019 10006 10023
    ├── NotFoundError (LookupError)         the account, group or message does not exist
    ├── ContentRejectedError                80001 sensitive words, 80002 body too long
    ├── TransientError                      retry with the same idempotency keys
    │   └── TransportError (OSError)        no usable HTTP reply (reset, refused, timeout, garbled)
    │       └── UnreachableError            never reached at all: wrong base_url or no network; not retried
    ├── DownloadError                       6009 and friends: a transfer failed or did not verify
    └── StorageError (OSError)              6022: the local store could not read or write (disk full)

`error_for(code, desc)` is the one place a code becomes an exception; `CODES` is the table.
Exception texts never carry a UserSig or secret key: the connection layer builds them from the
endpoint name, never from the signed URL, and never chains a library exception that holds it.
Text that comes from elsewhere (a server's ErrorInfo, echoed by a proxy) is passed through
`redact`, which every TIMError applies to its desc.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CODES",
    "AuthError",
    "CauseText",
    "ContentRejectedError",
    "DownloadError",
    "NotFoundError",
    "RateLimitedError",
    "StorageError",
    "TIMError",
    "TransientError",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "error_for",
    "redact",
    "safe_cause",
]

# A signed query parameter and its value, in a URL or in text quoting one (as far as the value's
# URL-safe characters go; a quoted `"usersig": "..."` JSON field too).
_SIGNED: Final = re.compile(
    r"""(usersig|sig|sign|signature)(["']?\s*(?:[=:]|%3D)\s*["']?)[^&\s"',;)}\]]+""", re.IGNORECASE
)
# A bare UserSig, as a server may quote it back ("invalid UserSig eJy..."): zlib's header makes
# every one start "eJ", and TLS sig v2's base64 uses `*`, `-` and `_` for `+`, `/` and `=`. Twenty
# characters on is no English word; a real UserSig is a few hundred.
_BARE_USERSIG: Final = re.compile(r"\beJ[0-9A-Za-z*+/=_-]{20,}")
REDACTED: Final = "<redacted>"


def redact(text: str) -> str:
    """`text` with every `usersig=...` (URL query) or `"usersig": "..."` value replaced, and any
    bare UserSig (a long token starting "eJ").

    >>> redact("POST http://h/v4/x?sdkappid=1&usersig=eJyrVkrxKsrPSy1SslIqSS0uUdJRSi1KTcsvyglI")
    'POST http://h/v4/x?sdkappid=1&usersig=<redacted>'
    >>> redact("invalid UserSig eJyrVkrxKsrPSy1SslIqSS0uUdJRSi1KTcsvyglI, check it")
    'invalid UserSig <redacted>, check it'
    """
    if "sig" in text.lower():
        text = _SIGNED.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    if "eJ" in text:
        text = _BARE_USERSIG.sub(REDACTED, text)
    return text


class CauseText(Exception):
    """Stands in, as a TIMError's `__cause__`, for a library exception that may hold a signed
    URL (aiohttp's do): the original's type name and redacted text, without the object."""


def safe_cause(exc: BaseException) -> CauseText:
    """A `CauseText` for `exc`. Raise the TIMError outside the `except` block that caught `exc`,
    so that Python does not chain `exc` itself as `__context__`:

        try:
            ...
        except aiohttp.ClientError as exc:
            failure = TransportError(code, "upload failed")
            failure.__cause__ = safe_cause(exc)
        raise failure
    """
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return CauseText(f"{name}: {redact(str(exc))}")


class TIMError(Exception):
    """A TIM failure: the C SDK callback's non-zero `code` and its `desc`.

    Catch it for anything TIM or aio_tim reports; `retryable` says whether trying again can help:

        try:
            await tim.msg.send_new_msg("bob", ConvType.C2C, msg)
        except TIMError as error:
            print(error.code, error.desc, error.retryable)   # str(error) == "[code] desc"
    """

    retryable: bool = False

    def __init__(self, code: int, desc: str = "") -> None:
        desc = redact(desc)  # a server's or proxy's ErrorInfo may echo the signed URL
        super().__init__(code, desc)
        self.code = code
        self.desc = desc or CODES.get(code, (TIMError, ""))[1]

    def __str__(self) -> str:
        return f"[{self.code}] {self.desc}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, desc={self.desc!r})"

    def __reduce__(self) -> tuple[type[TIMError], tuple[int, str], dict[str, object]]:
        # Keep subclass attributes (TransportError.sent) across pickle and copy.
        return type(self), (self.code, self.desc), self.__dict__


class UsageError(TIMError, ValueError):
    """The call itself is wrong (bad JSON, bad parameter, bad conversation); fix it, do not retry.

    Raised before any I/O with the C SDK's synchronous codes (-3 JSON, -4 parameter, -5
    conversation), and for TIM's parameter errors:

        with pytest.raises(UsageError) as caught:
            await tim.msg.send_new_msg("bob", 7, msg)   # conv_type must be 1 or 2
        assert caught.value.code == TIM_ERR_CONV        # -5
    """


class AuthError(TIMError):
    """The credentials were refused: wrong secret key, expired or malformed UserSig, not an admin.

    Retrying cannot help; fix the configuration:

        except AuthError as error:   # e.g. [70009] UserSig signature does not match the key
            log.critical("TIM refused our credentials: %s", error)
    """


class RateLimitedError(TIMError):
    """The server refused the call because of a frequency limit; it did nothing. Wait and retry.

    The pipeline already waits and retries these until its deadline, so seeing one means TIM
    stayed saturated:

        except RateLimitedError:     # 60007, 60011, 60018, 60019, 10006, 10023
            await asyncio.sleep(5)
    """

    retryable = True


class NotFoundError(TIMError, LookupError):
    """The account, group or message named in the call does not exist.

    TIM's codes 20003, 20022, 70107, 90012, 10010, 10030 and friends:

        try:
            await tim.msg.delete("bob", ConvType.C2C, {"msg_delete_param_msg": old})
        except NotFoundError:        # 20022: no such message here (nor in roaming)
            pass
    """


class ContentRejectedError(TIMError):
    """The server refused the message content (sensitive words, body too long).

    80002 (body over 12 KB) is raised before sending; 80001 comes from TIM's word filter:

        except ContentRejectedError as error:
            notify_author(error.desc)
    """


class TransientError(TIMError):
    """A server-side or transport failure that may succeed when retried.

    The pipeline has retried it with the same idempotency keys before raising it, so a later
    retry of the same message cannot duplicate it where TIM dedups:

        except TransientError as error:
            assert error.retryable
    """

    retryable = True


class TransportError(TransientError, OSError):
    """No usable HTTP reply: connection refused or reset, timeout, garbled body.

    `sent` is False when the request never left (the connection failed), so it did nothing:

        except TransportError as error:   # 9501 connection, 9519 bad reply, 9520 timeout
            print(error.code, "sent" if error.sent else "not sent")
    """

    def __init__(self, code: int, desc: str = "", *, sent: bool = True) -> None:
        super().__init__(code, desc)
        # sent=False means the request never left (connect failed): retrying cannot duplicate.
        self.sent = sent


class UnreachableError(TransportError):
    """The client has never reached its server: the host does not resolve, or nothing answers there.

    The pipeline raises it at once rather than retrying while not one reply has come back since the
    client opened (a wrong `base_url`, no network): retrying for a minute would only hide the cause.
    The text names the host; nothing was sent, so it stays `retryable` later (the outboxes keep
    such a message queued). Once the server has answered, the same failures are ordinary
    `TransportError`s, retried by the pipeline.

        except UnreachableError as error:   # "[9501] cannot reach console.tim.qq.com:443 (...)"
            sys.exit(str(error))
    """

    def __init__(self, desc: str = "") -> None:
        super().__init__(ERR_TRANSPORT, desc, sent=False)


class DownloadError(TIMError):
    """A download failed, was cut, or its content did not verify.

    Code 6009; the text says why (gone, no progress, digest mismatch):

        try:
            await tim.msg.download_elem_to_path(param, "inbox/")
        except DownloadError as error:
            print(error.desc)
    """


class StorageError(TIMError, OSError):
    """The local store could not read or write (e.g. the disk is full); it recovers once fixed.

    Code 6022; it is also an `OSError`:

        except StorageError:
            free_some_disk_space()
    """


# C SDK synchronous results (TIMResult), raised before any I/O.
TIM_ERR_SDKUNINIT: Final = -1
TIM_ERR_NOTLOGIN: Final = -2
TIM_ERR_JSON: Final = -3
TIM_ERR_PARAM: Final = -4
TIM_ERR_CONV: Final = -5
TIM_ERR_GROUP: Final = -6

# aio_tim's own codes for transport failures, in the C SDK's network error range.
ERR_TRANSPORT: Final = 9501  # connection failed or was reset
ERR_TIMEOUT: Final = 9520  # ERR_SDK_NET_WAIT_ACK_TIMEOUT
ERR_BAD_REPLY: Final = 9519  # reply was not a TIM envelope
ERR_DOWNLOAD: Final = 6009  # ERR_FILE_TRANS_DOWNLOAD_FAILED

_Entry = tuple[type[TIMError], str]

CODES: Final[dict[int, _Entry]] = {
    # C SDK results
    TIM_ERR_SDKUNINIT: (UsageError, "SDK not initialized"),
    TIM_ERR_NOTLOGIN: (UsageError, "not logged in"),
    TIM_ERR_JSON: (UsageError, "bad JSON or bad JSON key"),
    TIM_ERR_PARAM: (UsageError, "bad parameter"),
    TIM_ERR_CONV: (UsageError, "invalid conversation"),
    TIM_ERR_GROUP: (UsageError, "invalid group"),
    # C SDK client codes
    6004: (UsageError, "invalid conversation"),
    6008: (TransientError, "file upload failed"),  # ERR_FILE_TRANS_UPLOAD_FAILED
    ERR_DOWNLOAD: (DownloadError, "file download failed"),
    6015: (UsageError, "operation already in progress"),  # ERR_IN_PROGESS (sic)
    6016: (UsageError, "invalid message element"),
    6017: (UsageError, "invalid parameters"),
    6022: (StorageError, "I/O operation failed"),
    7004: (UsageError, "file not found"),
    7005: (UsageError, "file too large"),
    7006: (UsageError, "file is empty"),
    8001: (ContentRejectedError, "message body too long"),
    8020: (UsageError, "no such message is waiting to be sent"),  # ERR_SDK_INVALID_CANCEL_MESSAGE
    8021: (TIMError, "sending was cancelled"),  # ERR_SDK_SEND_MESSAGE_FAILED_WITH_CANCEL
    23001: (TIMError, "message extension written by someone else first"),
    10062: (TIMError, "the message asked for no read receipt"),
    ERR_TRANSPORT: (TransportError, "connection failed"),
    ERR_BAD_REPLY: (TransportError, "reply is not a TIM envelope"),
    ERR_TIMEOUT: (TransportError, "request timed out"),
    # REST: common
    60002: (UsageError, "bad HTTP URL"),
    60003: (UsageError, "request JSON parse error"),
    60004: (AuthError, "bad identifier or UserSig in URL"),
    60005: (AuthError, "bad identifier or UserSig in body"),
    60006: (AuthError, "invalid SDKAppID"),
    60007: (RateLimitedError, "REST call frequency over limit"),
    60008: (TransientError, "service timeout or bad HTTP format"),
    60010: (AuthError, "identifier must be an App admin"),
    60011: (RateLimitedError, "SDKAppID call frequency over limit"),
    60012: (AuthError, "SDKAppID missing"),
    60013: (TransientError, "response JSON parse error"),
    60014: (TransientError, "account exchange timeout"),
    60015: (UsageError, "identifier must be a string"),
    60016: (AuthError, "SDKAppID disabled"),
    60017: (AuthError, "request disabled"),
    60018: (RateLimitedError, "too frequent"),
    60019: (RateLimitedError, "too frequent"),
    60020: (AuthError, "package not purchased or expired"),
    60021: (AuthError, "illegal source IP"),
    # account and UserSig
    70001: (AuthError, "UserSig expired"),
    70002: (AuthError, "UserSig empty"),
    70003: (AuthError, "UserSig check failed"),
    70005: (AuthError, "UserSig check failed"),
    70009: (AuthError, "UserSig signature does not match the key"),
    70013: (AuthError, "identifier does not match the UserSig"),
    70014: (AuthError, "SDKAppID does not match the UserSig"),
    70016: (AuthError, "key not found"),
    70020: (AuthError, "SDKAppID not found"),
    70050: (RateLimitedError, "too many failed attempts, retry after a minute"),
    70051: (AuthError, "account blacklisted"),
    70052: (AuthError, "UserSig invalidated"),
    70107: (NotFoundError, "account does not exist"),
    70169: (TransientError, "internal timeout"),
    70206: (UsageError, "invalid batch count"),
    70402: (UsageError, "invalid parameters"),
    70403: (AuthError, "admin required"),
    70500: (TransientError, "internal error"),
    # content
    80001: (ContentRejectedError, "text contains sensitive words"),
    80002: (ContentRejectedError, "message body too long"),
    # C2C messages (openim)
    20001: (UsageError, "bad packet"),
    20003: (NotFoundError, "identifier invalid or not imported"),
    20004: (TransientError, "network error"),
    20005: (TransientError, "internal error"),
    20016: (UsageError, "recall time limit exceeded"),
    20022: (NotFoundError, "message not found"),
    20023: (UsageError, "message already recalled"),
    90001: (UsageError, "JSON parse error"),
    90002: (UsageError, "MsgBody format invalid"),
    90003: (UsageError, "To_Account missing, wrong type or unknown"),
    90005: (UsageError, "MsgRandom missing or not an integer"),
    90006: (UsageError, "MsgTimeStamp missing or not an integer"),
    90007: (UsageError, "MsgBody is not an array"),
    90008: (UsageError, "From_Account missing or unknown"),
    90009: (AuthError, "admin required"),
    90010: (UsageError, "JSON is not in message format"),
    90011: (UsageError, "batch send exceeds 500 To_Account"),
    90012: (NotFoundError, "To_Account not registered"),
    90031: (UsageError, "SyncOtherMachine is not an integer"),
    90044: (UsageError, "MsgLifeTime is not an integer"),
    90048: (NotFoundError, "account not found"),
    90054: (UsageError, "invalid MsgKey"),
    90992: (TransientError, "internal error"),
    90994: (TransientError, "internal error"),
    90995: (TransientError, "internal error"),
    91000: (TransientError, "internal error"),
    93000: (UsageError, "JSON too long"),
    # groups
    10002: (TransientError, "internal error"),
    10003: (UsageError, "bad API name"),
    10004: (UsageError, "invalid parameters"),
    10005: (UsageError, "too many accounts"),
    10006: (RateLimitedError, "operation frequency limit"),
    10007: (AuthError, "permission denied"),
    10010: (NotFoundError, "group not found or dismissed"),
    10011: (UsageError, "JSON parse error"),
    10012: (UsageError, "invalid identifier"),
    10015: (UsageError, "invalid group id"),
    10019: (NotFoundError, "account not found"),
    10021: (UsageError, "group id already in use"),
    10023: (RateLimitedError, "send message frequency limit"),
    10030: (NotFoundError, "message to recall not found"),
    10031: (UsageError, "recall time limit exceeded"),
    10032: (UsageError, "message cannot be recalled"),
}


def error_for(code: int, desc: str = "") -> TIMError:
    """Build the exception for a TIM `code`; unknown codes become a plain, non-retryable TIMError.

    The class comes from `CODES`, and so does `desc` when none is given:

        >>> error_for(70001)
        AuthError(code=70001, desc='UserSig expired')
        >>> error_for(60007, "openim/sendmsg: too fast").retryable
        True
    """
    cls, default_desc = CODES.get(code, (TIMError, "unknown error"))
    return cls(code, desc or default_desc)
