"""Other people's TIM clients, replayed: request bodies exactly as third-party libraries, older SDKs
and Tencent's own documentation examples send them, POSTed over loopback with Tencent's reference
signer (TLSSigAPIv2), answered as TIM answers them."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import TLSSigAPIv2

from aio_tim.devserver import DevServer

ADMIN = "administrator"


class Caller:
    """A REST caller that knows nothing of aio_tim: aiohttp plus the reference signer."""

    def __init__(self, server: DevServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        sig = TLSSigAPIv2.TLSSigAPIv2(server.sdk_app_id, server.secret_key).gen_sig(server.admin)
        self.query = {
            "sdkappid": str(server.sdk_app_id),
            "identifier": server.admin,
            "usersig": str(sig),
            "random": "99999999",
            "contenttype": "json",
        }

    async def raw(self, method: str, path: str, body: bytes = b"{}") -> tuple[int, str, dict[str, Any]]:
        """Any request; the HTTP status, content type and JSON body."""
        url = f"{self.server.url}{path}"
        async with self.http.request(method, url, params=self.query, data=body) as resp:
            return resp.status, resp.content_type, json.loads(await resp.read())

    async def post(self, endpoint: str, body: dict[str, Any] | str) -> dict[str, Any]:
        data = body if isinstance(body, str) else json.dumps(body)
        status, content_type, reply = await self.raw("POST", f"/v4/{endpoint}", data.encode())
        assert (status, content_type) == (200, "application/json")
        return reply

    async def ok(self, endpoint: str, body: dict[str, Any] | str) -> dict[str, Any]:
        reply = await self.post(endpoint, body)
        assert (reply["ActionStatus"], reply["ErrorCode"], reply["ErrorInfo"]) == ("OK", 0, ""), reply
        return reply

    async def fails(self, endpoint: str, body: dict[str, Any], code: int) -> dict[str, Any]:
        reply = await self.post(endpoint, body)
        assert (reply["ActionStatus"], reply["ErrorCode"]) == ("FAIL", code), reply
        return reply


@contextlib.asynccontextmanager
async def serve(**options: Any) -> AsyncIterator[Caller]:
    async with DevServer(**options) as server, aiohttp.ClientSession() as http:
        yield Caller(server, http)


@pytest.fixture
async def tim() -> AsyncIterator[Caller]:
    async with serve() as caller:
        yield caller


def text(content: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": content}}]


def texts(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["MsgBody"][0]["MsgContent"]["Text"] for m in msgs]


# --- 1. admin_getroammsg with From_Account / To_Account -------------------------------------------


async def test_roaming_accepts_the_official_specs_from_and_to_spelling(tim: Caller) -> None:
    """GetRoamMsgRequest's From_Account/To_Account (older SDKs) read the same history as Operator/Peer."""
    for n in range(3):
        await tim.ok(
            "openim/sendmsg",
            {
                "From_Account": "user1",
                "To_Account": "user2",
                "MsgRandom": n,
                "MsgSeq": n + 1,
                "MsgBody": text(f"m{n}"),
            },
        )
    window = {"MaxCnt": 100, "MinTime": 0, "MaxTime": int(time.time()) + 60}
    old = await tim.ok("openim/admin_getroammsg", {"From_Account": "user2", "To_Account": "user1", **window})
    new = await tim.ok(
        "openim/admin_getroammsg", {"Operator_Account": "user2", "Peer_Account": "user1", **window}
    )
    assert texts(old["MsgList"]) == texts(new["MsgList"]) == ["m0", "m1", "m2"]
    assert old["Complete"] == 1 and old["MsgCnt"] == 3


async def test_roaming_without_either_spelling_still_names_the_field(tim: Caller) -> None:
    """Neither Operator_Account nor From_Account: 90008, as before."""
    reply = await tim.fails(
        "openim/admin_getroammsg", {"Peer_Account": "u", "MaxCnt": 1, "MinTime": 0, "MaxTime": 1}, 90008
    )
    assert "Operator_Account" in reply["ErrorInfo"]


# --- 2. account_import with Identifier; multiaccount_import's AccountList ---------------------------


