--[[
Experiment, not the product (see README.md here): the publish script cut down to the commands the
contract needs (the offset, the history entry, the TTLs, the publish), with no check of the body
and no MAC. Takes the same keys and arguments as lua/publish.lua and returns { epoch, offset }.
Copied over packages/redis-bridge/lua/publish.lua for one bench run of `ws` and `ws-scripted`, to
see how much of the publish path's latency the script's checks and MAC hold. Hubs would read every
message it publishes back from history (there is no MAC).
]]
local meta, history, pubsub = KEYS[1], KEYS[2], KEYS[3]
local channel, body = ARGV[2], ARGV[3]
local size, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', meta, 'epoch', 'mki', 'mko')
local epoch = state[1]
if not epoch then epoch = ARGV[1]; redis.call('HSET', meta, 'epoch', epoch, 'offset', 0) end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local digits = string.format('%d', offset)
local text = '{"channel":"' .. channel .. '","offset":' .. digits .. ',"epoch":"' .. epoch .. '",' .. string.sub(body, 2)
redis.call('XADD', history, digits .. '-0', 'p', text)
if offset % 16 == 0 then redis.call('XTRIM', history, 'MAXLEN', size) end
redis.call('PEXPIRE', history, ttl)
redis.call('PEXPIRE', meta, ttl)
redis.call('PUBLISH', pubsub, text)
return { epoch, offset }
