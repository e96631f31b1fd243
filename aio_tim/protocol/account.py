"""Account endpoints of REST v4 (`im_open_login_svc/*`)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request

__all__ = ["AccountImport", "MultiAccountImport", "MultiAccountImportResponse"]

MULTI_IMPORT_MAX = 100


class AccountImport(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/account_import"

    UserID: str
    Nick: str | None = None
    FaceUrl: str | None = None


class MultiAccountImportResponse(Envelope):
    FailAccounts: list[str] = msgspec.field(default_factory=list)


class MultiAccountImport(Request):
    endpoint: ClassVar[str] = "im_open_login_svc/multiaccount_import"
    Response: ClassVar[type[Envelope]] = MultiAccountImportResponse

    Accounts: list[str]