async def test_account_import_accepts_identifier_as_the_2020_doc_and_libraries_send() -> None:
    """{"Identifier": ...} imports like {"UserID": ...}; account_check then says Imported."""
    async with serve(auto_accounts=False) as tim:
        await tim.ok(
            "im_open_login_svc/account_import",
            {"Identifier": "test", "Nick": "test", "FaceUrl": "http://www.qq.com"},
        )
        await tim.ok("im_open_login_svc/account_import", {"UserID": "test2", "Nick": "test"})
        reply = await tim.ok(
            "im_open_login_svc/account_check",
            {"CheckItem": [{"UserID": "test"}, {"UserID": "test2"}, {"UserID": "nobody"}]},
        )
        assert [r["AccountStatus"] for r in reply["ResultItem"]] == ["Imported", "Imported", "NotImported"]
        await tim.fails("im_open_login_svc/account_import", {"Nick": "no id"}, 70402)


async def test_multiaccount_import_takes_the_old_and_the_new_shape() -> None:
    """`Accounts: [ids]` (old) and `AccountList: [{UserID, Nick, FaceUrl}]` (new) both import."""
    async with serve(auto_accounts=False) as tim:
        old = await tim.ok(
            "im_open_login_svc/multiaccount_import", {"Accounts": ["UserID_001", "UserID_002", "UserID_003"]}
        )
        new = await tim.ok(
            "im_open_login_svc/multiaccount_import",
            {
                "AccountList": [
                    {"UserID": "UserID_004", "Nick": "Nick_004", "FaceUrl": "http://www.qq.com"},
                    {"UserID": "UserID_005", "Nick": "Nick_005", "FaceUrl": "http://www.qq.com"},
                    {"UserID": "x" * 33, "Nick": "too long"},
                ]
            },
        )
        assert old["FailAccounts"] == [] and new["FailAccounts"] == ["x" * 33]
        checked = await tim.ok(
            "im_open_login_svc/account_check",
            {"CheckItem": [{"UserID": f"UserID_00{n}"} for n in range(1, 6)]},
        )
        assert {r["AccountStatus"] for r in checked["ResultItem"]} == {"Imported"}
        await tim.fails("im_open_login_svc/multiaccount_import", {}, 70402)


# --- 3 and 4. group history from "ReqMsgSeq": 0; MsgOnlineOnlyFlag ----------------------------------


async def test_group_history_from_req_msg_seq_zero_starts_at_the_latest(tim: Caller) -> None:
    """A library's `"ReqMsgSeq": 0` means "from the latest": the messages, not an empty list."""
    await tim.ok("group_open_http_svc/create_group", {"Type": "Public", "Name": "g", "GroupId": "g"})
    for n in range(3):
        await tim.ok(
            "group_open_http_svc/send_group_msg", {"GroupId": "g", "Random": n, "MsgBody": text(f"m{n}")}
        )
    reply = await tim.ok(
        "group_open_http_svc/group_msg_get_simple", {"GroupId": "g", "ReqMsgNumber": 20, "ReqMsgSeq": 0}
    )
    assert [m["MsgSeq"] for m in reply["RspMsgList"]] == [3, 2, 1] and reply["IsFinished"] == 1


async def test_send_group_msg_honours_the_older_msg_online_only_flag(tim: Caller) -> None:
    """`MsgOnlineOnlyFlag: 1` is online-only like `OnlineOnlyFlag: 1`: a hole in the history."""
    await tim.ok("group_open_http_svc/create_group", {"Type": "Public", "Name": "g", "GroupId": "g"})
    send = {"GroupId": "g", "MsgBody": text("live")}
    await tim.ok("group_open_http_svc/send_group_msg", {**send, "Random": 1, "MsgOnlineOnlyFlag": 1})
    await tim.ok("group_open_http_svc/send_group_msg", {**send, "Random": 2, "OnlineOnlyFlag": 1})
    await tim.ok("group_open_http_svc/send_group_msg", {**send, "Random": 3})
    reply = await tim.ok("group_open_http_svc/group_msg_get_simple", {"GroupId": "g", "ReqMsgNumber": 20})
    assert [(m["MsgSeq"], m["IsPlaceMsg"]) for m in reply["RspMsgList"]] == [(3, 0), (2, 1), (1, 1)]


