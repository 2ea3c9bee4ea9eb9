/**
 * `REDIS_URL=redis://127.0.0.1:6379 npm start -w @taskpulse/example-celery-events`: a real Celery
 * worker, the Celery bridge, a hub and the Vue page. `PORT` and `HOST` change where it listens.
 */
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { CeleryMissingError } from './celery';
import { PortInUseError } from './listen';
import { startCeleryEventsDemo } from './server';
import { PageNotBuiltError } from './static-files';

const write = (level: string) => (message: string, fields?: Record<string, unknown>) =>
  process.stderr.write(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
const logger: TaskpulseLogger = { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error') };

function fail(message: string): never {
  process.stderr.write(`celery-events example: ${message}\n`);
  process.exit(1);
}

const redisUrl = process.env.REDIS_URL;
if (!redisUrl)
  fail('set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379 npm start -w @taskpulse/example-celery-events');
const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`PORT must be a port number, got "${process.env.PORT}"`);
const host = process.env.HOST || '127.0.0.1';

let close: () => Promise<void>;
try {
  const demo = await startCeleryEventsDemo({ redisUrl, port, host, logger, workerOutput: process.stderr });
  close = demo.close;
  process.stdout.write(`taskpulse celery-events (${redisUrl}): open ${demo.url}\n`);
  process.stdout.write(
    `  seed 002's own page: ${demo.url}seed-002.html; /ws/tasks/, GET /api/tasks/queue/status. Ctrl-C to stop\n`,
  );
} catch (error) {
  if (error instanceof PortInUseError || error instanceof CeleryMissingError || error instanceof PageNotBuiltError) {
    fail(error.message);
  }
  throw error;
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
