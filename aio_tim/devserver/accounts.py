"""Account endpoints (`im_open_login_svc/*`, `openim/query_online_status`) and the account rules
the other handlers share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.account import (
    ACCOUNT_BATCH_MAX,
    MULTI_IMPORT_MAX,
    ONLINE_QUERY_MAX,
    AccountCheck,
    AccountCheckResponse,
    AccountCheckResult,
    AccountDelete,
    AccountDeleteResponse,
    AccountDeleteResult,
    AccountImport,
    AccountItem,
    MultiAccountImport,
    MultiAccountImportResponse,
    OnlineState,
    QueryOnlineStatus,
    QueryOnlineStatusResponse,
    StatusError,
)
from .context import Context, Handler

__all__ = ["HANDLERS", "ensure_accounts", "obtain_account", "require_account", "valid_user_id"]

MAX_USER_ID_BYTES: Final = 32
ERR_INVALID_PARAMS: Final = 70402
ERR_ACCOUNT_MISSING: Final = 70107
ERR_OPENIM_PARAMS: Final = 90001
# account_delete's ResultInfo for an account that does not exist, as TIM words it.
NOT_EXIST_INFO: Final = "Err_TLS_PT_Open_Login_Account_Not_Exist"
OFFLINE: Final = "Offline"


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


# --- account_import / multiaccount_import ---------------------------------------------------------


async def account_import(ctx: Context, req: AccountImport) -> Envelope:
    if not valid_user_id(req.UserID):
        raise error_for(ERR_INVALID_PARAMS, f"UserID must be 1 to {MAX_USER_ID_BYTES} bytes")
    await ctx.state.add_account(req.UserID, ctx.now(), req.Nick, req.FaceUrl)
    return Envelope()


async def multiaccount_import(ctx: Context, req: MultiAccountImport) -> Envelope:
    items = _import_items(req)
    if not 0 < len(items) <= MULTI_IMPORT_MAX:
        raise error_for(ERR_INVALID_PARAMS, f"Accounts must hold 1 to {MULTI_IMPORT_MAX} ids")
    failed = [item.UserID for item in items if not valid_user_id(item.UserID)]
    for item in items:
        if valid_user_id(item.UserID):
            # An account already there gets the profile fields given (TIM: "updated").
            await ctx.state.add_account(item.UserID, ctx.now(), item.Nick, item.FaceUrl)
    return MultiAccountImportResponse(FailAccounts=list(dict.fromkeys(failed)))


def _import_items(req: MultiAccountImport) -> list[AccountItem]:
    """The accounts of either shape: `Accounts` (UserIDs) or `AccountList` (with profiles)."""
    if req.Accounts is not None and req.AccountList is not None:
        raise error_for(ERR_INVALID_PARAMS, "send Accounts or AccountList, not both")
    if req.AccountList is not None:
        return req.AccountList
    if req.Accounts is None:
        raise error_for(ERR_INVALID_PARAMS, "missing required field Accounts (or AccountList)")
    return [AccountItem(UserID=user_id) for user_id in req.Accounts]


# --- account_check / account_delete ---------------------------------------------------------------


def _check_batch(user_ids: list[str], field: str) -> None:
    if not 0 < len(user_ids) <= ACCOUNT_BATCH_MAX:
        raise error_for(ERR_INVALID_PARAMS, f"{field} must hold 1 to {ACCOUNT_BATCH_MAX} accounts")


async def account_check(ctx: Context, req: AccountCheck) -> Envelope:
    user_ids = [item.UserID for item in req.CheckItem]
    _check_batch(user_ids, "CheckItem")
    results = [
        AccountCheckResult(user_id, 0, "", "Imported" if await _exists(ctx, user_id) else "NotImported")
        for user_id in user_ids
    ]
    return AccountCheckResponse(ResultItem=results)


async def account_delete(ctx: Context, req: AccountDelete) -> Envelope:
    user_ids = [item.UserID for item in req.DeleteItem]
    _check_batch(user_ids, "DeleteItem")
    return AccountDeleteResponse(ResultItem=[await _delete_one(ctx, user_id) for user_id in user_ids])


async def _delete_one(ctx: Context, user_id: str) -> AccountDeleteResult:
    if user_id == ctx.admin:
        # Every REST call is signed as the admin: deleting it would lock the server.
        return AccountDeleteResult(ERR_INVALID_PARAMS, "the App admin account cannot be deleted", user_id)
    if not await _exists(ctx, user_id):
        return AccountDeleteResult(ERR_ACCOUNT_MISSING, NOT_EXIST_INFO, user_id)
    # TIM deletes the account's groups and sessions with it; messages stay in the peers' roaming.
    await ctx.state.delete_account(user_id)
    ctx.online.pop(user_id, None)
    return AccountDeleteResult(0, "", user_id)


async def _exists(ctx: Context, user_id: str) -> bool:
    return valid_user_id(user_id) and await ctx.state.account_exists(user_id)


# --- openim/query_online_status -------------------------------------------------------------------


async def query_online_status(ctx: Context, req: QueryOnlineStatus) -> Envelope:
    if not 0 < len(req.To_Account) <= ONLINE_QUERY_MAX:
        raise error_for(ERR_OPENIM_PARAMS, f"To_Account must hold 1 to {ONLINE_QUERY_MAX} accounts")
    states: list[OnlineState] = []
    errors: list[StatusError] = []
    for user_id in dict.fromkeys(req.To_Account):
        if await _exists(ctx, user_id):
            state = ctx.online.get(user_id, OFFLINE)
            states.append(OnlineState(To_Account=user_id, State=state, Status=state))
        else:
            errors.append(StatusError(To_Account=user_id, ErrorCode=ERR_ACCOUNT_MISSING))
    return QueryOnlineStatusResponse(QueryResult=states, ErrorList=errors)


HANDLERS: Final[dict[type[Request], Handler]] = {
    AccountImport: account_import,
    MultiAccountImport: multiaccount_import,
    AccountCheck: account_check,
    AccountDelete: account_delete,
    QueryOnlineStatus: query_online_status,
}