# --- 5. the order inside one admin_getroammsg page -------------------------------------------------


async def test_roaming_page_lists_oldest_first_as_the_docs_example(tim: Caller) -> None:
    """Doc 1047/35478: user2's view of 10:00-11:00 lists "msg 1" (…680) before "msg 2" (…689), and
    LastMsgKey names msg 1, from which the next (older) page continues."""
    for frm, to, seq, rnd, at, content in (
        ("user1", "user2", 549396494, 2578554, 1584669680, "msg 1"),
        ("user2", "user1", 1054803289, 7201, 1584669689, "msg 2"),
    ):
        await tim.ok(
            "openim/importmsg",
            {
                "SyncFromOldSystem": 2,
                "From_Account": frm,
                "To_Account": to,
                "MsgSeq": seq,
                "MsgRandom": rnd,
                "MsgTimeStamp": at,
                "MsgBody": text(content),
            },
        )
    reply = await tim.ok(
        "openim/admin_getroammsg",
        {
            "Operator_Account": "user2",
            "Peer_Account": "user1",
            "MaxCnt": 100,
            "MinTime": 1584669600,
            "MaxTime": 1584673200,
        },
    )
    assert [m["MsgKey"] for m in reply["MsgList"]] == [
        "549396494_2578554_1584669680",
        "1054803289_7201_1584669689",
    ]
    assert texts(reply["MsgList"]) == ["msg 1", "msg 2"]
    assert (reply["LastMsgTime"], reply["LastMsgKey"]) == (1584669680, "549396494_2578554_1584669680")


async def test_roaming_pages_with_last_msg_key_cover_everything_once(tim: Caller) -> None:
    """MaxCnt 2 over 5 messages: pages newest to oldest, each oldest first, nothing twice."""
    for n in range(5):
        await tim.ok(
            "openim/importmsg",
            {
                "SyncFromOldSystem": 2,
                "From_Account": "a",
                "To_Account": "b",
                "MsgRandom": n,
                "MsgTimeStamp": 1000 + n,
                "MsgBody": text(f"m{n}"),
            },
        )
    query: dict[str, Any] = {
        "Operator_Account": "a",
        "Peer_Account": "b",
        "MaxCnt": 2,
        "MinTime": 0,
        "MaxTime": 2000,
    }
    pages = []
    while True:
        reply = await tim.ok("openim/admin_getroammsg", query)
        pages.append(texts(reply["MsgList"]))
        if reply["Complete"]:
            break
        query = {**query, "MaxTime": reply["LastMsgTime"], "LastMsgKey": reply["LastMsgKey"]}
    assert pages == [["m3", "m4"], ["m1", "m2"], ["m0"]]


# --- 6. batchsendmsg's MsgTime; MsgReadTime as an integer ------------------------------------------


async def test_batchsendmsg_reply_carries_msg_time(tim: Caller) -> None:
    """The reply has MsgTime (the spec's BatchSendSingleChatMsgResponse), the same on a retry."""
    body = {"To_Account": ["bob", "carol"], "MsgRandom": 7, "MsgBody": text("hi")}
    first = await tim.ok("openim/batchsendmsg", body)
    again = await tim.ok("openim/batchsendmsg", body)
    assert isinstance(first["MsgTime"], int) and abs(first["MsgTime"] - time.time()) < 60
    assert (again["MsgTime"], again["MsgKey"]) == (first["MsgTime"], first["MsgKey"])
    assert first["MsgKey"].endswith(f"_7_{first['MsgTime']}")


