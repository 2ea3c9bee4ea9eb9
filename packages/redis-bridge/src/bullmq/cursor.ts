/**
 * The bridge's position in the event stream: the id of the last entry it republished, stored in
 * Redis so that a restarted or standby instance resumes right after it. The store only ever moves
 * forward (compare-and-set in one script), so an instance that lost its lease cannot move it back.
 * @module
 */
import type { RedisClient } from '../connection';

// Stream ids compare as (ms, seq) pairs; ms fits a Lua double exactly.
const ADVANCE = `local cur = redis.call('GET', KEYS[1])
if cur then
  local cm, cs = string.match(cur, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
  if not nm then return redis.error_reply('ERR taskpulse: invalid stream id') end
  if cm and (tonumber(nm) < tonumber(cm) or (tonumber(nm) == tonumber(cm) and tonumber(ns) <= tonumber(cs))) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

/** Reads and advances a stored stream position. @internal */
export interface StreamCursor {
  /** The Redis key. */
  readonly key: string;
  /** The stored id, or null when none was stored yet. */
  load(): Promise<string | null>;
  /** Stores `id` unless the stored id is already at or past it; resolves whether it moved. */
  advance(id: string): Promise<boolean>;
}

/** Creates a cursor on `key`. @internal */
export function streamCursor(redis: RedisClient, key: string): StreamCursor {
  return {
    key,
    load: () => redis.get(key),
    advance: async (id) => Number(await redis.eval(ADVANCE, 1, key, id)) === 1,
  };
}
