"""Account endpoints (`im_open_login_svc/*`) and the account rules the other handlers share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.account import (
    MULTI_IMPORT_MAX,
    AccountImport,
    MultiAccountImport,
    MultiAccountImportResponse,
)
from .context import Context, Handler

__all__ = ["HANDLERS", "ensure_accounts", "obtain_account", "require_account", "valid_user_id"]

MAX_USER_ID_BYTES: Final = 32
ERR_INVALID_PARAMS: Final = 70402


def valid_user_id(user_id: str) -> bool:
    """TIM UserIDs are 1 to 32 bytes of UTF-8."""
    return 0 < len(user_id.encode("utf-8", "surrogatepass")) <= MAX_USER_ID_BYTES


async def require_account(ctx: Context, user_id: str, code: int, role: str) -> None:
    """Raise `code` unless `user_id` names an existing account (never created on the fly)."""
    if not valid_user_id(user_id) or not await ctx.state.account_exists(user_id):
        raise error_for(code, f"{role} is not an existing account")


async def obtain_account(ctx: Context, user_id: str) -> bool:
    """Whether `user_id` exists, creating it first when the server runs with auto_accounts."""
    if not valid_user_id(user_id):
        return False
    if await ctx.state.account_exists(user_id):
        return True
    if ctx.auto_accounts:
        await ctx.state.add_account(user_id, ctx.now())
    return ctx.auto_accounts


async def ensure_accounts(ctx: Context, user_ids: Iterable[str], code: int, role: str) -> None:
    """Obtain every account named, or raise `code` (the transaction undoes any creations)."""
    for user_id in dict.fromkeys(user_ids):
        if not await obtain_account(ctx, user_id):
            raise error_for(code, f"{role} is not an existing account")


async def account_import(ctx: Context, req: AccountImport) -> Envelope:
    if not valid_user_id(req.UserID):
        raise error_for(ERR_INVALID_PARAMS, f"UserID must be 1 to {MAX_USER_ID_BYTES} bytes")
    await ctx.state.add_account(req.UserID, ctx.now(), req.Nick, req.FaceUrl)
    return Envelope()


async def multiaccount_import(ctx: Context, req: MultiAccountImport) -> Envelope:
    if not 0 < len(req.Accounts) <= MULTI_IMPORT_MAX:
        raise error_for(ERR_INVALID_PARAMS, f"Accounts must hold 1 to {MULTI_IMPORT_MAX} ids")
    failed = [user_id for user_id in req.Accounts if not valid_user_id(user_id)]
    for user_id in dict.fromkeys(req.Accounts):
        if valid_user_id(user_id):
            await ctx.state.add_account(user_id, ctx.now())
    return MultiAccountImportResponse(FailAccounts=failed)


HANDLERS: Final[dict[type[Request], Handler]] = {
    AccountImport: account_import,
    MultiAccountImport: multiaccount_import,
}
