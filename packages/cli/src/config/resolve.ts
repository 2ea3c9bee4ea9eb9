/**
 * Settings of one `taskpulse-hub` run: the configuration file, overridden by environment
 * variables, overridden by flags; secrets read; cross-checks that a schema alone cannot make.
 * @module
 */
import { statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { type NamespaceOptions, namespaceOf, SEED_NAMESPACES } from '@taskpulse/protocol';
import type { HubLimits } from '@taskpulse/ws-hub';
import { ConfigError } from './load';
import type { BridgeConfig, HubConfig, SecretSource } from './schema';

/** Command-line flags and environment values, as strings (before parsing). */
export interface CliInput {
  /** `--port` / `PORT`. */
  port?: string;
  /** `--host` / `HOST`. */
  host?: string;
  /** `--path` / `TASKPULSE_WS_PATH`. */
  path?: string;
  /** `--redis-url` / `REDIS_URL`. */
  redisUrl?: string;
  /** `--redis-prefix` / `TASKPULSE_REDIS_PREFIX`. */
  redisPrefix?: string;
  /** `--jwt-secret` / `TASKPULSE_JWT_SECRET`. */
  jwtSecret?: string;
  /** `--jwt-issuer` / `TASKPULSE_JWT_ISSUER`. */
  jwtIssuer?: string;
  /** `--allowed-origins` / `TASKPULSE_ALLOWED_ORIGINS` (comma-separated). */
  allowedOrigins?: string;
  /** `--publish-api-key` / `TASKPULSE_PUBLISH_API_KEY`. */
  publishApiKey?: string;
  /** `--ops-api-key` / `TASKPULSE_OPS_API_KEY`. */
  opsApiKey?: string;
  /** `--workers` / `TASKPULSE_WORKERS`. */
  workers?: string;
  /** `--log-level` / `TASKPULSE_LOG_LEVEL`. */
  logLevel?: string;
  /** `--static` / `TASKPULSE_STATIC` (relative to the working directory). */
  staticDir?: string;
  /** Namespaces from `--namespaces <file>` (replace the seed namespaces). */
  namespaces?: Record<string, Partial<NamespaceOptions>>;
}

/** What `/stats` and `/metrics` do. */
export type OpsPolicy = 'keys' | 'open' | 'refused';

/** The Redis broker's settings. */
export interface RedisSettings {
  /** Redis URL. */
  url: string;
  /** Key prefix. */
  prefix?: string;
  /** Bound on every command, in ms. */
  commandTimeoutMs?: number;
}

/** JWT verification settings. */
export interface JwtSettings {
  /** HS256/384/512 secret. */
  secret: string;
  /** Required `iss`. */
  issuer?: string;
  /** Required `aud`. */
  audience?: string;
  /** Accept requests without a token as anonymous. */
  optional?: boolean;
}

/** Everything a hub process needs, resolved. */
export interface HubSettings {
  /** Port (0 picks one). */
  port: number;
  /** Interface, or all. */
  host: string | undefined;
  /** Native WebSocket path. */
  path: string;
  /** Native HTTP prefix. */
  basePath: string;
  /** Origin allowlist, or any. */
  allowedOrigins: string[] | undefined;
  /** Hub processes. */
  workers: number;
  /** Directory served for other paths (absolute), or none. */
  staticDir: string | undefined;
  /** Redis, or the in-memory broker. */
  redis: RedisSettings | undefined;
  /** Namespace table (flat). */
  namespaces: Record<string, Partial<NamespaceOptions>>;
  /** Options every namespace starts from. */
  namespaceDefaults: Partial<NamespaceOptions> | undefined;
  /** Accept unknown namespaces. */
  allowUnknownNamespaces: boolean;
  /** Dialects to serve. */
  dialects: NonNullable<HubConfig['dialects']>;
  /** Bridges to run. */
  bridges: BridgeConfig[];
  /** JWT verification, or anonymous. */
  jwt: JwtSettings | undefined;
  /** Keys for the ops endpoints (empty unless `opsPolicy` is `keys`). */
  opsApiKeys: string[];
  /** What `/stats` and `/metrics` do. */
  opsPolicy: OpsPolicy;
  /** Keys for `POST {basePath}/publish`. */
  publishApiKeys: string[];
  /** Hub limits. */
  limits: Partial<HubLimits>;
  /** Lowest log level written. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

function readSecret(
  source: SecretSource,
  path: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): string | undefined {
  if (typeof source === 'string') return source;
  const value = env[source.env];
  if (value === undefined || value === '') {
    problems.push(`${path}: environment variable ${source.env} is not set`);
    return undefined;
  }
  return value;
}

function integer(value: string, path: string, min: number, max: number, problems: string[]): number | undefined {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
    problems.push(`${path}: must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
    return undefined;
  }
  return n;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Merges the configuration file with flags and environment values (flags and environment win)
 * and checks what depends on more than one key.
 * @throws {@link ConfigError} naming each bad key (or flag)
 */
export function resolveSettings(
  config: HubConfig,
  input: CliInput = {},
  env: NodeJS.ProcessEnv = {},
  source = 'configuration',
): HubSettings {
  const problems: string[] = [];
  const server = config.server ?? {};
  const port = input.port ? integer(input.port, '--port', 0, 65_535, problems) : (server.port ?? 8080);
  const workers = input.workers ? integer(input.workers, '--workers', 1, 256, problems) : (server.workers ?? 1);
  const redisUrl = input.redisUrl || config.redis?.url;
  const redisPrefix = input.redisPrefix || config.redis?.prefix;
  const redis = redisUrl
    ? {
        url: redisUrl,
        ...(redisPrefix ? { prefix: redisPrefix } : {}),
        ...(config.redis?.commandTimeoutMs ? { commandTimeoutMs: config.redis.commandTimeoutMs } : {}),
      }
    : undefined;
  if (input.redisUrl && !/^rediss?:\/\//.test(input.redisUrl)) {
    problems.push(`--redis-url: must be a redis:// or rediss:// URL (got ${JSON.stringify(input.redisUrl)})`);
  }

  const namespaces: Record<string, Partial<NamespaceOptions>> = input.namespaces
    ? { ...input.namespaces }
    : { ...(config.seedNamespaces === false ? {} : SEED_NAMESPACES), ...config.namespaces };
  const allowUnknownNamespaces = config.allowUnknownNamespaces ?? false;
  const knows = (channel: string) => allowUnknownNamespaces || Object.hasOwn(namespaces, namespaceOf(channel));

  const bridges = config.bridges ?? [];
  bridges.forEach((bridge, i) => {
    if (!knows(bridge.targetChannel)) {
      problems.push(
        `bridges[${i}].targetChannel: namespace "${namespaceOf(bridge.targetChannel)}" is not configured (add it under "namespaces")`,
      );
    }
  });
  if (bridges.length > 0 && !redis) {
    problems.push('bridges: a bridge reads a Redis channel: set redis.url (or --redis-url / REDIS_URL)');
  }
  if (workers !== undefined && workers > 1 && !redis) {
    problems.push(
      `${input.workers ? '--workers' : 'server.workers'}: more than one worker needs Redis (each worker's in-memory broker would be separate): set redis.url (or --redis-url / REDIS_URL)`,
    );
  }

  const dialects = config.dialects ?? {};
  const processorStatus = dialects['processor-status'];
  if (processorStatus) {
    const channel = (typeof processorStatus === 'object' && processorStatus.channel) || 'processor:status';
    if (!knows(channel)) {
      problems.push(`dialects.processor-status: namespace "${namespaceOf(channel)}" is not configured`);
    }
  }

  const jwtConfig = config.auth?.jwt;
  const jwtSecret =
    input.jwtSecret || (jwtConfig ? readSecret(jwtConfig.secret, 'auth.jwt.secret', env, problems) : '');
  const jwt = jwtSecret
    ? {
        secret: jwtSecret,
        ...(input.jwtIssuer || jwtConfig?.issuer ? { issuer: input.jwtIssuer || jwtConfig?.issuer } : {}),
        ...(jwtConfig?.audience ? { audience: jwtConfig.audience } : {}),
        ...(jwtConfig?.optional !== undefined ? { optional: jwtConfig.optional } : {}),
      }
    : undefined;
  const taskProgress = dialects['task-progress'];
  if (jwt && typeof taskProgress === 'object' && taskProgress.trustQueryIdentity) {
    problems.push('dialects.task-progress.trustQueryIdentity: cannot be combined with JWT authentication');
  }

  const keys = (list: SecretSource[] | undefined, path: string) =>
    (list ?? []).flatMap((s, i) => readSecret(s, `${path}[${i}]`, env, problems) ?? []);
  const opsApiKeys = input.opsApiKey ? [input.opsApiKey] : keys(config.auth?.opsApiKeys, 'auth.opsApiKeys');
  const publishApiKeys = input.publishApiKey
    ? [input.publishApiKey]
    : keys(config.auth?.publishApiKeys, 'auth.publishApiKeys');
  // With authentication on, the ops endpoints (which list user and project ids) are never left
  // open by accident: they need a key, or an explicit `auth.opsOpen`.
  const opsPolicy: OpsPolicy =
    opsApiKeys.length > 0 ? 'keys' : jwt && config.auth?.opsOpen !== true ? 'refused' : 'open';

  const logLevel = input.logLevel ?? config.log?.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`--log-level: must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)})`);
  }
  const origins = input.allowedOrigins
    ? input.allowedOrigins
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean)
    : server.allowedOrigins;

  const staticDir = input.staticDir ? resolvePath(input.staticDir) : server.static;
  if (staticDir && !isDirectory(staticDir)) {
    problems.push(`${input.staticDir ? '--static' : 'server.static'}: ${staticDir} is not a directory`);
  }

  if (problems.length > 0) throw new ConfigError(source, problems);
  return {
    port: port as number,
    host: input.host || server.host,
    path: input.path || server.path || '/taskpulse/ws',
    basePath: server.basePath ?? '/taskpulse',
    allowedOrigins: origins && origins.length > 0 ? origins : undefined,
    workers: workers as number,
    staticDir,
    redis,
    namespaces,
    namespaceDefaults: config.namespaceDefaults,
    allowUnknownNamespaces,
    dialects,
    bridges,
    jwt,
    opsApiKeys,
    opsPolicy,
    publishApiKeys,
    limits: config.limits ?? {},
    logLevel: logLevel as HubSettings['logLevel'],
  };
}