@pytest.mark.parametrize("read_time", ["1584669685", 1584669685])
async def test_set_msg_read_takes_msg_read_time_as_string_or_integer(tim: Caller, read_time: Any) -> None:
    """MsgReadTime "1584669685" (documented) and 1584669685 (sent by clients) mark the same messages."""
    for n, at in enumerate((1584669680, 1584669689)):
        await tim.ok(
            "openim/importmsg",
            {
                "SyncFromOldSystem": 1,
                "From_Account": "user1",
                "To_Account": "user2",
                "MsgRandom": n,
                "MsgTimeStamp": at,
                "MsgBody": text("x"),
            },
        )
    await tim.ok(
        "openim/admin_set_msg_read",
        {"Report_Account": "user2", "Peer_Account": "user1", "MsgReadTime": read_time},
    )
    unread = await tim.ok("openim/get_c2c_unread_msg_num", {"To_Account": "user2", "Peer_Account": ["user1"]})
    assert unread["C2CUnreadMsgNumList"] == [{"Peer_Account": "user1", "C2CUnreadMsgNum": 1}]


# --- 7. every answer under /v4/ is an envelope -----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize(
    "path",
    ["/v4", "/v4/", "/v4/openim", "/v4/openim/", "/v4/openim/sendmsg/extra", "/v4/a/b/c", "/v4/openim/nope"],
)
async def test_unknown_paths_under_v4_get_a_tim_envelope(tim: Caller, method: str, path: str) -> None:
    """No text/plain 404: HTTP 200, JSON, ActionStatus FAIL with 60002 (bad URL)."""
    status, content_type, reply = await tim.raw(method, path)
    assert (status, content_type) == (200, "application/json")
    assert (reply["ActionStatus"], reply["ErrorCode"]) == ("FAIL", 60002) and reply["ErrorInfo"]


# --- accounts: the documentation's examples --------------------------------------------------------


async def test_account_delete_as_documented() -> None:
    """Doc 1047/34955: UserID_1 deleted (0), UserID_2 never existed (70107, Err_TLS_..._Not_Exist)."""
    async with serve(auto_accounts=False) as tim:
        await tim.ok("im_open_login_svc/account_import", {"UserID": "UserID_1"})
        reply = await tim.ok(
            "im_open_login_svc/account_delete",
            {"DeleteItem": [{"UserID": "UserID_1"}, {"UserID": "UserID_2"}]},
        )
        assert reply["ResultItem"] == [
            {"ResultCode": 0, "ResultInfo": "", "UserID": "UserID_1"},
            {
                "ResultCode": 70107,
                "ResultInfo": "Err_TLS_PT_Open_Login_Account_Not_Exist",
                "UserID": "UserID_2",
            },
        ]
        checked = await tim.ok("im_open_login_svc/account_check", {"CheckItem": [{"UserID": "UserID_1"}]})
        assert checked["ResultItem"][0]["AccountStatus"] == "NotImported"
        # Deleted means gone for messaging too: no auto-creation on this server.
        await tim.fails(
            "openim/sendmsg", {"To_Account": "UserID_1", "MsgRandom": 1, "MsgBody": text("x")}, 90012
        )


async def test_account_delete_removes_group_memberships_and_keeps_the_admin(tim: Caller) -> None:
    """A deleted account leaves its groups; the App admin (every call's signer) cannot be deleted."""
    await tim.ok(
        "group_open_http_svc/create_group",
        {"Type": "Public", "Name": "g", "GroupId": "g", "MemberList": [{"Member_Account": "bob"}]},
    )
    await tim.ok("im_open_login_svc/account_delete", {"DeleteItem": [{"UserID": "bob"}]})
    members = await tim.ok("group_open_http_svc/get_group_member_info", {"GroupId": "g"})
    assert members["MemberNum"] == 0
    reply = await tim.ok("im_open_login_svc/account_delete", {"DeleteItem": [{"UserID": ADMIN}]})
    assert reply["ResultItem"][0]["ResultCode"] == 70402


