/**
 * `npm run demo`: seed 000's worker status panel.
 *
 * - embedded mode (default): in-memory broker and a simulated worker, no Redis or Python;
 * - Redis mode (`REDIS_URL=redis://… npm run demo`, or `--redis-url <url>` / `--redis`): the JSON
 *   bridge, the hub on the Redis broker, and the real Python worker and producer.
 */
import { parseArgs } from 'node:util';
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { PortInUseError } from './listen';
import { PythonMissingError } from './python';
import { startRedisMode } from './redis-mode';
import { startDemo } from './server';
import { PageNotBuiltError } from './static-files';

const write = (level: string) => (message: string, fields?: Record<string, unknown>) =>
  process.stderr.write(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
const logger: TaskpulseLogger = { debug: () => {}, info: () => {}, warn: write('warn'), error: write('error') };

function fail(message: string): never {
  process.stderr.write(`worker-status demo: ${message}\n`);
  process.exit(1);
}

let values: { 'redis-url'?: string; redis?: boolean };
try {
  ({ values } = parseArgs({
    options: { 'redis-url': { type: 'string' }, redis: { type: 'boolean' } },
    strict: true,
  }));
} catch (error) {
  fail(`${(error as Error).message} (options: --redis, --redis-url <url>; env: PORT, HOST, REDIS_URL)`);
}
const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`PORT must be a port number, got "${process.env.PORT}"`);
const host = process.env.HOST || '127.0.0.1';
const redisUrl =
  values['redis-url'] ?? (process.env.REDIS_URL || (values.redis ? 'redis://127.0.0.1:6379' : undefined));

let close: () => Promise<void>;
try {
  if (redisUrl) {
    const demo = await startRedisMode({ redisUrl, port, host, logger, pythonOutput: process.stderr });
    close = demo.close;
    process.stdout.write(`taskpulse worker-status (Redis mode, ${redisUrl}): open ${demo.url}\n`);
    process.stdout.write(
      '  worker.py and producer.py run against Redis; the bridge republishes processor:status:realtime\n',
    );
  } else {
    const demo = await startDemo({ port, host, logger });
    close = demo.close;
    process.stdout.write(`taskpulse worker-status demo: open ${demo.url}\n`);
    process.stdout.write('  embedded mode: in-memory broker and a simulated worker (REDIS_URL=… for the real flow)\n');
  }
} catch (error) {
  if (error instanceof PortInUseError || error instanceof PythonMissingError || error instanceof PageNotBuiltError) {
    fail(error.message);
  }
  throw error;
}
process.stdout.write('  seed 000 endpoints: /ws/processor-status, GET /api/processor/status. Ctrl-C to stop\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
