"""Sends TIM refuses before anything else happens: a sender under a global group mute.

Checked before the before-send webhook, which TIM does not call for them
(intl.cloud.tencent.com/document/product/1047/34923: a group-muted sender gets 10017). The C2C
REST sends are not refused: openim/sendmsg's page (cloud.tencent.com/document/product/269/2282,
trtc.io/zh/document/34919) says the API checks neither friendship nor blacklists (20007) nor
whether the sender is muted (20012); those refusals are for messages sent from the client SDKs.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import error_for
from ..protocol.group import SendGroupMsg
from .context import Context
from .profiles import muted

__all__ = ["refuse_send"]

ERR_GROUP_MUTED: Final = 10017


async def refuse_send(ctx: Context, call: Any) -> None:
    """Raise TIM's code if `call` is a send TIM refuses for its sender; else nothing."""
    sender = call.From_Account if isinstance(call, SendGroupMsg) else None
    if sender is not None and (await muted(ctx, sender))[1]:
        raise error_for(ERR_GROUP_MUTED, "the sender is muted for group messages (setnospeaking)")