async def test_query_online_status_as_documented(tim: Caller) -> None:
    """Doc 1047/35477: everyone Offline unless the test says otherwise; unknown accounts in ErrorList."""
    await tim.ok("im_open_login_svc/multiaccount_import", {"Accounts": ["id1", "id2", "id3"]})
    tim.server.set_online_state("id2")
    tim.server.set_online_state("id3", "PushOnline")
    async with serve(auto_accounts=False) as strict:  # id4 must stay unknown
        missing = await strict.ok("openim/query_online_status", {"To_Account": ["id4"]})
        assert missing["QueryResult"] == [] and missing["ErrorList"] == [
            {"To_Account": "id4", "ErrorCode": 70107}
        ]
    reply = await tim.ok("openim/query_online_status", {"To_Account": ["id1", "id2", "id3"]})
    assert [(r["To_Account"], r["State"], r["Status"]) for r in reply["QueryResult"]] == [
        ("id1", "Offline", "Offline"),
        ("id2", "Online", "Online"),
        ("id3", "PushOnline", "PushOnline"),
    ]
    detailed = await tim.ok("openim/query_online_status", {"IsNeedDetail": 1, "To_Account": ["id1", "id2"]})
    assert [r["State"] for r in detailed["QueryResult"]] == ["Offline", "Online"]
    await tim.fails("openim/query_online_status", {"To_Account": [f"u{n}" for n in range(501)]}, 90001)


# --- groups: the documentation's examples ----------------------------------------------------------


async def test_group_lifecycle_with_the_documented_bodies(tim: Caller) -> None:
    """create -> get_group_info (basic and filtered) -> members -> modify -> remove -> destroy."""
    created = await tim.ok(
        "group_open_http_svc/create_group",
        {
            "Owner_Account": "leckie",
            "Type": "Public",
            "Name": "TestGroup",
            "Introduction": "This is group Introduction",
            "Notification": "This is group Notification",
            "FaceUrl": "http://this.is.face.url",
            "MaxMemberNum": 500,
            "ApplyJoinOption": "FreeAccess",
            "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "peter"}],
        },
    )
    gid = created["GroupId"]
    assert gid.startswith("@TGS#")
    info = (await tim.ok("group_open_http_svc/get_group_info", {"GroupIdList": [gid, "@TGS#1CXTZEAET"]}))[
        "GroupInfo"
    ]
    assert info[0]["ErrorCode"] == 0 and info[1]["ErrorCode"] == 10010
    assert (info[0]["Name"], info[0]["Owner_Account"], info[0]["MemberNum"], info[0]["NextMsgSeq"]) == (
        "TestGroup",
        "leckie",
        3,
        1,
    )
    assert (info[0]["Introduction"], info[0]["MaxMemberNum"], info[0]["ApplyJoinOption"]) == (
        "This is group Introduction",
        500,
        "FreeAccess",
    )
    owner = info[0]["MemberList"][0]
    assert (owner["Member_Account"], owner["Role"]) == ("leckie", "Owner")

    filtered = await tim.ok(
        "group_open_http_svc/get_group_info",
        {
            "GroupIdList": [gid],
            "ResponseFilter": {
                "GroupBaseInfoFilter": ["Type", "Name", "Introduction", "Notification"],
                "MemberInfoFilter": ["Account", "Role"],
            },
        },
    )
    group = filtered["GroupInfo"][0]
    assert set(group) == {
        "GroupId",
        "ErrorCode",
        "ErrorInfo",
        "Type",
        "Name",
        "Introduction",
        "Notification",
        "MemberList",
    }
    assert set(group["MemberList"][0]) == {"Member_Account", "Role"}

    await tim.ok(
        "group_open_http_svc/modify_group_base_info",
        {"GroupId": gid, "Name": "NewName", "Notification": "new", "ShutUpAllMember": "On"},
    )
    page = await tim.ok(
        "group_open_http_svc/get_group_member_info", {"GroupId": gid, "Limit": 2, "Offset": 1}
    )
    assert page["MemberNum"] == 3 and [m["Member_Account"] for m in page["MemberList"]] == ["bob", "peter"]
    await tim.ok(
        "group_open_http_svc/delete_group_member",
        {"GroupId": gid, "Silence": 1, "MemberToDel_Account": ["peter", "not-a-member"]},
    )
    after = (await tim.ok("group_open_http_svc/get_group_info", {"GroupIdList": [gid]}))["GroupInfo"][0]
    assert (after["Name"], after["Notification"], after["MuteAllMember"], after["MemberNum"]) == (
        "NewName",
        "new",
        "On",
        2,
    )
    assert after["InfoSeq"] > info[0]["InfoSeq"]

    await tim.ok("group_open_http_svc/destroy_group", {"GroupId": gid})
    gone = (await tim.ok("group_open_http_svc/get_group_info", {"GroupIdList": [gid]}))["GroupInfo"][0]
    assert gone["ErrorCode"] == 10010
    await tim.fails(
        "group_open_http_svc/send_group_msg", {"GroupId": gid, "Random": 1, "MsgBody": text("x")}, 10010
    )
    await tim.fails("group_open_http_svc/destroy_group", {"GroupId": gid}, 10010)


