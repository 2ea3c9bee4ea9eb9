/**
 * `@taskpulse/redis-bridge`: the Redis side of taskpulse. An atomic Publisher (offsets, history
 * and pub/sub in one Lua script), a gap-free Subscriber with recovery, history and state reads,
 * the Redis broker for hubs (`createRedisBroker`), Redis Cluster support, and bridges that
 * republish foreign publishers natively behind a lease.
 *
 * Exports, by module: bridges (`bridge-runner`, `json-bridge`, `lease`), connections and key
 * layout (`connection`, `keys`, `lua`), and the pieces the broker is made of (`history-reader`,
 * `publisher`, `redis-broker`, `subscriber`). The Celery and BullMQ bridges are the subpaths
 * `@taskpulse/redis-bridge/celery` and `@taskpulse/redis-bridge/bullmq`.
 *
 * @packageDocumentation
 * @module @taskpulse/redis-bridge
 */
export {
  type BridgeContext,
  type BridgeLeaseOptions,
  type BridgeRunner,
  type BridgeRunnerOptions,
  type BridgeSource,
  type BridgeStats,
  createBridgeRunner,
} from './bridge-runner';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_PREFIX,
  type ErrorHook,
  type RedisClient,
  type RedisConnectionOptions,
} from './connection';
export { createHistoryReader, type HistoryReader, type HistoryReaderOptions } from './history-reader';
export {
  type BridgeSchema,
  type BridgeSchemaError,
  type BridgeSchemaFailure,
  type BridgeSchemaIssue,
  type BridgeSchemaResult,
  type BridgeSchemaSuccess,
  createJsonBridge,
  createJsonSource,
  type JsonBridgeOptions,
  type JsonMapped,
  type JsonSourceOptions,
} from './json-bridge';
export { type ChannelKeys, channelKeys, newEpochCandidate } from './keys';
export { createLease, type Lease, type LeaseOptions } from './lease';
export { type LuaScriptName, luaScriptPath } from './lua';
export { createPublisher, type Publisher, type PublisherOptions } from './publisher';
export { createRedisBroker, type RedisBroker, type RedisBrokerOptions } from './redis-broker';
export { createSubscriber, type Subscriber, type SubscriberOptions, type SubscriberStats } from './subscriber';
