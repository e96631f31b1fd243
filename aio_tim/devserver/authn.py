"""The one place a REST call's query string is authenticated: app, identifier, UserSig, admin.

Verifying a UserSig costs a zlib inflate, a JSON parse and an HMAC; a busy client reuses one
UserSig for thousands of calls, so successful verifications are cached by UserSig string
until that UserSig expires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from ..auth import verify_usersig
from ..errors import error_for

__all__ = ["AdminGuard"]

_MAX_SDKAPPID_DIGITS: Final = 20


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
    ) -> None:
        self._sdk_app_id = sdk_app_id
        self._secret_key = secret_key
        self._admin = admin
        self._clock = clock
        self._cache_size = cache_size
        # (usersig, identifier) -> unix second the UserSig expires
        self._verified: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"<AdminGuard sdk_app_id={self._sdk_app_id} admin={self._admin!r}>"

    def check(self, query: Mapping[str, str]) -> None:
        self._check_sdk_app_id(query.get("sdkappid"))
        identifier = query.get("identifier")
        if not identifier:
            raise error_for(60004, "identifier missing from the URL")
        usersig = query.get("usersig")
        if not usersig:
            raise error_for(70002, "UserSig missing from the URL")
        now = int(self._clock())
        if not self._is_cached(usersig, identifier, now):
            self._verify(usersig, identifier, now)

    def _check_sdk_app_id(self, text: str | None) -> None:
        if not text:
            raise error_for(60012, "sdkappid missing from the URL")
        # isascii: int() would also accept " 1", "1_0" and non-ASCII digits.
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_SDKAPPID_DIGITS):
            raise error_for(60006, "sdkappid is not an integer")
        if int(text) != self._sdk_app_id:
            raise error_for(60006, f"sdkappid {int(text)} is not served here")

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
        fields = verify_usersig(
            usersig,
            sdk_app_id=self._sdk_app_id,
            secret_key=self._secret_key,
            identifier=identifier,
            now=now,
        )
        if identifier != self._admin:
            raise error_for(60010, "identifier must be the App admin")
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[(usersig, identifier)] = fields.expires_at
