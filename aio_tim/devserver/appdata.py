"""The app's own data and login control: `openconfigsvr/getappinfo`, `open_msg_svc/get_history`,
`ConfigSvc/GetIPList`, `im_open_login_svc/kick`.

Semantics from TIM's pages (cloud.tencent.com/document/product/269/4193 getappinfo, 1650
get_history, 45438 GetIPList, 3853 kick). A dev server has no operating statistics, no hourly
message archives and no logged-in devices, so these answer what it can know: its totals, no
archive files, its own address, and a kick that takes the account offline.
"""

from __future__ import annotations

import datetime
from typing import Final

import msgspec

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol import sns_callbacks as sc
from ..protocol.profile import (
    AppInfo,
    GetAppInfo,
    GetAppInfoResponse,
    GetHistory,
    GetHistoryResponse,
    GetIPList,
    GetIPListResponse,
    Kick,
)
from .accounts import valid_user_id
from .context import Context, Handler

__all__ = ["HANDLERS"]

ERR_PARAMS: Final = 90001
ERR_PARAMS_LOGIN: Final = 70402  # im_open_login_svc's invalid parameters
CHAT_TYPES: Final = frozenset({"C2C", "Group"})
APP_FIELDS: Final = frozenset(f.name for f in msgspec.structs.fields(AppInfo))


# --- getappinfo -----------------------------------------------------------------------------------


async def get_app_info(ctx: Context, req: GetAppInfo) -> Envelope:
    """Today's row, with the server's totals where TIM counts per day (all fields are strings)."""
    wanted = set(req.RequestField or APP_FIELDS)
    unknown = wanted - APP_FIELDS
    if unknown:
        raise error_for(ERR_PARAMS, f"RequestField names unknown fields: {', '.join(sorted(unknown))}")
    state = ctx.state
    c2c, group_msgs = await state.count_rows("c2c_msgs"), await state.count_rows("group_msgs")
    online = len(ctx.online)
    figures = {
        "AppId": str(ctx.sdk_app_id),
        "AppName": "aio_tim dev server",
        "Company": "",
        "ActiveUserNum": str(online),
        "RegistUserNumTotal": str(await state.count_rows("accounts")),
        "LoginUserNum": str(online),
        "MaxOnlineNum": str(online),
        "UpMsgNum": str(c2c + group_msgs),
        "C2CUpMsgNum": str(c2c),
        "GroupUpMsgNum": str(group_msgs),
        "GroupAllGroupNum": str(await state.count_rows("chat_groups")),
        "ChainIncrease": str(await state.count_rows("friends")),
        "Date": datetime.datetime.fromtimestamp(ctx.now(), datetime.UTC).strftime("%Y%m%d"),
    }
    row = {name: figures.get(name, "0") for name in sorted(wanted)}
    return GetAppInfoResponse(Result=[msgspec.convert(row, AppInfo)])


# --- get_history ----------------------------------------------------------------------------------


async def get_history(ctx: Context, req: GetHistory) -> Envelope:
    """The hour's archive files: always none (the dev server keeps no hourly archives)."""
    if req.ChatType not in CHAT_TYPES:
        raise error_for(ERR_PARAMS, "ChatType must be C2C or Group")
    try:
        datetime.datetime.strptime(req.MsgTime, "%Y%m%d%H")
    except ValueError:
        raise error_for(ERR_PARAMS, "MsgTime must be an hour, YYYYMMDDHH") from None
    if len(req.MsgTime) != 10:
        raise error_for(ERR_PARAMS, "MsgTime must be an hour, YYYYMMDDHH")
    return GetHistoryResponse(File=[])


# --- GetIPList ------------------------------------------------------------------------------------


async def get_ip_list(ctx: Context, req: GetIPList) -> Envelope:
    """The addresses the app's servers call from: here, the one this server listens on."""
    return GetIPListResponse(IPList=[ctx.host])


# --- kick -----------------------------------------------------------------------------------------


async def kick(ctx: Context, req: Kick) -> Envelope:
    """Log the account out everywhere: it is Offline from now on (until a test sets it online).

    An account that does not exist is not an error: the page's error table has no such code, and
    clients kick ids they just deleted (there is no session left to end)."""
    if not valid_user_id(req.UserID):
        raise error_for(ERR_PARAMS_LOGIN, "UserID must be 1 to 32 bytes")
    was = ctx.online.pop(req.UserID, None)
    if was is not None and ctx.webhooks is not None:
        # The page's reasons: Register, Unregister, LinkClose, TimeOut; none names a kick (unconfirmed).
        info = sc.StateInfo(Action="Logout", To_Account=req.UserID, Reason="Unregister")
        ctx.webhooks.after(sc.StateChange(Info=info, EventTime=ctx.now() * 1000))
    return Envelope()


HANDLERS: Final[dict[type[Request], Handler]] = {
    GetAppInfo: get_app_info,
    GetHistory: get_history,
    GetIPList: get_ip_list,
    Kick: kick,
}
