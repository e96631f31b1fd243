"""`tim.group`: set up and administer group conversations.

`GroupManager` (in `manager`) creates, dismisses, invites, removes and reads profiles and lists;
its administration calls (owner, roles, member profiles, mutes, imports) live in `admin`.
"""

from .manager import GroupManager

__all__ = ["GroupManager"]
