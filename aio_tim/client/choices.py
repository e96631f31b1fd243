"""How `Client` chooses its store and its signer: the one place each choice is made."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..auth import UserSigCache
from ..errors import TIM_ERR_PARAM, UsageError
from ..seams import OutboxStore
from ..store import LocalStore

__all__ = ["FixedSigner", "chosen_store", "in_memory", "make_signer", "nothing"]


class FixedSigner:
    """An admin UserSig supplied by the caller instead of the secret key (no renewal)."""

    def __init__(self, identifier: str, usersig: str) -> None:
        self.identifier = identifier
        self._usersig = usersig

    def current(self) -> str:
        return self._usersig

    def __repr__(self) -> str:
        return f"<FixedSigner identifier={self.identifier!r}>"


def chosen_store(
    store: str | OutboxStore | Any | None, path: str | os.PathLike[str], sdk_app_id: int, user_id: str
) -> OutboxStore:
    """The one place that chooses the store: SQLite at `path` (the default), PostgreSQL for a
    `postgresql://` URL or an asyncpg pool, or a store you built."""
    if store is None:
        return LocalStore(path)
    if isinstance(store, OutboxStore):
        return store
    is_url = isinstance(store, str) and store.startswith(("postgresql://", "postgres://"))
    if not is_url and not type(store).__module__.startswith("asyncpg"):  # no repr: a URL holds secrets
        raise UsageError(TIM_ERR_PARAM, "store must be a postgresql:// URL, an asyncpg pool or a store")
    from ..pgstore import PgStore  # asyncpg is the postgres extra: imported only when chosen

    return PgStore(store, sdk_app_id=sdk_app_id, user_id=user_id)


def in_memory(store: OutboxStore) -> bool:
    return isinstance(store, LocalStore) and store.path in ("", ":memory:")


def make_signer(
    sdk_app_id: int,
    admin: str,
    secret_key: str | None,
    admin_user_sig: str | None,
    lifetime: int,
    clock: Callable[[], float],
) -> UserSigCache | FixedSigner:
    if (secret_key is None) == (admin_user_sig is None):
        raise UsageError(TIM_ERR_PARAM, "give exactly one of secret_key or admin_user_sig")
    if admin_user_sig is not None:
        return FixedSigner(admin, admin_user_sig)
    assert secret_key is not None
    return UserSigCache(sdk_app_id, secret_key, admin, lifetime=lifetime, clock=clock)


def nothing() -> None:
    pass
