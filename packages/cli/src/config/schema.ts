/**
 * The configuration file of `taskpulse-hub`: one JSON object, validated with zod. Every object is
 * strict, so a misspelled key is an error naming its path instead of a silently ignored setting.
 * @module
 */
import { CHANNEL_NAME_PATTERN } from '@taskpulse/protocol';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/**
 * A secret given inline or read from an environment variable (`{ "env": "NAME" }`), so the
 * file itself can be committed without the secret.
 */
export const secretSchema = z.union(
  [
    z.string().min(1, 'must not be empty'),
    z.strictObject({
      /** Name of the environment variable holding the secret. */
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
    }),
  ],
  { error: 'must be a string or { "env": "VARIABLE_NAME" }' },
);

/** A secret in the file: inline, or `{ "env": "NAME" }`. */
export type SecretSource = z.infer<typeof secretSchema>;

const channelName = z.string().regex(CHANNEL_NAME_PATTERN, 'must be a taskpulse channel name (e.g. processor:status)');

/** Options of one namespace (see `NamespaceOptions` in `@taskpulse/protocol`). */
export const namespaceConfigSchema = z.strictObject({
  /** `events` keeps an ordered log; `state` keeps the latest value. */
  kind: z.enum(['events', 'state']).optional(),
  /** Publications kept per channel. */
  historySize: nonNegativeInt.optional(),
  /** How long history lives after the last publication, in ms. */
  historyTtlMs: positiveInt.optional(),
  /** Who may subscribe. */
  access: z.enum(['public', 'user', 'project', 'none']).optional(),
  /** Whether clients may publish over the wire. */
  clientPublish: z.boolean().optional(),
  /** Largest serialized `data` of one publication, in bytes. */
  maxPayloadBytes: positiveInt.optional(),
});

/** Where and how the hub listens. */
export const serverConfigSchema = z.strictObject({
  /** Port (0 picks a free one). */
  port: z.number().int().min(0).max(65_535).optional(),
  /** Interface to listen on. */
  host: z.string().min(1).optional(),
  /** Path of the native WebSocket endpoint. */
  path: z.string().startsWith('/', 'must start with "/"').optional(),
  /** Prefix of the native HTTP endpoints. */
  basePath: z.string().startsWith('/', 'must start with "/"').optional(),
  /** Allowed `Origin` values (exact match, or `*`). */
  allowedOrigins: z.array(z.string().min(1)).optional(),
  /**
   * A directory of files served for every other path (a built page), relative to the
   * configuration file. @default none: other paths answer 404
   */
  static: z.string().min(1).optional(),
  /** Hub processes sharing the port (node:cluster); more than 1 needs Redis. */
  workers: z.number().int().min(1).max(256).optional(),
});

/** The Redis broker. */
export const redisConfigSchema = z.strictObject({
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  /** Key prefix. */
  prefix: z
    .string()
    .regex(/^[^{}]*$/, 'may not contain braces')
    .optional(),
  /** Bound on every Redis command, in ms. */
  commandTimeoutMs: positiveInt.optional(),
});

/** Seed 000's dialect: `GET /ws/processor-status` and `GET /api/processor/status`. */
export const processorStatusDialectConfigSchema = z.strictObject({
  /** WebSocket path. */
  path: z.string().startsWith('/', 'must start with "/"').optional(),
  /** The state channel carrying the status. */
  channel: channelName.optional(),
  /** REST path of the current status; null for none. */
  restPath: z.string().startsWith('/', 'must start with "/"').nullable().optional(),
});

/** Seed 001's dialect: `GET /api/v1/ws` and the REST reads. */
export const taskProgressDialectConfigSchema = z.strictObject({
  /** Prefix of the seed's API. */
  apiPrefix: z.string().startsWith('/', 'must start with "/"').optional(),
  /**
   * Take `user_id`/`project_id` from the query string as the identity on the dialect's path (the
   * legacy deployment's behaviour; anyone can claim any id). Refused together with JWT auth.
   */
  trustQueryIdentity: z.boolean().optional(),
});

const DIALECT_VALUE = "must be true, false or an object of the dialect's options";

/** Dialects to serve: `true` for the defaults, or an object of options. */
export const dialectsConfigSchema = z.strictObject({
  /** Seed 000 (worker status panel). */
  'processor-status': z.union([z.boolean(), processorStatusDialectConfigSchema], { error: DIALECT_VALUE }).optional(),
  /** Seed 001 (task progress). */
  'task-progress': z.union([z.boolean(), taskProgressDialectConfigSchema], { error: DIALECT_VALUE }).optional(),
});

/** A bridge lease (see `BridgeLeaseOptions`). */
export const leaseConfigSchema = z.strictObject({
  /** Lease key. */
  key: z.string().min(1).optional(),
  /** Takeover time, in ms. */
  ttlMs: positiveInt.min(500, 'must be at least 500 ms').optional(),
  /** Renewal interval, in ms. */
  renewIntervalMs: positiveInt.optional(),
  /** Acquire interval of standbys, in ms. */
  acquireIntervalMs: positiveInt.optional(),
});

/** Payload schemas a JSON bridge can validate with, by name. */
export const BRIDGE_SCHEMA_NAMES = ['worker-status', 'any-json'] as const;

