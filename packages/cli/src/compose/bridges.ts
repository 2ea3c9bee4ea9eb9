/**
 * The bridges a configuration can run. Each runs in every hub process; its Redis lease lets
 * exactly one instance republish, so `--workers N` (or N machines) never republish twice.
 * @module
 */
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { workerStatusSchema } from '@taskpulse/protocol/payloads';
import { type BridgeRunner, type BridgeSchema, createJsonBridge } from '@taskpulse/redis-bridge';
import type { HubSettings, RedisSettings } from '../config/resolve';
import type { BridgeConfig } from '../config/schema';

const anyJson: BridgeSchema<unknown> = { safeParse: (input) => ({ success: true, data: input }) };

const SCHEMAS: Record<NonNullable<BridgeConfig['schema']>, BridgeSchema<unknown>> = {
  'worker-status': workerStatusSchema,
  'any-json': anyJson,
};

/** A running bridge with its configuration. */
export interface RunningBridge {
  /** The bridge's configuration. */
  config: BridgeConfig;
  /** The runner (stats, lease). */
  runner: BridgeRunner;
}

/**
 * The connection and namespace options the broker and every bridge share, so both read the same
 * keys with the same namespace table. @internal
 */
export function redisFields(settings: HubSettings, redis: RedisSettings) {
  return {
    redis: redis.url,
    ...(redis.prefix ? { prefix: redis.prefix } : {}),
    ...(redis.commandTimeoutMs ? { commandTimeoutMs: redis.commandTimeoutMs } : {}),
    namespaces: settings.namespaces,
    allowUnknownNamespaces: settings.allowUnknownNamespaces,
    ...(settings.namespaceDefaults ? { namespaceDefaults: settings.namespaceDefaults } : {}),
  };
}

/** Starts every configured bridge (Redis is required; the settings check ensures it). */
export function startBridges(settings: HubSettings, logger: TaskpulseLogger): RunningBridge[] {
  const redis = settings.redis;
  if (!redis || settings.bridges.length === 0) return [];
  const shared = redisFields(settings, redis);
  return settings.bridges.map((config) => {
    const runner = createJsonBridge<unknown>({
      ...shared,
      sourceChannel: config.sourceChannel,
      targetChannel: config.targetChannel,
      event: config.event ?? 'message',
      schema: SCHEMAS[config.schema ?? 'any-json'],
      ...(config.maxMessageBytes ? { maxMessageBytes: config.maxMessageBytes } : {}),
      ...(config.shardedSource !== undefined ? { shardedSource: config.shardedSource } : {}),
      ...(config.lease ? { lease: config.lease } : {}),
      logger,
    });
    return { config, runner };
  });
}
