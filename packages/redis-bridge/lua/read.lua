--[[
taskpulse read script (@taskpulse/redis-bridge/lua/read.lua).

Reads a channel's position and history in one atomic step. A read never writes: a channel that
does not exist (never published, or expired) is reported at the empty position, epoch "0" and
offset 0 — the position before its first publication, whatever epoch that publication creates.
Key layout: see publish.lua.

KEYS[1]  meta hash
KEYS[2]  history stream
ARGV[1]  unused (formerly an epoch candidate; reads create nothing)
ARGV[2]  unused (formerly the TTL of a created epoch)
ARGV[3]  mode: "head" (no entries), "latest" (the newest ARGV[4] entries) or
         "since" (entries after ARGV[6] when ARGV[5] is the current epoch, else from the start)
ARGV[4]  at most this many entries; -1 for all retained
ARGV[5]  epoch of the "since" position
ARGV[6]  offset of the "since" position
ARGV[7]  history size: only the newest ARGV[7] offsets count as history (the stream is trimmed
         lazily by publish.lua and may hold a few older entries)

Returns { epoch, offset, entries, newest[, mac] } where entries is a flat list
id1, text1, id2, text2, … oldest first, and newest is { id, text } of the newest retained
publication (id "latest" when it comes from the meta hash) or an empty list; when that publication
is the last of entries, newest is { id } alone (its text is the last text of entries). mac is the
channel's MAC key (40 hex characters, see publish.lua), absent when the channel has none: a hub
learns it with the reads it makes anyway, and then verifies live messages without reading them back.

Several channels in one call (a hub verifying the publications of many channels at once): pass
their keys in pairs (KEYS[2i-1], KEYS[2i]) and their ARGV in groups of seven (ARGV[7(i-1)+1] …
ARGV[7i], each group as above). The reply is then a list of the replies above, one per channel, in
order. All keys must live on one node (not for Redis Cluster, where channels hash to other slots).
]]

local function field(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'p' then return fields[i + 1] end
  end
  return ''
end

-- Reads one channel; `a` is the index of its ARGV group's first value (ARGV[a] is the group's ARGV[1]).
local function read(meta, history, a)
  local mode = ARGV[a + 2]
  local count = tonumber(ARGV[a + 3]) or -1
  local size = tonumber(ARGV[a + 6]) or 0

  local state = redis.call('HMGET', meta, 'epoch', 'offset', 'mac')
  local epoch = state[1]
  if not epoch then
    -- Nothing to read (a stream left over from an older generation does not count).
    return { '0', 0, {}, {} }
  end
  local offset = tonumber(state[2]) or 0
  -- The oldest offset that still counts as history.
  local first = offset - size + 1
  if first < 1 then first = 1 end

  local out = {}
  if count ~= 0 and mode ~= 'head' and size > 0 then
    local entries
    local oldest = string.format('%d', first) .. '-0'
    if mode == 'latest' then
      if count > 0 then
        entries = redis.call('XREVRANGE', history, '+', oldest, 'COUNT', count)
      else
        entries = redis.call('XREVRANGE', history, '+', oldest)
      end
      for i = #entries, 1, -1 do
        out[#out + 1] = entries[i][1]
        out[#out + 1] = field(entries[i])
      end
    else
      local start = first
      if ARGV[a + 4] == epoch and tonumber(ARGV[a + 5]) + 1 > first then start = tonumber(ARGV[a + 5]) + 1 end
      start = string.format('%d', start) .. '-0'
      if count > 0 then
        entries = redis.call('XRANGE', history, start, '+', 'COUNT', count)
      else
        entries = redis.call('XRANGE', history, start, '+')
      end
      for i = 1, #entries do
        out[#out + 1] = entries[i][1]
        out[#out + 1] = field(entries[i])
      end
    end
  end

  local newest = {}
  local last = {}
  if size > 0 then last = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1) end
  if last[1] then
    local id = last[1][1]
    -- Usually the newest entry is the last one just read (a hub verifying a live publication):
    -- its id alone says so, instead of a second copy of its text in the reply.
    if out[#out - 1] == id then newest = { id } else newest = { id, field(last[1]) } end
  else
    local latest = redis.call('HGET', meta, 'latest')
    if latest then newest = { 'latest', latest } end
  end
  -- A channel without a key: the reply ends with newest (HMGET's false would be a nil reply).
  if state[3] then return { epoch, offset, out, newest, state[3] } end
  return { epoch, offset, out, newest }
end

if #KEYS <= 2 then return read(KEYS[1], KEYS[2], 1) end
local replies = {}
for i = 1, #KEYS / 2 do
  replies[i] = read(KEYS[2 * i - 1], KEYS[2 * i], 7 * (i - 1) + 1)
end
return replies
