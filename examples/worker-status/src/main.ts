/**
 * `npm run demo`: seed 000's worker status panel on taskpulse, with the embedded in-memory broker.
 */
import { startDemo } from './server';

const port = Number(process.env.PORT ?? 3000);
const demo = await startDemo({ port, host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`taskpulse worker-status demo: open ${demo.url}\n`);
process.stdout.write('  WebSocket: /ws/processor-status   initial status: GET /api/processor/status\n');
process.stdout.write('  Ctrl-C to stop\n');

const stop = () => {
  void demo.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