async def test_get_joined_group_list_as_documented(tim: Caller) -> None:
    """Basic: GroupIds and TotalCount, AVChatRoom left out; paging and GroupBaseInfoFilter."""
    for gid, kind in (("g1", "Public"), ("g2", "Private"), ("g3", "AVChatRoom"), ("g4", "ChatRoom")):
        await tim.ok(
            "group_open_http_svc/create_group",
            {"Type": kind, "Name": gid, "GroupId": gid, "MemberList": [{"Member_Account": "leckie"}]},
        )
    basic = await tim.ok("group_open_http_svc/get_joined_group_list", {"Member_Account": "leckie"})
    assert basic["TotalCount"] == 3 and basic["GroupIdList"] == [{"GroupId": g} for g in ("g1", "g2", "g4")]
    paged = await tim.ok(
        "group_open_http_svc/get_joined_group_list",
        {
            "Member_Account": "leckie",
            "Limit": 1,
            "Offset": 1,
            "WithHugeGroups": 1,
            "ResponseFilter": {"GroupBaseInfoFilter": ["Type", "Name", "MemberNum"]},
        },
    )
    assert paged["TotalCount"] == 4 and paged["GroupIdList"] == [
        {"GroupId": "g2", "Type": "Private", "Name": "g2", "MemberNum": 1}
    ]
    work = await tim.ok(
        "group_open_http_svc/get_joined_group_list", {"Member_Account": "leckie", "GroupType": "Work"}
    )
    assert work["GroupIdList"] == [{"GroupId": "g2"}]


@pytest.mark.parametrize(
    ("endpoint", "body", "code"),
    [
        ("group_open_http_svc/get_group_info", {"GroupIdList": [f"g{n}" for n in range(51)]}, 10004),
        ("group_open_http_svc/get_group_info", {"GroupIdList": []}, 10004),
        (
            "group_open_http_svc/delete_group_member",
            {"GroupId": "live", "MemberToDel_Account": ["bob"]},
            10004,
        ),
        (
            "group_open_http_svc/delete_group_member",
            {"GroupId": "team", "MemberToDel_Account": ["owner"]},
            10004,
        ),
        ("group_open_http_svc/modify_group_base_info", {"GroupId": "team", "Name": "x" * 31}, 10004),
        (
            "group_open_http_svc/modify_group_base_info",
            {"GroupId": "team", "ApplyJoinOption": "Maybe"},
            10004,
        ),
        ("group_open_http_svc/modify_group_base_info", {"GroupId": "nope", "Name": "x"}, 10010),
        ("group_open_http_svc/get_group_member_info", {"GroupId": "nope"}, 10010),
        ("im_open_login_svc/account_check", {"CheckItem": [{"UserID": f"u{n}"} for n in range(101)]}, 70402),
        ("im_open_login_svc/account_delete", {"DeleteItem": []}, 70402),
    ],
)
async def test_management_errors_use_tims_codes(
    tim: Caller, endpoint: str, body: dict[str, Any], code: int
) -> None:
    """Limits (50 groups, 100 accounts, 30-byte names), AVChatRoom removals and missing groups."""
    await tim.ok(
        "group_open_http_svc/create_group",
        {"Type": "AVChatRoom", "Name": "live", "GroupId": "live", "MemberList": [{"Member_Account": "bob"}]},
    )
    await tim.ok(
        "group_open_http_svc/create_group",
        {"Type": "Public", "Name": "t", "GroupId": "team", "Owner_Account": "owner"},
    )
    await tim.fails(endpoint, body, code)
