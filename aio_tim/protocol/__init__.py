"""TIM REST API v4: one request Struct per endpoint, the envelope, and C SDK <-> MsgBody conversion.

Pure data and codecs: nothing here performs I/O.
"""

from . import account, group, openim
from .envelope import Envelope, Request
from .msgbody import MsgBodyItem, from_msg_body, msg_body_size, to_msg_body

__all__ = [
    "Envelope",
    "MsgBodyItem",
    "Request",
    "account",
    "from_msg_body",
    "group",
    "msg_body_size",
    "openim",
    "to_msg_body",
]
