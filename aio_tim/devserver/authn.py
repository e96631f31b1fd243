"""The one place a REST call's query string is authenticated: app, identifier, UserSig, admin.

Verifying a UserSig costs a zlib inflate, a JSON parse and an HMAC; a busy client reuses one
UserSig for thousands of calls, so successful verifications are cached by UserSig string
until that UserSig expires.

Like TIM, a caller whose UserSig checks keep failing is locked out for a while (70050 "too
many failed retries, retry after 1 min"), so a key cannot be guessed online. A lockout must not
be a denial of service, so it is keyed by source address and identifier (garbage UserSigs
naming the admin from one address do not lock the admin out elsewhere), and it only ever
refuses UserSigs that fail to verify: a caller whose UserSig verifies is always served (a
guesser gains nothing from that, a valid signature cannot be guessed).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from ..auth import verify_usersig
from ..errors import AuthError, error_for

__all__ = ["AdminGuard", "FailureThrottle"]

_MAX_SDKAPPID_DIGITS: Final = 20
ERR_MALFORMED: Final = 70003
ERR_TOO_MANY_FAILURES: Final = 70050


class FailureThrottle:
    """Counts failed UserSig checks per (source address, identifier); `max_failures` within
    `window` seconds locks that pair out for `lockout` seconds. Other pairs are unaffected.

    Memory is bounded: identifiers are kept as fixed-size digests, at most `max_tracked` of
    them, and each keeps at most `max_failures` timestamps.
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window: int = 60,
        lockout: int = 60,
        max_tracked: int = 4096,
    ) -> None:
        if min(max_failures, window, lockout, max_tracked) < 1:
            raise ValueError("FailureThrottle settings must be positive")
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._max_tracked = max_tracked
        self._failures: dict[bytes, deque[int]] = {}
        self._locked_until: dict[bytes, int] = {}

    def __repr__(self) -> str:
        return (
            f"<FailureThrottle {self.max_failures} failures/{self.window}s -> {self.lockout}s lockout, "
            f"{len(self._locked_until)} locked>"
        )

    def check(self, identifier: str, now: int, peer: str = "") -> None:
        """Raise 70050 while `identifier` is locked out for callers from `peer`."""
        key = _key(identifier, peer)
        until = self._locked_until.get(key)
        if until is None:
            return
        if now < until:
            raise error_for(
                ERR_TOO_MANY_FAILURES, f"too many failed UserSig checks, retry after {until - now}s"
            )
        del self._locked_until[key]

    def record_failure(self, identifier: str, now: int, peer: str = "") -> None:
        """Count one failed check; the `max_failures`-th within the window starts a lockout."""
        key = _key(identifier, peer)
        failures = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        failures.append(now)
        if len(failures) >= self.max_failures:
            # Start afresh after the lockout: the identifier gets a whole new allowance.
            self._locked_until[key] = now + self.lockout
            self._bound(self._locked_until, now)
            return
        self._failures[key] = failures  # re-inserted last: the dict stays oldest-first
        self._bound(self._failures, now)

    def _bound(self, table: dict[bytes, deque[int]] | dict[bytes, int], now: int) -> None:
        """Forget the oldest entries past `max_tracked`. A flood of fresh identifiers can thus
        push out an old lockout early; that costs the attacker far more than it gains."""
        while len(table) > self._max_tracked:
            del table[next(iter(table))]


def _key(identifier: str, peer: str) -> bytes:
    # The identifier comes from the URL and may be ~8 KB: keep a digest, not the text.
    digest = hashlib.blake2b(peer.encode("utf-8", "surrogatepass") + b"\0", digest_size=16)
    digest.update(identifier.encode("utf-8", "surrogatepass"))
    return digest.digest()


class AdminGuard:
    """Checks that a request is signed by this app's admin; raises the TIM error otherwise."""

    def __init__(
        self,
        *,
        sdk_app_id: int,
        secret_key: str,
        admin: str,
        clock: Callable[[], float],
        cache_size: int = 1024,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self._sdk_app_id = sdk_app_id
        self._secret_key = secret_key
        self._admin = admin
        self._clock = clock
        self._cache_size = cache_size
        self._throttle = throttle if throttle is not None else FailureThrottle()
        # (usersig, identifier) -> unix second the UserSig expires
        self._verified: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"<AdminGuard sdk_app_id={self._sdk_app_id} admin={self._admin!r}>"

    def check(self, query: Mapping[str, str], peer: str | None = None) -> None:
        """Raise the TIM error unless `query` is signed by the admin; `peer` is the caller's address."""
        self._check_sdk_app_id(query.get("sdkappid"))
        identifier = query.get("identifier")
        if not identifier:
            raise error_for(60004, "identifier missing from the URL")
        now, source = int(self._clock()), peer or ""
        try:
            self._check_usersig(query.get("usersig"), identifier, now)
        except AuthError:
            # Only a failing caller meets the lockout; failures while locked out do not count.
            self._throttle.check(identifier, now, source)
            self._throttle.record_failure(identifier, now, source)
            raise
        if identifier != self._admin:
            raise error_for(60010, "identifier must be the App admin")

    def _check_sdk_app_id(self, text: str | None) -> None:
        if not text:
            raise error_for(60012, "sdkappid missing from the URL")
        # isascii: int() would also accept " 1", "1_0" and non-ASCII digits.
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_SDKAPPID_DIGITS):
            raise error_for(60006, "sdkappid is not an integer")
        if int(text) != self._sdk_app_id:
            raise error_for(60006, f"sdkappid {int(text)} is not served here")

    def _check_usersig(self, usersig: str | None, identifier: str, now: int) -> None:
        if not usersig:
            raise error_for(70002, "UserSig missing from the URL")
        if not self._is_cached(usersig, identifier, now):
            self._verify(usersig, identifier, now)

    def _is_cached(self, usersig: str, identifier: str, now: int) -> bool:
        key = (usersig, identifier)
        expires_at = self._verified.get(key)
        if expires_at is None:
            return False
        if now > expires_at:
            del self._verified[key]
            return False
        return True

    def _verify(self, usersig: str, identifier: str, now: int) -> None:
        try:
            fields = verify_usersig(
                usersig,
                sdk_app_id=self._sdk_app_id,
                secret_key=self._secret_key,
                identifier=identifier,
                now=now,
            )
        except (UnicodeError, RecursionError):
            # A malformed UserSig is 70003 whatever the decoder trips on (auth.decode_usersig
            # lets UnicodeDecodeError out for a document with invalid UTF-8 in a string).
            raise AuthError(ERR_MALFORMED, "UserSig check failed: not a UserSig document") from None
        if identifier != self._admin:
            return  # valid, but 60010 follows in check(); only the admin's UserSigs are cached
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[(usersig, identifier)] = fields.expires_at
