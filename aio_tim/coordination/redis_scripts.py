"""The Lua scripts of the Redis inbox and outbox, each atomic on the server.

Each says what its KEYS and ARGV are and what it returns. They are kept apart from the Python that
calls them so the two modules stay readable.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACK_SCRIPT",
    "APPEND_SCRIPT",
    "BURY_SCRIPT",
    "ENQUEUE_SCRIPT",
    "FINISH_SCRIPT",
    "HEARTBEAT_SCRIPT",
    "LEASE_SCRIPT",
    "PURGE_SCRIPT",
    "RENEW_SCRIPT",
]

# --- the inbox -------------------------------------------------------------------------------------

# KEYS[1]: the stream. ARGV[1]: the dedup keys' prefix, ARGV[2]: their lifetime (s), then five
# values per entry (key, command, body, query JSON, received). Returns position, duplicate pairs.
APPEND_SCRIPT: Final = """
local out = {}
for i = 3, #ARGV, 5 do
  local marker = ARGV[1] .. ARGV[i]
  local found = redis.call('GET', marker)
  if found then
    out[#out + 1] = found
    out[#out + 1] = 1
  else
    local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'c', ARGV[i + 1], 'b', ARGV[i + 2],
                          'q', ARGV[i + 3], 'r', ARGV[i + 4])
    redis.call('SET', marker, id, 'EX', tonumber(ARGV[2]))
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
return out
"""
# Acknowledge everything of this consumer's pending up to a position (callers ack in order).
ACK_SCRIPT: Final = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', ARGV[3], 100000, ARGV[2])
local acked = 0
for first = 1, #pending, 1000 do  -- unpack() takes a few thousand values at most
  local ids = {}
  for i = first, math.min(first + 999, #pending) do ids[#ids + 1] = pending[i][1] end
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
end
return acked
"""

# Reset the idle time of the entries this worker holds (handed out, not yet acknowledged) and still
# owns, so no other worker claims them while they are being worked on. KEYS[1]: the stream;
# ARGV: group, worker, then the held ids in order. Returns the ids renewed.
RENEW_SCRIPT: Final = """
local held = {}
for i = 3, #ARGV do held[ARGV[i]] = true end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[#ARGV], 100000, ARGV[2])
local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for _, item in ipairs(pending) do
  if held[item[1]] then args[#args + 1] = item[1] end
end
if #args == 5 then return {} end
args[#args + 1] = 'JUSTID'
return redis.call(unpack(args))
"""

# Trim the entries before ARGV[1] (an id: "<ms>-0") that every consumer group has acknowledged:
# a group keeps its first pending entry, or else everything after the last one it was given. No
# group: nothing is known acknowledged, nothing goes. KEYS[1]: the stream. Returns how many went.
PURGE_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms, seq
end
local function before(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local bound = ARGV[1]
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local keep
  if tonumber(info['pending']) > 0 then
    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]
  else
    local ms, seq = parse(info['last-delivered-id'])
    keep = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
  end
  if before(keep, bound) then bound = keep end
end
return redis.call('XTRIM', KEYS[1], 'MINID', bound)
"""

# --- the outbox ------------------------------------------------------------------------------------

# Heartbeat on Redis's clock, forget workers silent for ARGV[2] ms; the number of live workers.
HEARTBEAT_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 4)
return redis.call('ZCARD', KEYS[1])
"""
# Extend (ARGV[2] ms) or, with ARGV[2] = 0, drop a lease only while it is still ours.
LEASE_SCRIPT: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

# Append a message to its shard once: KEYS[1] the shard, KEYS[2] the message's marker (named by
# its idempotency keys); ARGV: conversation type, conversation id, message JSON, the marker's
# lifetime (s). A retry of an append whose answer was lost finds the marker and appends nothing.
# Returns the entry id, the first append's on a retry.
ENQUEUE_SCRIPT: Final = """
local found = redis.call('GET', KEYS[2])
if found then return found end
local id = redis.call('XADD', KEYS[1], '*', 't', ARGV[1], 'c', ARGV[2], 'm', ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', tonumber(ARGV[4]))
return id
"""

# Record a sent (or refused) message's outcome and acknowledge its entry, atomically: KEYS[1] the
# result key, KEYS[2] the shard's counters, KEYS[3] the shard; ARGV: the outcome, its lifetime (s),
# the counter to count it in, the group, the entry id. Counted only by the call that deletes the
# entry: a repeat (the client retrying a call whose reply a failover lost) counts nothing.
# Returns 1 if this call counted it.
FINISH_SCRIPT: Final = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
redis.call('XACK', KEYS[3], ARGV[4], ARGV[5])
if redis.call('XDEL', KEYS[3], ARGV[5]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1
"""

# --- both ------------------------------------------------------------------------------------------

# Move an entry no worker can decode to the dead-letter stream, once: KEYS[1] the stream, KEYS[2]
# the dead-letter stream; ARGV[1] the entry id, ARGV[2] why, ARGV[3] the group to acknowledge it in
# ('' for none), ARGV[4] the dead-letter stream's approximate cap; KEYS[3] (optional) a hash whose
# field ARGV[5] counts it. The entry's fields are kept under "f:<name>". Returns 1 when this call
# moved it, 0 when it was gone already.
BURY_SCRIPT: Final = """
if ARGV[3] ~= '' then redis.call('XACK', KEYS[1], ARGV[3], ARGV[1]) end
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return 0 end
local fields = found[1][2]
local args = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'stream', KEYS[1], 'id', ARGV[1],
              'reason', ARGV[2]}
for i = 1, #fields, 2 do
  args[#args + 1] = 'f:' .. fields[i]
  args[#args + 1] = fields[i + 1]
end
redis.call(unpack(args))
redis.call('XDEL', KEYS[1], ARGV[1])
if KEYS[3] then redis.call('HINCRBY', KEYS[3], ARGV[5], 1) end
return 1
"""
