/**
 * The `taskpulse-hub` command as a function: parse, validate, start one hub or a cluster, stop
 * gracefully on SIGTERM/SIGINT.
 * @module
 */
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { HELP, parseCommandLine, UsageError } from './args';
import { runPrimary, runWorker } from './cluster';
import { closeWithin, ListenError, startHubProcess } from './compose/start-hub';
import { ConfigError, loadConfigFile } from './config/load';
import { type HubSettings, resolveSettings } from './config/resolve';
import { createJsonLogger } from './logger';

/** Where the command writes (injectable for tests). */
export interface CliIo {
  /** One line on stdout. */
  out(line: string): void;
  /** One line on stderr. */
  err(line: string): void;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function listeningLine(
  settings: HubSettings,
  address: string,
  family: string,
  port: number,
  dialects: string[],
): string {
  const host = family === 'IPv6' || family === '6' ? `[${address}]` : address;
  const parts = [
    `WebSocket ws://${host}:${port}${settings.path}`,
    `broker: ${settings.redis ? 'redis' : 'memory'}`,
    `auth: ${settings.jwt ? 'jwt' : 'anonymous'}`,
    `ops: ${settings.opsPolicy === 'keys' ? 'api key' : settings.opsPolicy}`,
  ];
  if (dialects.length > 0) parts.push(`dialects: ${dialects.join(', ')}`);
  if (settings.bridges.length > 0) parts.push(`bridges: ${settings.bridges.length}`);
  if (settings.staticDir) parts.push(`static: ${settings.staticDir}`);
  if (settings.workers > 1) parts.push(`workers: ${settings.workers}`);
  return `taskpulse-hub listening on http://${host}:${port} (${parts.join(', ')})`;
}

function dialectNames(settings: HubSettings): string[] {
  return Object.entries(settings.dialects)
    .filter(([, v]) => v)
    .map(([k]) => k);
}

function warnAboutOps(settings: HubSettings, io: CliIo): void {
  if (settings.opsPolicy === 'refused') {
    io.err(
      `taskpulse-hub: ${settings.basePath}/stats and ${settings.basePath}/metrics answer 401: authentication is on and no ops API key is set (--ops-api-key, TASKPULSE_OPS_API_KEY or auth.opsApiKeys)`,
    );
  }
}

/**
 * Runs the command. Resolves with the exit code: 0 after a graceful stop, 1 when it cannot
 * start, 2 for a bad command line or configuration.
 */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = defaultIo,
): Promise<number> {
  let settings: HubSettings;
  try {
    const line = parseCommandLine(argv, env);
    if (line.help) {
      io.out(HELP);
      return 0;
    }
    if (line.version) {
      io.out((createRequire(import.meta.url)('../package.json') as { version: string }).version);
      return 0;
    }
    const config = line.configFile ? await loadConfigFile(line.configFile) : {};
    settings = resolveSettings(config, line.input, env, line.configFile ?? 'the command line');
    if (line.check) {
      io.out(
        `configuration OK: port ${settings.port}, broker ${settings.redis ? 'redis' : 'memory'}, ` +
          `dialects [${dialectNames(settings).join(', ')}], bridges ${settings.bridges.length}, ` +
          `workers ${settings.workers}, ops ${settings.opsPolicy}`,
      );
      return 0;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`taskpulse-hub: ${error.message}\nRun taskpulse-hub --help for the options.`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.err(`taskpulse-hub: ${error.message}`);
      return 2;
    }
    throw error;
  }

  if (settings.workers > 1 && cluster.isPrimary) {
    const logger = createJsonLogger({ level: settings.logLevel, fields: { role: 'primary' } });
    warnAboutOps(settings, io);
    return runPrimary(settings, {
      logger,
      onReady: ({ address, family, port }) =>
        io.out(listeningLine(settings, address, family, port, dialectNames(settings))),
      onFailed: (message) => io.err(`taskpulse-hub: ${message}`),
    });
  }
  if (cluster.isWorker && env.TASKPULSE_CLUSTER_WORKER === '1') {
    const logger = createJsonLogger({ level: settings.logLevel, fields: { worker: cluster.worker?.id } });
    try {
      return await runWorker(settings, logger);
    } catch (error) {
      io.err(`taskpulse-hub: worker ${cluster.worker?.id}: ${(error as Error).message}`);
      return 1;
    }
  }

  const logger = createJsonLogger({ level: settings.logLevel });
  let hubProcess: Awaited<ReturnType<typeof startHubProcess>>;
  try {
    hubProcess = await startHubProcess(settings, { logger });
  } catch (error) {
    if (error instanceof ListenError) {
      io.err(`taskpulse-hub: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { address, family, port } = hubProcess.address;
  warnAboutOps(settings, io);
  io.out(listeningLine(settings, address, family, port, [...hubProcess.dialects]));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info('stopping', { signal });
      void closeWithin(hubProcess, 10_000).then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
