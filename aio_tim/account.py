"""`tim.account`: import, check and delete accounts, and ask who is online (REST shapes).

async with Client(...) as tim:
    await tim.account.import_accounts(["alice", "bob"])
    assert await tim.account.check(["alice", "zed"]) == {"alice": True, "zed": False}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from .protocol import Envelope, Request
from .protocol.account import (
    ACCOUNT_BATCH_MAX,
    MULTI_IMPORT_MAX,
    ONLINE_QUERY_MAX,
    AccountCheck,
    AccountCheckResponse,
    AccountDelete,
    AccountDeleteResponse,
    AccountImport,
    MultiAccountImport,
    MultiAccountImportResponse,
    QueryOnlineStatus,
    QueryOnlineStatusResponse,
    UserIDItem,
)

__all__ = ["AccountManager"]

Submit = Callable[..., Awaitable[Envelope]]
ERR_ACCOUNT_MISSING: Final = 70107


class AccountManager:
    """Account administration over REST, through the Client's pipeline (paced, retried)."""

    def __init__(self, submit: Submit) -> None:
        self._submit = submit

    async def _call(self, request: Request) -> Any:
        return await self._submit(request)

    async def import_account(
        self, user_id: str, nick: str | None = None, face_url: str | None = None
    ) -> None:
        """`account_import`: create the account (importing it again updates Nick/FaceUrl)."""
        await self._call(AccountImport(UserID=user_id, Nick=nick, FaceUrl=face_url))

    async def import_accounts(self, user_ids: list[str]) -> list[str]:
        """`multiaccount_import`, 100 a call: the UserIDs TIM could not import (FailAccounts)."""
        failed: list[str] = []
        for chunk in _chunks(user_ids, MULTI_IMPORT_MAX):
            reply: MultiAccountImportResponse = await self._call(MultiAccountImport(Accounts=chunk))
            failed += reply.FailAccounts
        return failed

    async def check(self, user_ids: list[str]) -> dict[str, bool]:
        """`account_check`: whether each account is imported."""
        found: dict[str, bool] = {}
        for chunk in _chunks(user_ids, ACCOUNT_BATCH_MAX):
            request = AccountCheck(CheckItem=[UserIDItem(u) for u in chunk])
            reply: AccountCheckResponse = await self._call(request)
            found |= {r.UserID: r.AccountStatus == "Imported" for r in reply.ResultItem}
        return found

    async def delete(self, user_ids: list[str]) -> dict[str, int]:
        """`account_delete`: TIM's code per account (0 deleted, 70107 there was no such account)."""
        codes: dict[str, int] = {}
        for chunk in _chunks(user_ids, ACCOUNT_BATCH_MAX):
            request = AccountDelete(DeleteItem=[UserIDItem(u) for u in chunk])
            reply: AccountDeleteResponse = await self._call(request)
            codes |= {r.UserID: r.ResultCode for r in reply.ResultItem}
        return codes

    async def online_status(self, user_ids: list[str]) -> dict[str, str]:
        """`query_online_status`: "Online", "PushOnline" or "Offline"; absent: no such account."""
        states: dict[str, str] = {}
        for chunk in _chunks(user_ids, ONLINE_QUERY_MAX):
            reply: QueryOnlineStatusResponse = await self._call(QueryOnlineStatus(To_Account=chunk))
            # TIM's samples name the key State, its OpenAPI spec Status: read either.
            states |= {r.To_Account: r.State or r.Status or "Offline" for r in reply.QueryResult}
        return states


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
