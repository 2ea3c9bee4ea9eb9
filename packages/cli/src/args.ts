/**
 * The command line of `taskpulse-hub`: flags, their environment variables, the help text.
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, formatKeyPath } from './config/load';
import type { CliInput } from './config/resolve';
import { namespaceConfigSchema } from './config/schema';

/** The help text. */
export const HELP = `Usage: taskpulse-hub [--config <file>] [options]

Flags override the environment variable in brackets, which overrides the configuration file.

  -c, --config <file>      JSON configuration file [TASKPULSE_CONFIG]: dialects, bridges,
                           namespaces, auth, limits (see docs/hub.md)
      --check              validate the configuration, print a summary and exit
  --port <n>               port to listen on [PORT] (default 8080; 0 picks a free one)
  --host <addr>            interface to listen on [HOST] (default: all)
  --path <path>            WebSocket path [TASKPULSE_WS_PATH] (default /taskpulse/ws)
  --static <dir>           serve the files of <dir> (a built page) on every other path [TASKPULSE_STATIC]
  --workers <n>            hub processes sharing the port [TASKPULSE_WORKERS] (default 1; >1 needs Redis)
  --redis-url <url>        Redis broker URL [REDIS_URL] (default: in-memory broker, one process)
  --redis-prefix <p>       Redis key prefix [TASKPULSE_REDIS_PREFIX]
  --namespaces <file>      namespace options, a JSON object by namespace [TASKPULSE_NAMESPACES]
                           (replaces the seed namespaces)
  --jwt-secret <secret>    verify HS256 JWTs with this secret [TASKPULSE_JWT_SECRET] (default: anonymous)
  --jwt-issuer <iss>       required JWT issuer [TASKPULSE_JWT_ISSUER]
  --allowed-origins <o>    comma-separated Origin allowlist [TASKPULSE_ALLOWED_ORIGINS] (default: any)
  --publish-api-key <k>    API key for POST /taskpulse/publish [TASKPULSE_PUBLISH_API_KEY]
  --ops-api-key <k>        API key for /taskpulse/stats and /taskpulse/metrics [TASKPULSE_OPS_API_KEY]
                           (with JWT auth and no ops key, both answer 401)
  --log-level <level>      debug, info, warn or error [TASKPULSE_LOG_LEVEL] (default info)
  --quiet                  same as --log-level error
  -h, --help               this help
  -v, --version            print the version
`;

/** Thrown for a bad command line; printed with the help hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A parsed command line. */
export interface ParsedCommandLine {
  /** Values for {@link resolveSettings}. */
  input: CliInput;
  /** The configuration file, if any. */
  configFile: string | undefined;
  /** `--check`. */
  check: boolean;
  /** `--help`. */
  help: boolean;
  /** `--version`. */
  version: boolean;
}

function readNamespacesFile(file: string): CliInput['namespaces'] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [`cannot read namespaces: ${(error as Error).message}`]);
  }
  const result = z.record(z.string(), namespaceConfigSchema).safeParse(json);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((i) =>
        i.code === 'unrecognized_keys'
          ? `${formatKeyPath(i.path)}: unknown key ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`
          : `${formatKeyPath(i.path)}: ${i.message}`,
      ),
    );
  }
  return result.data;
}

/** Parses flags and environment variables. @throws {@link UsageError} for an unknown flag */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        path: { type: 'string' },
        workers: { type: 'string' },
        static: { type: 'string' },
        'redis-url': { type: 'string' },
        'redis-prefix': { type: 'string' },
        namespaces: { type: 'string' },
        'jwt-secret': { type: 'string' },
        'jwt-issuer': { type: 'string' },
        'allowed-origins': { type: 'string' },
        'publish-api-key': { type: 'string' },
        'ops-api-key': { type: 'string' },
        'log-level': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const str = (flag: string, name: string): string | undefined => {
    const value = (values[flag] as string | undefined) ?? env[name];
    return value === '' ? undefined : value;
  };
  const namespacesFile = str('namespaces', 'TASKPULSE_NAMESPACES');
  const logLevel = str('log-level', 'TASKPULSE_LOG_LEVEL') ?? (values.quiet ? 'error' : undefined);
  const input: CliInput = {};
  const set = <K extends keyof CliInput>(key: K, value: CliInput[K] | undefined) => {
    if (value !== undefined) input[key] = value;
  };
  set('port', str('port', 'PORT'));
  set('host', str('host', 'HOST'));
  set('path', str('path', 'TASKPULSE_WS_PATH'));
  set('workers', str('workers', 'TASKPULSE_WORKERS'));
  set('staticDir', str('static', 'TASKPULSE_STATIC'));
  set('redisUrl', str('redis-url', 'REDIS_URL'));
  set('redisPrefix', str('redis-prefix', 'TASKPULSE_REDIS_PREFIX'));
  set('jwtSecret', str('jwt-secret', 'TASKPULSE_JWT_SECRET'));
  set('jwtIssuer', str('jwt-issuer', 'TASKPULSE_JWT_ISSUER'));
  set('allowedOrigins', str('allowed-origins', 'TASKPULSE_ALLOWED_ORIGINS'));
  set('publishApiKey', str('publish-api-key', 'TASKPULSE_PUBLISH_API_KEY'));
  set('opsApiKey', str('ops-api-key', 'TASKPULSE_OPS_API_KEY'));
  set('logLevel', logLevel);
  if (namespacesFile) set('namespaces', readNamespacesFile(namespacesFile));
  return {
    input,
    configFile: str('config', 'TASKPULSE_CONFIG'),
    check: values.check === true,
    help: values.help === true,
    version: values.version === true,
  };
}
