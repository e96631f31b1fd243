"""Account endpoints of REST v4 (`im_open_login_svc/*`) and `openim/query_online_status`."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request

__all__ = [
    "AccountCheck",
    "AccountCheckResponse",
    "AccountCheckResult",
    "AccountDelete",
    "AccountDeleteResponse",
    "AccountDeleteResult",
    "AccountImport",
    "AccountItem",
    "MultiAccountImport",
    "MultiAccountImportResponse",
    "OnlineState",
    "QueryOnlineStatus",
    "QueryOnlineStatusResponse",
    "StatusError",
    "UserIDItem",
]

MULTI_IMPORT_MAX = 100
ACCOUNT_BATCH_MAX = 100  # account_check and account_delete: 100 UserIDs a request
ONLINE_QUERY_MAX = 500


class AccountImport(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/account_import"

    UserID: str
    Nick: str | None = None
    FaceUrl: str | None = None


class MultiAccountImportResponse(Envelope):
    FailAccounts: list[str] = msgspec.field(default_factory=list)


class AccountItem(msgspec.Struct, omit_defaults=True):
    """One account of multiaccount_import's newer `AccountList` shape."""

    UserID: str
    Nick: str | None = None
    FaceUrl: str | None = None


class MultiAccountImport(Request):
    """`Accounts` (UserIDs, the older shape) or `AccountList` (with profiles, the newer one)."""

    endpoint: ClassVar[str] = "im_open_login_svc/multiaccount_import"
    Response: ClassVar[type[Envelope]] = MultiAccountImportResponse

    Accounts: list[str] | None = None
    AccountList: list[AccountItem] | None = None


class UserIDItem(msgspec.Struct):
    UserID: str


class AccountDeleteResult(msgspec.Struct):
    ResultCode: int
    ResultInfo: str
    UserID: str


class AccountDeleteResponse(Envelope):
    ResultItem: list[AccountDeleteResult] = msgspec.field(default_factory=list)


class AccountDelete(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/account_delete"
    Response: ClassVar[type[Envelope]] = AccountDeleteResponse

    DeleteItem: list[UserIDItem]


class AccountCheckResult(msgspec.Struct):
    UserID: str
    ResultCode: int
    ResultInfo: str
    AccountStatus: str  # "Imported" or "NotImported"


class AccountCheckResponse(Envelope):
    ResultItem: list[AccountCheckResult] = msgspec.field(default_factory=list)


class AccountCheck(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/account_check"
    Response: ClassVar[type[Envelope]] = AccountCheckResponse

    CheckItem: list[UserIDItem]


class OnlineState(msgspec.Struct, omit_defaults=True):
    """One account's login state: "Online", "PushOnline" or "Offline".

    TIM's sample replies name the key `State`; the official OpenAPI spec names it `Status`.
    """

    To_Account: str
    State: str = ""
    Status: str | None = None


class StatusError(msgspec.Struct):
    To_Account: str
    ErrorCode: int


class QueryOnlineStatusResponse(Envelope):
    QueryResult: list[OnlineState] = msgspec.field(default_factory=list)
    ErrorList: list[StatusError] = msgspec.field(default_factory=list)


class QueryOnlineStatus(Request):
    endpoint: ClassVar[str] = "openim/query_online_status"
    Response: ClassVar[type[Envelope]] = QueryOnlineStatusResponse

    To_Account: list[str]
    IsNeedDetail: int | None = None