/** The raw JSON pub/sub bridge: a foreign Redis channel republished on a taskpulse channel. */
export const jsonBridgeConfigSchema = z.strictObject({
  /** Bridge type. */
  type: z.literal('json'),
  /** The foreign Redis pub/sub channel, e.g. `processor:status:realtime`. */
  sourceChannel: z.string().min(1),
  /** The taskpulse channel, e.g. `processor:status`. */
  targetChannel: channelName,
  /** Event name of the republished publications. */
  event: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]')
    .optional(),
  /** Validates each message: `worker-status` (seed 000's nine fields) or `any-json`. */
  schema: z.enum(BRIDGE_SCHEMA_NAMES).optional(),
  /** Largest foreign message, in bytes. */
  maxMessageBytes: positiveInt.optional(),
  /** The foreign publisher uses SPUBLISH. */
  shardedSource: z.boolean().optional(),
  /** Lease settings. */
  lease: leaseConfigSchema.optional(),
});

/** One bridge (discriminated by `type`). */
export const bridgeConfigSchema = z.discriminatedUnion('type', [jsonBridgeConfigSchema]);

/** JWT verification. */
export const jwtConfigSchema = z.strictObject({
  /** HS256/384/512 secret. */
  secret: secretSchema,
  /** Required `iss`. */
  issuer: z.string().min(1).optional(),
  /** Required `aud`. */
  audience: z.string().min(1).optional(),
  /** Accept requests without a token as anonymous. */
  optional: z.boolean().optional(),
});

/** Authentication and the API keys of the HTTP endpoints. */
export const authConfigSchema = z.strictObject({
  /** Verify JWTs (otherwise every request is anonymous). */
  jwt: jwtConfigSchema.optional(),
  /** Keys required by `/stats`, `/metrics` and the dialects' stats routes. */
  opsApiKeys: z.array(secretSchema).optional(),
  /**
   * Leave `/stats` and `/metrics` open when JWT auth is on and no ops key is set (they reveal
   * user and project ids). @default false: refused
   */
  opsOpen: z.boolean().optional(),
  /** Keys accepted by `POST {basePath}/publish`. */
  publishApiKeys: z.array(secretSchema).optional(),
});

/** Hub limits (see `HubLimits` in `@taskpulse/ws-hub`). */
export const limitsConfigSchema = z.strictObject({
  /** Open connections per process. */
  maxConnections: positiveInt.optional(),
  /** Open connections per user id. */
  maxConnectionsPerUser: positiveInt.optional(),
  /** Channels per connection. */
  maxChannelsPerConnection: positiveInt.optional(),
  /** Largest client frame, in bytes. */
  maxFrameBytes: positiveInt.optional(),
  /** Sustained client frames per second. */
  maxFramesPerSecond: positiveInt.optional(),
  /** Burst of frames above the rate. */
  frameBurst: positiveInt.optional(),
  /** Invalid frames tolerated per minute. */
  maxInvalidFrames: positiveInt.optional(),
  /** Idle timeout, in ms. */
  idleTimeoutMs: positiveInt.optional(),
  /** Backlog of a slow connection before it is cut, in bytes. */
  maxBufferedBytes: positiveInt.optional(),
});

/** Logging. */
export const logConfigSchema = z.strictObject({
  /** Lowest level written (JSON lines on stderr). */
  level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
});

/**
 * The whole configuration file.
 *
 * @example
 * ```json
 * {
 *   "server": { "port": 3000 },
 *   "redis": { "url": "redis://127.0.0.1:6379" },
 *   "dialects": { "processor-status": true },
 *   "bridges": [{ "type": "json", "sourceChannel": "processor:status:realtime",
 *                 "targetChannel": "processor:status", "event": "status", "schema": "worker-status" }]
 * }
 * ```
 */
export const configSchema = z.strictObject({
  /** A JSON Schema reference for editors; ignored. */
  $schema: z.string().optional(),
  /** Where and how to listen. */
  server: serverConfigSchema.optional(),
  /** The Redis broker (otherwise the in-memory broker, one process). */
  redis: redisConfigSchema.optional(),
  /** Start from the seed namespaces (`SEED_NAMESPACES`); `namespaces` entries override them. */
  seedNamespaces: z.boolean().optional(),
  /** Namespace options by namespace name. */
  namespaces: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'is not a valid namespace name'), namespaceConfigSchema)
    .optional(),
  /** Options every namespace starts from. */
  namespaceDefaults: namespaceConfigSchema.optional(),
  /** Accept channels of namespaces not listed. */
  allowUnknownNamespaces: z.boolean().optional(),
  /** Legacy dialects to serve. */
  dialects: dialectsConfigSchema.optional(),
  /** Bridges for foreign publishers (need `redis`). */
  bridges: z.array(bridgeConfigSchema).optional(),
  /** Authentication and API keys. */
  auth: authConfigSchema.optional(),
  /** Hub limits. */
  limits: limitsConfigSchema.optional(),
  /** Logging. */
  log: logConfigSchema.optional(),
});

/** The configuration file, as validated. */
export type HubConfig = z.infer<typeof configSchema>;
/** One bridge of the configuration. */
export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;
/** One namespace of the configuration. */
export type NamespaceConfig = z.infer<typeof namespaceConfigSchema>;
