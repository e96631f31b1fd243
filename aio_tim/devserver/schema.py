"""The dev server's sqlite schema as numbered migrations, tracked in `PRAGMA user_version`.

Migration N brings a database from version N-1 to N. Append new migrations; never edit an
applied one, since file-backed databases keep their state across restarts.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS"]

_V1: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE accounts (
        user_id TEXT PRIMARY KEY,
        nick TEXT,
        face_url TEXT,
        created INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # id is the per-server insertion order: the last tie-breaker of roaming order.
    # conv_lo/conv_hi name the conversation whatever the direction of the message.
    """CREATE TABLE c2c_msgs (
        id INTEGER PRIMARY KEY,
        conv_lo TEXT NOT NULL,
        conv_hi TEXT NOT NULL,
        from_account TEXT NOT NULL,
        to_account TEXT NOT NULL,
        msg_seq INTEGER NOT NULL,
        msg_random INTEGER NOT NULL,
        msg_time INTEGER NOT NULL,
        client_time INTEGER NOT NULL,
        msg_key TEXT NOT NULL,
        body TEXT NOT NULL,
        cloud_custom_data TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('send', 'import')),
        counts_unread INTEGER NOT NULL,
        recalled INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX c2c_by_conv_time ON c2c_msgs (conv_lo, conv_hi, msg_time, msg_seq, id)",
    "CREATE INDEX c2c_by_conv_key ON c2c_msgs (conv_lo, conv_hi, msg_key)",
    "CREATE INDEX c2c_by_sender ON c2c_msgs (from_account, to_account, msg_random, msg_time)",
    "CREATE INDEX c2c_by_recipient ON c2c_msgs (to_account, from_account, msg_time)",
    # One-sided invisibility: deleted from one party's roaming, SyncOtherMachine=2, online-only.
    """CREATE TABLE c2c_hidden (
        msg_id INTEGER NOT NULL REFERENCES c2c_msgs (id),
        account TEXT NOT NULL,
        PRIMARY KEY (msg_id, account)
    ) WITHOUT ROWID""",
    """CREATE TABLE c2c_read (
        reader TEXT NOT NULL,
        peer TEXT NOT NULL,
        read_time INTEGER NOT NULL,
        PRIMARY KEY (reader, peer)
    ) WITHOUT ROWID""",
    # "groups" is an SQL keyword since sqlite 3.28 (window frames).
    """CREATE TABLE chat_groups (
        group_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT,
        created INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE group_members (
        group_id TEXT NOT NULL,
        account TEXT NOT NULL,
        role TEXT NOT NULL,
        joined INTEGER NOT NULL,
        PRIMARY KEY (group_id, account)
    ) WITHOUT ROWID""",
    """CREATE TABLE group_msgs (
        group_id TEXT NOT NULL,
        msg_seq INTEGER NOT NULL,
        from_account TEXT NOT NULL,
        msg_random INTEGER NOT NULL,
        msg_time INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        body TEXT NOT NULL,
        cloud_custom_data TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('send', 'import')),
        online_only INTEGER NOT NULL DEFAULT 0,
        recalled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (group_id, msg_seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX group_msgs_by_random ON group_msgs (group_id, msg_random, msg_time)",
)

# Attachments uploaded to the file service; the bytes live in a folder beside the database,
# one file per (server-generated) id.
_V2: Final = (
    """CREATE TABLE files (
        file_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

# Group profile fields (get_group_info / modify_group_base_info). Empty text and 0 stand for
# "TIM's default for the group type", filled in when the profile is read.
_V3: Final = (
    "ALTER TABLE chat_groups ADD COLUMN introduction TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE chat_groups ADD COLUMN notification TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE chat_groups ADD COLUMN face_url TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE chat_groups ADD COLUMN max_member_num INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE chat_groups ADD COLUMN apply_join_option TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE chat_groups ADD COLUMN shut_up_all INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE chat_groups ADD COLUMN info_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE chat_groups ADD COLUMN last_info_time INTEGER NOT NULL DEFAULT 0",
    # get_joined_group_list looks members up by account.
    "CREATE INDEX group_members_by_account ON group_members (account, group_id)",
)

# Every C2C after-send, recall and read-report webhook carries the recipient's total unread count:
# an index of the messages that can count keeps the count off the table (100,000 unread: a median
# 323 -> 140 ms on a shared 2-core VM; still about 1.4 µs a message, so it is only counted when fired).
_V4: Final = (
    "CREATE INDEX c2c_unread_by_recipient ON c2c_msgs (to_account, from_account, msg_time) "
    "WHERE recalled = 0 AND counts_unread = 1",
)

# Group administration (issue 33): a member's NameCard and MsgFlag ("" is TIM's default); mutes
# in a table of their own, since TIM keeps a member muted across leaving and rejoining; system
# notifications as sent; and push to all users: attribute names, each user's attributes and tags,
# and the pushes made.
_V5: Final = (
    "ALTER TABLE group_members ADD COLUMN name_card TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE group_members ADD COLUMN msg_flag TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE group_mutes (
        group_id TEXT NOT NULL,
        account TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (group_id, account)
    ) WITHOUT ROWID""",
    """CREATE TABLE group_notices (
        id INTEGER PRIMARY KEY,
        group_id TEXT NOT NULL,
        content TEXT NOT NULL,
        to_members TEXT NOT NULL,
        sent INTEGER NOT NULL
    )""",
    "CREATE TABLE push_attr_names (slot INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    """CREATE TABLE push_user_attrs (
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE push_user_tags (
        account TEXT NOT NULL,
        tag TEXT NOT NULL,
        added INTEGER NOT NULL,
        PRIMARY KEY (account, tag)
    ) WITHOUT ROWID""",
    "CREATE INDEX push_user_tags_by_tag ON push_user_tags (tag, account)",
    """CREATE TABLE push_tasks (
        task_id TEXT PRIMARY KEY,
        from_account TEXT NOT NULL,
        msg_random INTEGER NOT NULL,
        body TEXT NOT NULL,
        condition TEXT,
        recipients TEXT NOT NULL,
        created INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

# The server side of each user's conversation list (recentcontact/*). The list itself follows the
# messages (devserver/recent_queries.py); these tables keep what the messages do not: a deletion
# (the conversation shows again once a message newer than `upto` arrives: a C2C message id, a
# group MsgSeq), pins, marks, and a member's unread count set by set_unread_msg_num.
_V6: Final = (
    """CREATE TABLE recent_deleted (
        account TEXT NOT NULL,
        type INTEGER NOT NULL,
        peer TEXT NOT NULL,
        upto INTEGER NOT NULL,
        PRIMARY KEY (account, type, peer)
    ) WITHOUT ROWID""",
    """CREATE TABLE recent_top (
        account TEXT NOT NULL,
        type INTEGER NOT NULL,
        peer TEXT NOT NULL,
        top_time INTEGER NOT NULL,
        PRIMARY KEY (account, type, peer)
    ) WITHOUT ROWID""",
    """CREATE TABLE recent_marks (
        account TEXT NOT NULL,
        type INTEGER NOT NULL,
        peer TEXT NOT NULL,
        standard INTEGER NOT NULL DEFAULT 0,
        custom TEXT,
        PRIMARY KEY (account, type, peer)
    ) WITHOUT ROWID""",
    """CREATE TABLE group_unread (
        group_id TEXT NOT NULL,
        account TEXT NOT NULL,
        unread INTEGER NOT NULL,
        PRIMARY KEY (group_id, account)
    ) WITHOUT ROWID""",
)

# Read receipts and message extensions (issue 23). A message asks for receipts and allows
# extensions when it is sent (IsNeedReadReceipt / NeedReadReceipt, SupportMessageExtension);
# `msg_ref` names a message in both tables: 'c:<c2c_msgs.id>' or 'g:<msg_seq>:<group_id>'.
_V7: Final = (
    """CREATE TABLE msg_features (
        msg_ref TEXT PRIMARY KEY,
        need_receipt INTEGER NOT NULL DEFAULT 0,
        extensible INTEGER NOT NULL DEFAULT 0,
        ext_latest_seq INTEGER NOT NULL DEFAULT 0,
        ext_clear_seq INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE msg_receipts (
        msg_ref TEXT NOT NULL,
        reader TEXT NOT NULL,
        read_time INTEGER NOT NULL,
        PRIMARY KEY (msg_ref, reader)
    ) WITHOUT ROWID""",
    """CREATE TABLE msg_extensions (
        msg_ref TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (msg_ref, key)
    ) WITHOUT ROWID""",
)

# The relationship chain (sns/*), profile tags (profile/portrait_*) and global mutes
# (openconfigsvr/setnospeaking). A friend's lists and custom fields are JSON; `sns_seqs` counts
# each account's changes per kind ('friend', 'black', 'group') for the *Sequence fields.
_V8: Final = (
    """CREATE TABLE friends (
        owner TEXT NOT NULL,
        friend TEXT NOT NULL,
        add_source TEXT NOT NULL DEFAULT '',
        add_wording TEXT NOT NULL DEFAULT '',
        add_time INTEGER NOT NULL,
        remark TEXT NOT NULL DEFAULT '',
        remark_time INTEGER NOT NULL DEFAULT 0,
        lists TEXT NOT NULL DEFAULT '[]',
        custom TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (owner, friend)
    ) WITHOUT ROWID""",
    """CREATE TABLE blacklist (
        owner TEXT NOT NULL,
        blocked TEXT NOT NULL,
        added INTEGER NOT NULL,
        PRIMARY KEY (owner, blocked)
    ) WITHOUT ROWID""",
    """CREATE TABLE friend_lists (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (owner, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE sns_seqs (
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (owner, kind)
    ) WITHOUT ROWID""",
    # Nick and FaceUrl stay in accounts; every other profile tag is a row, its value JSON.
    """CREATE TABLE profile_tags (
        user_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, tag)
    ) WITHOUT ROWID""",
    # Unix second each mute ends; -1 is for good. No row (or a past time): not muted.
    """CREATE TABLE nospeaking (
        user_id TEXT PRIMARY KEY,
        c2c_until INTEGER NOT NULL DEFAULT 0,
        group_until INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
