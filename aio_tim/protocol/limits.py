"""TIM's documented REST call frequency limits, per app, in calls per second (its limits page).

Both sides read this one table: the client's pipeline paces itself under it and the dev server
enforces it. A `Limits` mapping overrides it per endpoint ("service/command"); the key `"*"`
stands for every endpoint the mapping does not name; a value of None or 0 means unlimited, and
`limits=None` switches every limit off.

    >>> limit_for("openim/batchsendmsg", RATE_LIMITS)
    100
    >>> limit_for("openim/sendmsg", {"*": 50}), limit_for("openim/sendmsg", None)
    (50, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_RATE_LIMIT", "RATE_LIMITS", "Limits", "limit_for"]

Limits = Mapping[str, float | None]

# "Most endpoints: 200/s"; the table names the ones the docs give a number for.
DEFAULT_RATE_LIMIT: Final = 200

RATE_LIMITS: Final[Mapping[str, float | None]] = MappingProxyType(
    {
        "openim/sendmsg": 200,
        "openim/batchsendmsg": 100,  # the 2019 doc; a newer rate is unconfirmed
        "openim/importmsg": 200,
        "openim/admin_getroammsg": 200,
        "openim/admin_msgwithdraw": 200,
        "openim/admin_set_msg_read": 200,
        "openim/get_c2c_unread_msg_num": 200,
        "openim/delete_c2c_msg_ramble": 200,
        "group_open_http_svc/send_group_msg": 200,
        "group_open_http_svc/group_msg_get_simple": 200,
        "group_open_http_svc/import_group_msg": 200,
        # Push to all users: the attribute and tag pages say 100/s (trtc.io 37167, 37170).
        "all_member_push/im_set_attr_name": 100,
        "all_member_push/im_get_attr_name": 100,
        "all_member_push/im_get_attr": 100,
        "all_member_push/im_set_attr": 100,
        "all_member_push/im_remove_attr": 100,
        "all_member_push/im_get_tag": 100,
        "all_member_push/im_add_tag": 100,
        "all_member_push/im_remove_tag": 100,
        "all_member_push/im_remove_all_tags": 100,
    }
)


def limit_for(endpoint: str, limits: Limits | None) -> float | None:
    """Calls per second allowed on `endpoint` under `limits`, or None for no limit."""
    if limits is None:
        return None
    if endpoint in limits:
        value = limits[endpoint]
    elif "*" in limits:
        value = limits["*"]
    else:
        value = RATE_LIMITS.get(endpoint, DEFAULT_RATE_LIMIT)
    return value or None
