/**
 * More Node workers for the `tests` queue, in a process of their own (plain BullMQ, nothing
 * taskpulse-specific): `REDIS_URL=… npm run worker -w @taskpulse/example-test-queue-rooms`.
 */
import { startTestQueue } from './queue';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const workers = Number(process.env.WORKERS || 2);
const tests = startTestQueue({ redisUrl, workers });
process.stdout.write(`${workers} test workers on ${redisUrl} (queue "tests"). Ctrl-C to stop\n`);
const stop = () => void tests.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
