"""Plain things plainly: send_text, and the input TIM would refuse refused before any I/O."""

from __future__ import annotations

import pytest

from aio_tim import ConvType, Message, MsgStatus, TextElem, UsageError
from aio_tim.errors import TIM_ERR_CONV, TIM_ERR_PARAM


async def test_send_text_sends_one_text_element(tim, dev_server):
    """send_text(conv_id, conv_type, text) is send_new_msg with one TextElem."""
    sent = await tim.msg.send_text("bob", ConvType.C2C, "hello bob")
    assert sent.status == MsgStatus.SEND_SUCC and sent.msg_id
    assert sent.elem_array == [TextElem(content="hello bob")]


@pytest.mark.parametrize(
    "call",
    [
        lambda tim: tim.msg.send_text("bob", ConvType.C2C, ""),
        lambda tim: tim.msg.send_new_msg("bob", ConvType.C2C, Message(elem_array=[TextElem(content="")])),
        lambda tim: tim.msg.send_new_msg(
            "bob", ConvType.C2C, {"message_elem_array": [{"elem_type": 0, "text_elem_content": ""}]}
        ),
    ],
)
async def test_empty_text_is_refused_before_any_io(tim, call):
    """An empty text is TIM_ERR_PARAM naming the problem, and no REST call is made."""
    with pytest.raises(UsageError) as caught:
        await call(tim)
    assert caught.value.code == TIM_ERR_PARAM and "needs text" in caught.value.desc
    assert tim.pipeline.statistics().sent == 0


async def test_a_40_character_user_id_is_refused_before_any_io(tim):
    """send_new_msg to a C2C peer whose UserID exceeds 32 bytes is TIM_ERR_CONV, no REST call."""
    with pytest.raises(UsageError) as caught:
        await tim.msg.send_text("u" * 40, ConvType.C2C, "hi")
    assert caught.value.code == TIM_ERR_CONV and "32 bytes" in caught.value.desc
    assert tim.pipeline.statistics().sent == 0


async def test_send_text_refuses_a_non_string(tim):
    """send_text(…, b"bytes") names the type instead of sending its repr."""
    with pytest.raises(UsageError, match="must be a str"):
        await tim.msg.send_text("bob", ConvType.C2C, b"hi")  # type: ignore[arg-type]
