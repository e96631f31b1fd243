"""UserSig v2: mint, decode and verify the credential TIM accepts (the format of Tencent's `tls-sig-api-v2`).

A UserSig is ``base64url*(zlib(json))`` where the JSON carries the signed fields and
``TLS.sig = base64(HMAC-SHA256(secret_key, content))``. Minting is byte-compatible with the
PyPI ``tls-sig-api-v2`` reference; verification follows the reference Go verifier's order so
a dev server rejects a bad UserSig with the code a real TIM server would use.

Everything here is pure (no I/O, no event loop). Decoding treats its input as hostile: every
malformed UserSig becomes ``AuthError(70003)``, decompression is capped, and no exception text
or repr ever carries the UserSig, its signature or the secret key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Final

import msgspec

from .errors import TIM_ERR_PARAM, AuthError, error_for

__all__ = [
    "DEFAULT_EXPIRE",
    "UserSigCache",
    "UserSigFields",
    "decode_usersig",
    "mint_usersig",
    "verify_usersig",
]

VERSION: Final = "2.0"
DEFAULT_EXPIRE: Final = 180 * 86400  # the reference generator's default lifetime

ERR_EXPIRED: Final = 70001
ERR_EMPTY: Final = 70002
ERR_MALFORMED: Final = 70003
ERR_BAD_SIG: Final = 70009
ERR_IDENTIFIER: Final = 70013
ERR_SDKAPPID: Final = 70014

# The reference maps the three non-alphanumeric base64 characters so the UserSig survives
# unescaped in a URL query string.
_TO_URL: Final = str.maketrans("+/=", "*-_")
_FROM_URL: Final = str.maketrans("*-_", "+/=")
_URL_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_")

# Go's verifier parses these as int64; a larger value is not a UserSig any server would issue.
_Int64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


@dataclass(frozen=True)
class UserSigFields:
    """The decoded content of a UserSig. `version` is "" when the document has no TLS.ver."""

    identifier: str
    sdk_app_id: int
    time: int
    expire: int
    version: str
    userbuf: bytes | None = None
    # Keyword-only so it can follow the defaulted userbuf; never shown: it is half a credential.
    sig: str = field(repr=False, kw_only=True)

    @property
    def expires_at(self) -> int:
        """Unix second after which the UserSig is expired (the reference's `time + expire`)."""
        return self.time + self.expire


class _SigDoc(msgspec.Struct, rename=lambda name: f"TLS.{name}"):
    """The JSON document; unknown keys are ignored like the Go verifier's struct decode."""

    identifier: str
    sdkappid: _Int64
    time: _Int64
    expire: _Int64
    sig: str
    # UNSET rather than None: an explicit JSON null is a type error, not "absent".
    ver: str | msgspec.UnsetType = msgspec.UNSET
    userbuf: str | msgspec.UnsetType = msgspec.UNSET


_DOC_DECODER: Final = msgspec.json.Decoder(_SigDoc)


def _malformed(why: str) -> AuthError:
    """A 70003 naming what is wrong, never quoting the input."""
    return AuthError(ERR_MALFORMED, f"UserSig check failed: {why}")


def _signature(
    secret_key: str,
    identifier: str,
    sdk_app_id: int,
    issued: int,
    expire: int,
    userbuf_b64: str | None,
) -> str:
    """TLS.sig: standard base64 of HMAC-SHA256 over the reference's newline-terminated lines."""
    content = (
        f"TLS.identifier:{identifier}\nTLS.sdkappid:{sdk_app_id}\nTLS.time:{issued}\nTLS.expire:{expire}\n"
    )
    if userbuf_b64 is not None:
        content += f"TLS.userbuf:{userbuf_b64}\n"
    digest = hmac.new(secret_key.encode(), content.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def mint_usersig(
    sdk_app_id: int,
    secret_key: str,
    identifier: str,
    *,
    expire: int = DEFAULT_EXPIRE,
    now: int | None = None,
    userbuf: bytes | None = None,
) -> str:
    """A UserSig for `identifier`, valid `expire` seconds from `now` (default: the wall clock)."""
    issued = int(time.time()) if now is None else now
    userbuf_b64 = None if userbuf is None else base64.b64encode(userbuf).decode("ascii")
    # Same key order and json.dumps defaults as the reference, so the documents are identical.
    doc: dict[str, str | int] = {
        "TLS.ver": VERSION,
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdk_app_id,
        "TLS.expire": expire,
        "TLS.time": issued,
    }
    if userbuf_b64 is not None:
        doc["TLS.userbuf"] = userbuf_b64
    doc["TLS.sig"] = _signature(secret_key, identifier, sdk_app_id, issued, expire, userbuf_b64)
    compressed = zlib.compress(json.dumps(doc).encode())
    return base64.b64encode(compressed).decode("ascii").translate(_TO_URL)


def _strict_b64decode(text: str, what: str) -> bytes:
    """Standard base64 that must be canonical, so one payload has exactly one spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(f"{what} is not valid base64") from None
    # validate=True still accepts non-zero padding bits; re-encoding catches those.
    if base64.b64encode(raw).decode("ascii") != text:
        raise _malformed(f"{what} is not canonical base64")
    return raw


def _unwrap(usersig: str, max_decompressed: int) -> bytes:
    """The JSON bytes inside a UserSig: reverse the char map, base64-decode, capped inflate."""
    # zlib never grows data by more than ~0.03% + 13 bytes (compressBound) and base64 adds a
    # third, so anything this long cannot hold an acceptable document: refuse before decoding.
    if len(usersig) > 2 * max_decompressed + 256:
        raise _malformed("UserSig too long")
    if not set(usersig) <= _URL_ALPHABET:
        raise _malformed("UserSig contains characters outside its alphabet")
    compressed = _strict_b64decode(usersig.translate(_FROM_URL), "UserSig")
    return _inflate(compressed, max_decompressed)


def _inflate(compressed: bytes, max_decompressed: int) -> bytes:
    """zlib-inflate at most `max_decompressed` bytes; a longer output is a decompression bomb."""
    inflater = zlib.decompressobj()
    try:
        # Ask for one byte more than allowed: getting it proves the output is too large.
        data = inflater.decompress(compressed, max_decompressed + 1)
    except zlib.error:
        raise _malformed("UserSig is not zlib data") from None
    if len(data) > max_decompressed or inflater.unconsumed_tail:
        raise _malformed(f"UserSig inflates beyond {max_decompressed} bytes")
    if not inflater.eof or inflater.unused_data:
        raise _malformed("UserSig zlib stream is truncated or has trailing data")
    return data


def _parse(doc_bytes: bytes) -> _SigDoc:
    """The typed JSON document; msgspec rejects bools and floats where ints belong."""
    try:
        return _DOC_DECODER.decode(doc_bytes)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        # RecursionError: msgspec recurses into deeply nested unknown keys (`[[[[...`).
        # The library's message names the field, but keep ours uniform and free of input.
        raise _malformed("UserSig is not a JSON object with the TLS fields") from None


def decode_usersig(usersig: str, *, max_decompressed: int = 4096) -> UserSigFields:
    """The fields of a UserSig, unverified; malformed input raises AuthError(70003) only."""
    if max_decompressed < 1:
        raise error_for(TIM_ERR_PARAM, "max_decompressed must be positive")
    if not isinstance(usersig, str):  # hostile callers pass anything; keep the promise
        raise _malformed("UserSig is not a string")
    if not usersig:
        raise AuthError(ERR_EMPTY, "UserSig empty")
    doc = _parse(_unwrap(usersig, max_decompressed))
    userbuf = None
    if isinstance(doc.userbuf, str):
        userbuf = _strict_b64decode(doc.userbuf, "TLS.userbuf")
    if doc.ver == "":
        raise _malformed("TLS.ver is empty")
    return UserSigFields(
        identifier=doc.identifier,
        sdk_app_id=doc.sdkappid,
        time=doc.time,
        expire=doc.expire,
        version=doc.ver if isinstance(doc.ver, str) else "",
        userbuf=userbuf,
        sig=doc.sig,
    )


def verify_usersig(
    usersig: str,
    *,
    sdk_app_id: int,
    secret_key: str,
    identifier: str,
    now: int | None = None,
    max_future_skew: int = 300,
) -> UserSigFields:
    """The fields of a UserSig that `secret_key` signed for this app and user, still valid."""
    fields = decode_usersig(usersig)
    now = int(time.time()) if now is None else now
    _check_claims(fields, sdk_app_id, identifier, now)
    # A UserSig from the future means a skewed or forged clock; the reference does not check.
    if fields.time > now + max_future_skew:
        raise _malformed(f"UserSig issued more than {max_future_skew}s in the future")
    if fields.version not in ("", VERSION):
        raise _malformed("unsupported TLS.ver")
    _check_signature(fields, secret_key)
    return fields


def _check_claims(fields: UserSigFields, sdk_app_id: int, identifier: str, now: int) -> None:
    """Who and when, in the reference verifier's order; values are safe to name, sigs are not."""
    if fields.sdk_app_id != sdk_app_id:
        raise AuthError(ERR_SDKAPPID, f"UserSig is for SDKAppID {fields.sdk_app_id}, expected {sdk_app_id}")
    if fields.identifier != identifier:
        # The decoded identifier is attacker-chosen text of any length: do not echo it.
        raise AuthError(ERR_IDENTIFIER, f"UserSig was not issued to identifier {identifier!r}")
    if now > fields.expires_at:
        raise AuthError(ERR_EXPIRED, f"UserSig expired at {fields.expires_at} (now {now})")


def _check_signature(fields: UserSigFields, secret_key: str) -> None:
    """Recompute TLS.sig and compare in constant time, so timing leaks nothing about the key."""
    userbuf_b64 = None
    if fields.userbuf is not None:
        userbuf_b64 = base64.b64encode(fields.userbuf).decode("ascii")
    expected = _signature(
        secret_key, fields.identifier, fields.sdk_app_id, fields.time, fields.expire, userbuf_b64
    )
    # Bytes, not str: compare_digest refuses non-ASCII str, and TLS.sig is untrusted.
    if not hmac.compare_digest(expected.encode(), fields.sig.encode("utf-8", "surrogatepass")):
        raise AuthError(ERR_BAD_SIG, "UserSig signature does not match the key")


class UserSigCache:
    """One identifier's UserSig, minted lazily and renewed before it runs out.

    A fresh UserSig is minted once less than 10% of `lifetime` (at least 60 s) remains, so a
    request signed just before renewal still has time to reach the server.
    """

    __slots__ = (
        "_clock",
        "_expires_at",
        "_secret_key",
        "_usersig",
        "identifier",
        "lifetime",
        "sdk_app_id",
    )

    def __init__(
        self,
        sdk_app_id: int,
        secret_key: str,
        identifier: str,
        *,
        lifetime: int = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime <= 0:
            raise error_for(TIM_ERR_PARAM, "lifetime must be positive")
        self.sdk_app_id = sdk_app_id
        self.identifier = identifier
        self.lifetime = lifetime
        self._secret_key = secret_key
        self._clock = clock
        self._usersig: str | None = None
        self._expires_at = 0

    @property
    def expires_at(self) -> int:
        """Unix second the cached UserSig expires (0 before the first `current()`)."""
        return self._expires_at

    @property
    def renew_margin(self) -> float:
        """Seconds before expiry at which `current()` mints a replacement."""
        return max(self.lifetime / 10, 60.0)

    def current(self) -> str:
        """The cached UserSig, minted afresh when missing or close to expiry."""
        now = self._clock()
        if self._usersig is None or self._expires_at - now < self.renew_margin:
            issued = int(now)
            self._usersig = mint_usersig(
                self.sdk_app_id,
                self._secret_key,
                self.identifier,
                expire=self.lifetime,
                now=issued,
            )
            self._expires_at = issued + self.lifetime
        return self._usersig

    def __repr__(self) -> str:
        return (
            f"UserSigCache(sdk_app_id={self.sdk_app_id}, identifier={self.identifier!r}, "
            f"expires_at={self._expires_at})"
        )
