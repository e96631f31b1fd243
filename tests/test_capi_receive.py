"""The C SDK's event callbacks over loopback: TIMAddRecvNewMsgCallback, TIMSetMsgRevokeCallback and
TIMSetMsgReadedReceiptCallback, fed by the dev server's webhooks, with the seed's JSON shapes."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from aio_tim import ConvType, Message, TextElem, capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import TIM_SUCC
from aio_tim.devserver import DevServer
from aio_tim.testing import client_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """Collects (kind, parsed JSON, user_data) from the event callbacks."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue()

    def callback(self, kind: str) -> Any:
        def cb(json_array: str, user_data: Any) -> None:
            self.got.put_nowait((kind, json.loads(json_array), user_data))

        return cb

    async def next(self) -> tuple[str, Any, Any]:
        return await asyncio.wait_for(self.got.get(), 10)


async def test_event_callbacks_get_new_messages_recalls_and_receipts(dev_server: DevServer) -> None:
    """user2 logged in through the C API gets user1's message, its recall, and user1's read receipt."""
    port = free_port()
    config = {"aio_tim_base_url": dev_server.url, "aio_tim_secret_key": dev_server.secret_key,
              "aio_tim_webhook_port": port, "aio_tim_webhook_token": "t0k3n"}  # fmt: skip
    inbox, logins = Inbox(), asyncio.Queue[int]()
    recv, extra = inbox.callback("recv"), inbox.callback("never")
    capi.TIMAddRecvNewMsgCallback(recv, "ud")
    capi.TIMAddRecvNewMsgCallback(extra, None)
    capi.TIMRemoveRecvNewMsgCallback(extra)
    capi.TIMSetMsgRevokeCallback(inbox.callback("revoke"), None)
    capi.TIMSetMsgReadedReceiptCallback(inbox.callback("receipt"), None)
    assert capi.TIMInit(dev_server.sdk_app_id, json.dumps(config)) == TIM_SUCC
    try:
        sig = mint_usersig(dev_server.sdk_app_id, dev_server.secret_key, "user2")
        assert capi.TIMLogin("user2", sig, lambda code, *_: logins.put_nowait(code), None) == TIM_SUCC
        assert await asyncio.wait_for(logins.get(), 10) == 0
        dev_server.set_webhook(f"http://127.0.0.1:{port}/tim/callback", token="t0k3n")
        async with client_for(dev_server, "user1") as user1:
            sent = await user1.msg.send_new_msg(
                "user2", ConvType.C2C, Message(elem_array=[TextElem(content="hi")])
            )
            kind, [msg], user_data = await inbox.next()
            assert (kind, user_data) == ("recv", "ud")
            assert msg["message_conv_id"] == "user1" and msg["message_conv_type"] == 1
            assert msg["message_sender"] == "user1" and msg["message_is_from_self"] is False
            assert msg["message_elem_array"] == [{"elem_type": 0, "text_elem_content": "hi"}]
            assert (msg["message_seq"], msg["message_rand"]) == (sent.seq, sent.rand)
            await user1.msg.revoke("user2", ConvType.C2C, sent)
            kind, [locator], _ = await inbox.next()
            assert kind == "revoke"
            assert locator == {
                "message_locator_conv_id": "user1", "message_locator_conv_type": 1,
                "message_locator_is_revoked": True, "message_locator_time": sent.server_time,
                "message_locator_seq": sent.seq, "message_locator_is_self": False,
                "message_locator_rand": sent.rand,
            }  # fmt: skip
            async with client_for(dev_server, "user2") as user2:
                await user2.msg.send_new_msg(
                    "user1", ConvType.C2C, Message(elem_array=[TextElem(content="yo")])
                )
            await user1.msg.report_readed("user2", ConvType.C2C)
            kind, [receipt], _ = await inbox.next()
            assert kind == "receipt"
            assert receipt["msg_receipt_conv_id"] == "user1" and receipt["msg_receipt_conv_type"] == 1
            assert receipt["msg_receipt_time_stamp"] > 0
        assert inbox.got.empty()  # user2's own message ("yo") is not a new message to user2
    finally:
        assert capi.TIMUninit() == TIM_SUCC
        capi.TIMRemoveRecvNewMsgCallback(recv)
        capi.TIMSetMsgRevokeCallback(None)
        capi.TIMSetMsgReadedReceiptCallback(None)
