"""`tim.msg`: the C SDK's `TIMMsg*` functions as coroutines, one module per family.

    async with Client(...) as tim:
        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, {
            "message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
        page = await tim.msg.get_msg_list("bob", ConvType.C2C, {"msg_getmsglist_param_count": 20})

`MsgManager` (manager.py) documents each function and delegates it:

- send.py: send_new_msg, send_text, enqueue_new_msg (and the outbox's deliver), batch_send;
- history.py: get_msg_list and its pages; roaming.py: filling them from the server's history;
- edit.py: report_readed, revoke, modify_message;
- delete.py: delete, list_delete, clear_history_message;
- local.py: save_msg, import_msg_list, find_by_msg_locator_list;
- download.py: download_elem_to_path.

Each operation is a thin builder: validate and coerce the C SDK JSON (no I/O), fix the
idempotency keys, build the REST request, hand it to the pipeline, record the outcome in the
local store, and give back the C SDK's JSON shapes. `SendContext` (context.py) is what they share.
"""

from .context import SendContext
from .manager import MsgManager

__all__ = ["MsgManager", "SendContext"]
