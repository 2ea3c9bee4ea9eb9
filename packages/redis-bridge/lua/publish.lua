--[[
taskpulse publish script (@taskpulse/redis-bridge/lua/publish.lua).

Appends one publication to a channel atomically: creates the channel's epoch if absent, assigns
the next offset (exactly +1), appends the publication to the history stream (trimmed to the
namespace's history size), refreshes the TTL of every key, keeps the latest value of a state
channel, and publishes the serialized publication on the channel's pub/sub channel. Any language
can run it (EVAL / EVALSHA, e.g. redis-py's register_script); see docs/redis.md.

All keys of one channel share the hash tag {<channel>}, so the script is single-slot in a Redis
Cluster (the pub/sub channel is passed as a key too, because SPUBLISH is slot-checked).

KEYS[1]  meta hash        <prefix>{<channel>}:meta     fields: epoch, offset[, latest][, mac, mki, mko]
KEYS[2]  history stream   <prefix>{<channel>}:history  entry id <offset>-0, field p = publication JSON
         (trimmed exactly every 16 publications, so it may hold up to size + 15 entries: readers
         count only the newest `size` offsets as history, see read.lua)
KEYS[3]  pub/sub channel  <prefix>{<channel>}
KEYS[4]  (optional) idempotency key <prefix>{<channel>}:id:<publication id>, given together with
         ARGV[8] when the publication carries an `id`: a publication whose id was already
         published on the channel within the window is not published again; the script returns
         the first one's position instead (a retried publish is applied at most once)

ARGV[1]  epoch candidate: a fresh random id ([A-Za-z0-9_-], at most 64 characters), used only
         when the channel has no epoch yet (scripts must not rely on math.random)
ARGV[2]  the channel name (taskpulse grammar: no quotes, backslashes or braces)
ARGV[3]  the rest of the publication as a JSON object, in this field order:
         {"event":"…","data":…,"ts":<ms>[,"id":"…"][,"priority":1-4]}
ARGV[4]  history size (publications kept; 0 keeps none)
ARGV[5]  TTL of the channel's keys in milliseconds, refreshed on every publication
ARGV[6]  channel kind: "events" or "state"
ARGV[7]  "publish" (PUBLISH) or "spublish" (sharded pub/sub, for Redis Cluster)
ARGV[8]  (optional, with KEYS[4]) the deduplication window in milliseconds (> 0); ignored without
         KEYS[4] (pass '' when ARGV[9] follows and there is no idempotency key)
ARGV[9]  (optional) MAC key candidate: 40 lowercase hex characters (20 random bytes, drawn once per
         publisher process; checked whenever given), used only when the channel has no key yet.
         The channel's key is HMAC-SHA1(candidate, KEYS[3] .. "\n" .. epoch): one per pub/sub
         channel and epoch, the candidate itself never stored. It is kept in the meta hash (`mac`,
         with the HMAC inner/outer pads `mki`/`mko`) and dropped with the epoch: a new epoch derives
         a new one. Without a candidate the channel has no key, and hubs verify its live messages by
         reading them back.

Message authentication: when the channel has a key and the body passed every check below in full
(cjson decoded all of it, its numbers are JSON's, it is a publication every hub accepts as it is),
the pub/sub message is the stored text with its final `}` replaced by `,"_tpmac":"<mac>"}`, where
<mac> is HMAC-SHA1(key, stored text) in lowercase hex (the history entry and `latest` stay the
stored text). Hubs deliver a message whose MAC checks without parsing it again; any other message
goes out without a MAC and hubs read it back and check it in full. Hubs that know the key (read
with the channel's history) strip that 53-character suffix and accept a message whose MAC checks
without reading it back. So that the suffix is never ambiguous, a body whose last member already
has its shape (`"_tpmac":"` + 40 hex digits + `"}` at the end, after `,` or `{`) is refused:
"ERR taskpulse: … reserved".

The body's data may nest at most 64 levels of arrays/objects (the body itself one more): deeper
bodies are refused with "ERR taskpulse: the publication nests deeper than 64 levels" (the same
rule as every taskpulse publisher, so that no reader can be made to exhaust its stack).

Returns { epoch, offset }; with KEYS[4], { epoch, offset, duplicate } (duplicate is 1 when the id
was already published within the window: nothing was written, epoch/offset are the first one's).
The history entry (and a state channel's `latest`) is the text
{"channel":"…","offset":N,"epoch":"…","event":"…","data":…,"ts":…[,"id":"…"][,"priority":N]}
and the published message is the same text, with `,"_tpmac":"<mac>"` before its final `}` when
the channel has a MAC key.
]]

local meta, history, pubsub = KEYS[1], KEYS[2], KEYS[3]
local candidate, channel, body = ARGV[1], ARGV[2], ARGV[3]
local size, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local kind, command = ARGV[6], ARGV[7]

if not channel or #channel == 0 or string.find(channel, '["\\{}]') then
  return redis.error_reply('ERR taskpulse: invalid channel name')
end
if not body or #body < 3 or string.sub(body, 1, 1) ~= '{' or string.sub(body, -1) ~= '}' then
  return redis.error_reply('ERR taskpulse: the publication body must be a JSON object')
end
if not size or size < 0 or not ttl or ttl <= 0 then
  return redis.error_reply('ERR taskpulse: invalid history size or TTL')
end
if command ~= 'publish' and command ~= 'spublish' then
  return redis.error_reply('ERR taskpulse: pub/sub command must be publish or spublish')
end
-- The MAC suffix's shape is reserved at the end of the text (see the header): a body whose last
-- member (or only member: the text then has `,` before it) is a "_tpmac" of 40 hex digits.
if #body >= 53 and string.find(body, '[,{]"_tpmac":"' .. string.rep('%x', 40) .. '"}$', #body - 52) then
  return redis.error_reply('ERR taskpulse: a body ending with a "_tpmac" field of 40 hex digits is reserved')
end
local macCandidate = ARGV[9]
if macCandidate and #macCandidate > 0 and (#macCandidate ~= 40 or not string.match(macCandidate, '^[0-9a-f]+$')) then
  return redis.error_reply('ERR taskpulse: invalid MAC key candidate (40 lowercase hex characters)')
end

-- HMAC-SHA1 pads of a 20-byte key given in hex: zero-padded to SHA-1's 64-byte block, XOR 0x36 / 0x5c.
local function pads(hex)
  local inner, outer = {}, {}
  for i = 1, 64 do
    local b = 0
    if i <= 20 then b = tonumber(string.sub(hex, 2 * i - 1, 2 * i), 16) end
    inner[i] = string.char(bit.bxor(b, 0x36))
    outer[i] = string.char(bit.bxor(b, 0x5c))
  end
  return table.concat(inner), table.concat(outer)
end
-- HMAC-SHA1(key, text) in hex from the key's pads: SHA1(outer .. SHA1(inner .. text)), the inner digest in binary.
local function hmac(inner, outer, text)
  -- The inner digest's 20 bytes, unrolled: a gsub with a callback per byte cost twice as much.
  local d = redis.sha1hex(inner .. text)
  local digest = string.char(
    tonumber(string.sub(d, 1, 2), 16), tonumber(string.sub(d, 3, 4), 16), tonumber(string.sub(d, 5, 6), 16),
    tonumber(string.sub(d, 7, 8), 16), tonumber(string.sub(d, 9, 10), 16), tonumber(string.sub(d, 11, 12), 16),
    tonumber(string.sub(d, 13, 14), 16), tonumber(string.sub(d, 15, 16), 16), tonumber(string.sub(d, 17, 18), 16),
    tonumber(string.sub(d, 19, 20), 16), tonumber(string.sub(d, 21, 22), 16), tonumber(string.sub(d, 23, 24), 16),
    tonumber(string.sub(d, 25, 26), 16), tonumber(string.sub(d, 27, 28), 16), tonumber(string.sub(d, 29, 30), 16),
    tonumber(string.sub(d, 31, 32), 16), tonumber(string.sub(d, 33, 34), 16), tonumber(string.sub(d, 35, 36), 16),
    tonumber(string.sub(d, 37, 38), 16), tonumber(string.sub(d, 39, 40), 16))
  return redis.sha1hex(outer .. digest)
end

-- The body should be JSON that every client can parse: an early, clear error for publishers of
-- other languages. Hubs check each text again with JSON.parse before passing it to sockets unless
-- its MAC vouches for the checks below, so this is also what lets them skip that.
-- cjson runs with invalid numbers (NaN, Infinity, hex) refused and at most 65 levels of nesting
-- (the body object + 64 data levels); the shared instance's settings are read first and put back
-- right after (a script runs alone, and the decode is in a pcall), so other scripts see their own.
-- (A private `cjson.new()` instance per call cost an eighth of this script's time.) Lone UTF-16
-- surrogate escapes (`\ud800`), which JSON.stringify writes and JSON.parse reads but cjson
-- refuses, are let through.
local MAX_BODY_DEPTH = 65
local invalidNumbers, maxDepth = cjson.decode_invalid_numbers(), cjson.decode_max_depth()
cjson.decode_invalid_numbers(false)
cjson.decode_max_depth(MAX_BODY_DEPTH)
local valid, decoded = pcall(cjson.decode, body)
cjson.decode_invalid_numbers(invalidNumbers)
cjson.decode_max_depth(maxDepth)

-- Walks the body outside strings (iterative): its nesting depth, and whether every `.` there has
-- a digit on each side (cjson also reads `1.`, `1.e5` and `-.5`, which are not JSON).
local function walk()
  local depth, deepest, i, inString, strict = 0, 0, 1, false, true
  while true do
    local at = string.find(body, inString and '["\\]' or '["%[%]{}.]', i)
    if not at then break end
    local c = string.byte(body, at)
    i = at + 1
    if inString then
      if c == 92 then i = at + 2 else inString = false end
    elseif c == 34 then
      inString = true
    elseif c == 46 then
      if not string.find(body, '^%d%.%d', at - 1) then strict = false end
    elseif c == 91 or c == 123 then
      depth = depth + 1
      if depth > deepest then deepest = depth end
    else
      depth = depth - 1
    end
  end
  return deepest, strict
end

local strictNumbers = true
if valid then
  -- cjson checked the depth. Numbers: only a `.` without a digit on each side can be a bad one,
  -- and only outside strings; a body with none such (most: `0.42`, no `.` in text) needs no walk.
  local at = string.find(body, '.', 1, true)
  while at do
    if not string.find(body, '^%d%.%d', at - 1) then
      strictNumbers = select(2, walk())
      break
    end
    at = string.find(body, '.', at + 1, true)
  end
else
  -- Too deep is said first, whatever else is wrong (cjson stops at the first error it meets).
  if walk() > MAX_BODY_DEPTH then
    return redis.error_reply('ERR taskpulse: the publication nests deeper than 64 levels')
  end
  if not string.find(tostring(decoded), 'invalid unicode escape', 1, true) then
    return redis.error_reply('ERR taskpulse: the publication body is not valid JSON')
  end
end
-- cjson lets raw control characters through inside strings, JSON.parse does not; and a raw line
-- break would split an SSE `data:` line. Publishers write compact JSON (escape them).
if string.find(body, '[%z\1-\31]') then
  return redis.error_reply('ERR taskpulse: the publication body is not valid JSON (raw control character or line break)')
end

-- UTF-16 code units of a UTF-8 string (JavaScript's `length`): one per character, two for a
-- 4-byte sequence.
local function units(s)
  local continuation = select(2, string.gsub(s, '[\128-\191]', ''))
  local astral = select(2, string.gsub(s, '[\240-\247]', ''))
  return #s - continuation + astral
end
local function shortString(v)
  return type(v) == 'string' and units(v) <= 128
end
-- Whether the stored text is a publication every hub accepts as it is, checked here once so that
-- hubs need not parse it again: valid JSON to JSON.parse too (cjson decoded all of it, numbers
-- strict), no second channel, offset or epoch, the members a publication has, and a priority, if
-- any, as the last member in the compact layout hubs read without parsing. Only such a text gets
-- a MAC (below): a hub that checks the MAC delivers the text without parsing it, and reads any
-- other text back from history and checks it in full.
local checked = valid and strictNumbers and type(decoded) == 'table'
  and decoded.channel == nil and decoded.offset == nil and decoded.epoch == nil
  and type(decoded.event) == 'string' and #decoded.event > 0 and shortString(decoded.event)
  and decoded.data ~= nil and type(decoded.ts) == 'number'
  and (decoded.id == nil or shortString(decoded.id))
if checked and decoded.priority ~= nil then
  local tail = string.match(body, ',"priority":([1-4])}$')
  checked = tail ~= nil and decoded.priority == tonumber(tail)
end

local idKey, window = KEYS[4], tonumber(ARGV[8])
if idKey and (not window or window <= 0) then
  return redis.error_reply('ERR taskpulse: an idempotency key needs a window in milliseconds')
end

local state = redis.call('HMGET', meta, 'epoch', 'mki', 'mko')
local epoch, mki, mko = state[1], state[2], state[3]
if idKey and epoch then
  local seen = redis.call('GET', idKey)
  if seen then
    local seenEpoch, seenOffset = string.match(seen, '^(.+) (%d+)$')
    -- Only within the same generation: after a history loss the first one is gone.
    if seenEpoch == epoch then return { epoch, tonumber(seenOffset), 1 } end
  end
end
if not epoch then
  -- The candidate is checked only here, where it is used (this runs once per generation).
  if not candidate or #candidate == 0 or #candidate > 64 or not string.match(candidate, '^[%w_-]+$') then
    return redis.error_reply('ERR taskpulse: invalid epoch candidate')
  end
  -- A new generation: history left over from an older one (partial eviction) must not mix in.
  epoch = candidate
  redis.call('DEL', history)
  redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
  -- A new generation never keeps the key of an older one (set again from ARGV[9] just below).
  redis.call('HDEL', meta, 'mac', 'mki', 'mko')
  mki, mko = false, false
end
if not (mki and mko) and macCandidate and #macCandidate > 0 then
  -- The channel's key is derived from the candidate for this pub/sub channel (prefix included)
  -- and this epoch, and the candidate itself is never stored: a key read from one channel's meta
  -- hash authenticates nothing on another channel, nor after the epoch changes.
  local ci, co = pads(macCandidate)
  local key = hmac(ci, co, pubsub .. '\n' .. epoch)
  mki, mko = pads(key)
  redis.call('HSET', meta, 'mac', key, 'mki', mki, 'mko', mko)
end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local digits = string.format('%d', offset)
local text = '{"channel":"' .. channel .. '","offset":' .. digits .. ',"epoch":"' .. epoch .. '",' .. string.sub(body, 2)

if size > 0 then
  redis.call('XADD', history, digits .. '-0', 'p', text)
  -- Exact trimming on every XADD cost a fifth of this script's time; every 16th is enough.
  if offset % 16 == 0 then redis.call('XTRIM', history, 'MAXLEN', size) end
  redis.call('PEXPIRE', history, ttl)
elseif kind == 'state' then
  -- No history kept: the latest value of a state channel lives in the meta hash instead.
  redis.call('HSET', meta, 'latest', text)
end
redis.call('PEXPIRE', meta, ttl)

local message = text
if checked and mki and mko then message = string.sub(text, 1, -2) .. ',"_tpmac":"' .. hmac(mki, mko, text) .. '"}' end
if command == 'spublish' then
  redis.call('SPUBLISH', pubsub, message)
else
  redis.call('PUBLISH', pubsub, message)
end
if idKey then
  redis.call('SET', idKey, epoch .. ' ' .. digits, 'PX', window)
  return { epoch, offset, 0 }
end
return { epoch, offset }
