/**
 * `REDIS_URL=redis://127.0.0.1:6379 npm start -w @taskpulse/example-test-queue-rooms`: seed 003's
 * test-queue rooms on a Redis. A producer adds a run of test jobs now and then; open the board
 * (`/`) and the Socket.IO page (`/socketio.html`).
 */
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { startTestQueueRooms } from './app';
import { PortInUseError } from './listen';
import { PageNotBuiltError } from './static-files';

const write = (level: string) => (message: string, fields?: Record<string, unknown>) =>
  process.stderr.write(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
const logger: TaskpulseLogger = { debug: () => {}, info: () => {}, warn: write('warn'), error: write('error') };

const port = Number(process.env.PORT || 3003);
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const runSize = Number(process.env.JOBS || 20);
const everyMs = Number(process.env.RUN_EVERY_MS || 45_000);

let rooms: Awaited<ReturnType<typeof startTestQueueRooms>>;
try {
  rooms = await startTestQueueRooms({ redisUrl, port, logger });
} catch (error) {
  if (error instanceof PortInUseError || error instanceof PageNotBuiltError) {
    process.stderr.write(`test-queue-rooms: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
process.stdout.write(
  `taskpulse test-queue rooms on ${redisUrl}: board ${rooms.url}, Socket.IO page ${rooms.url}socketio.html\n`,
);
const produce = () => {
  rooms.tests.produceSeedTest().catch((error) => logger.error('producer failed', { error: String(error) }));
  rooms.tests.produce(runSize).then(
    (ids) => process.stdout.write(`  produced ${ids.length} test jobs (${ids[0]} …)\n`),
    (error) => logger.error('producer failed', { error: String(error) }),
  );
};
// Let the bridge take its lease first (it starts at the end of the stream).
setTimeout(produce, 1500);
const timer = setInterval(produce, everyMs);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  void rooms.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
