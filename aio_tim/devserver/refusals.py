"""Sends TIM refuses before anything else happens: a globally muted sender, a blacklisted one.

Checked before the before-send webhook, which TIM does not call for them
(intl.cloud.tencent.com/document/product/1047/34923): a C2C-muted sender gets 20012, a
group-muted one 10017; a C2C message to someone who blacklisted the sender gets 20007
(the sendmsg error table, cloud.tencent.com/document/product/269/2282).
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import error_for
from ..protocol.group import SendGroupMsg
from ..protocol.openim import BatchSendMsg, SendMsg
from .context import Context
from .profiles import muted

__all__ = ["refuse_send"]

ERR_C2C_MUTED: Final = 20012
ERR_GROUP_MUTED: Final = 10017
ERR_BLACKLISTED: Final = 20007


async def refuse_send(ctx: Context, call: Any) -> None:
    """Raise TIM's code if `call` is a send TIM refuses for its sender; else nothing."""
    if isinstance(call, SendMsg | BatchSendMsg):
        sender = call.From_Account or ctx.admin
        if (await muted(ctx, sender))[0]:
            raise error_for(ERR_C2C_MUTED, "the sender is muted for C2C messages (setnospeaking)")
        if isinstance(call, SendMsg) and await ctx.state.blocks(call.To_Account, sender):
            raise error_for(ERR_BLACKLISTED, "the recipient has blacklisted the sender")
    elif isinstance(call, SendGroupMsg) and await _group_muted(ctx, call.From_Account):
        raise error_for(ERR_GROUP_MUTED, "the sender is muted for group messages (setnospeaking)")


async def _group_muted(ctx: Context, sender: str | None) -> bool:
    return sender is not None and (await muted(ctx, sender))[1]
