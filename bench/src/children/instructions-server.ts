/**
 * One benchmarked server for `instructions.ts`, run under callgrind: the same `startServer` as
 * the fan-out scenario, then one line `@@READY {"port":…,"path":…}` on stdout. It runs until it
 * is killed.
 */
import { loadVariant } from '../servers/index';
import type { VariantName } from '../servers/types';

const [name, redisUrl] = process.argv.slice(2) as [VariantName, string];
const variant = await loadVariant(name);
const server = await variant.startServer({
  redisUrl,
  maxConnections: 20_000,
  // no protocol pings in the counted window (bare ws sends none; the idle scenario measures them)
  heartbeatIntervalMs: 600_000,
  historySize: 1_000,
});
process.stdout.write(`@@READY ${JSON.stringify({ port: server.port, path: server.path })}\n`);
