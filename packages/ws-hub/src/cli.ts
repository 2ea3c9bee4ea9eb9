#!/usr/bin/env node
/**
 * `taskpulse-hub`: a standalone hub configured by flags and environment variables.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { type Broker, type NamespaceTable, SEED_NAMESPACES } from '@taskpulse/protocol';
import { createJwtAuthenticator } from './auth/jwt';
import type { HubLogger } from './core/options';
import { createHub } from './hub';

const HELP = `Usage: taskpulse-hub [options]

Options (environment variable in brackets):
  --port <n>              port to listen on [PORT] (default 8080; 0 picks a free one)
  --host <addr>           interface to listen on [HOST] (default: all)
  --path <path>           WebSocket path [TASKPULSE_WS_PATH] (default /taskpulse/ws)
  --redis-url <url>       Redis broker URL [REDIS_URL] (default: in-memory broker, one process)
  --redis-prefix <p>      Redis key prefix [TASKPULSE_REDIS_PREFIX]
  --namespaces <file>     namespace options, JSON [TASKPULSE_NAMESPACES] (default: the seed namespaces)
  --jwt-secret <secret>   verify HS256 JWTs with this secret [TASKPULSE_JWT_SECRET] (default: anonymous)
  --jwt-issuer <iss>      required JWT issuer [TASKPULSE_JWT_ISSUER]
  --allowed-origins <o>   comma-separated Origin allowlist [TASKPULSE_ALLOWED_ORIGINS] (default: any)
  --publish-api-key <k>   API key for POST /taskpulse/publish [TASKPULSE_PUBLISH_API_KEY]
  --quiet                 log errors only
  -h, --help              this help
  -v, --version           print the version
`;

/** Thrown for a bad command line; the message is printed with the help hint. */
class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

function stderrLogger(quiet: boolean): HubLogger {
  const write = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    err(JSON.stringify({ level, time: new Date().toISOString(), message, ...meta }));
  return {
    error: write('error'),
    warn: quiet ? () => {} : write('warn'),
    ...(quiet ? {} : { info: write('info') }),
  };
}

function readNamespaces(file: string | undefined): NamespaceTable {
  if (!file) return { namespaces: { ...SEED_NAMESPACES } };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read namespaces from ${file}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${file} must hold a JSON object`);
  }
  const table = parsed as Record<string, unknown>;
  // Either a full table ({ namespaces, defaults, allowUnknownNamespaces }) or just the namespaces.
  const isTable = 'namespaces' in table || 'defaults' in table || 'allowUnknownNamespaces' in table;
  return isTable ? (table as NamespaceTable) : { namespaces: table as NamespaceTable['namespaces'] };
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 8080;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`invalid port: ${value}`);
  return port;
}

type RedisBridgeModule = typeof import('@taskpulse/redis-bridge');

async function loadRedisBroker(url: string, prefix: string | undefined, namespaces: NamespaceTable): Promise<Broker> {
  let mod: RedisBridgeModule;
  try {
    // An optional peer: the hub has no hard dependency on Redis.
    mod = await import('@taskpulse/redis-bridge');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new UsageError('--redis-url needs @taskpulse/redis-bridge: npm install @taskpulse/redis-bridge');
    }
    throw error;
  }
  return mod.createRedisBroker({ redis: url, ...namespaces, ...(prefix ? { prefix } : {}) });
}

async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      path: { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-prefix': { type: 'string' },
      namespaces: { type: 'string' },
      'jwt-secret': { type: 'string' },
      'jwt-issuer': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'publish-api-key': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (values.version) {
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    out(pkg.version);
    return 0;
  }

  const port = parsePort(values.port ?? env.PORT);
  const host = values.host ?? env.HOST;
  const path = values.path ?? env.TASKPULSE_WS_PATH ?? '/taskpulse/ws';
  const namespaces = readNamespaces(values.namespaces ?? env.TASKPULSE_NAMESPACES);
  const redisUrl = values['redis-url'] ?? env.REDIS_URL;
  const jwtSecret = values['jwt-secret'] ?? env.TASKPULSE_JWT_SECRET;
  const jwtIssuer = values['jwt-issuer'] ?? env.TASKPULSE_JWT_ISSUER;
  const origins = (values['allowed-origins'] ?? env.TASKPULSE_ALLOWED_ORIGINS)
    ?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  const publishKey = values['publish-api-key'] ?? env.TASKPULSE_PUBLISH_API_KEY;
  const logger = stderrLogger(values.quiet ?? false);

  const broker = redisUrl
    ? await loadRedisBroker(redisUrl, values['redis-prefix'] ?? env.TASKPULSE_REDIS_PREFIX, namespaces)
    : undefined;
  const hub = createHub({
    port,
    ...(host ? { host } : {}),
    path,
    logger,
    ...(broker ? { broker } : { namespaces }),
    ...(jwtSecret
      ? { authenticate: createJwtAuthenticator({ secret: jwtSecret, ...(jwtIssuer ? { issuer: jwtIssuer } : {}) }) }
      : {}),
    ...(origins && origins.length > 0 ? { allowedOrigins: origins } : {}),
    ...(publishKey ? { http: { publishApiKeys: [publishKey] } } : {}),
  });
  try {
    await hub.listening;
  } catch (error) {
    err(`taskpulse-hub: cannot listen on ${host ?? '*'}:${port}: ${(error as Error).message}`);
    await hub.close();
    await broker?.close();
    return 1;
  }
  const address = hub.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  out(
    `taskpulse-hub listening on http://${shownHost}:${address.port} ` +
      `(WebSocket ws://${shownHost}:${address.port}${path}, broker: ${broker ? 'redis' : 'memory'}, ` +
      `auth: ${jwtSecret ? 'jwt' : 'anonymous'})`,
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info?.('stopping', { signal });
      // A hub that cannot close in time must still let the process end.
      const force = setTimeout(() => resolve(1), 10_000);
      force.unref();
      void (async () => {
        await hub.close();
        await broker?.close();
        clearTimeout(force);
        resolve(0);
      })();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`taskpulse-hub: ${(error as Error).message}\nRun taskpulse-hub --help for the options.`);
      process.exit(2);
    }
    err(`taskpulse-hub: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
