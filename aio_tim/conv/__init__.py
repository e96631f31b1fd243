"""`tim.conv`: the C SDK's `TIMConv*` functions over the store's conversation table.

One module per family behind the `ConvManager` façade: listing.py (the list, one conversation,
unread totals, the roaming fill), edits.py (delete, pin, mark, unread, draft, custom data) and
groups.py (conversation groups). See docs/conversations.md.
"""

from .manager import ConvManager

__all__ = ["ConvManager"]
