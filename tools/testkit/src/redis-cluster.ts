import { execFile } from 'node:child_process';
import { freePort } from './ports';
import { requireBinary } from './prereq';
import { type RedisServer, rawRedisCommand, startRedis } from './redis-server';

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** How many master nodes (no replicas). Redis needs at least 3. @default 3 */
  masters?: number;
  /** How long to wait for `cluster_state:ok` on every node, in ms. @default 20000 */
  readyTimeoutMs?: number;
  /** `cluster-node-timeout` of every node, in ms. @default 2000 */
  nodeTimeoutMs?: number;
}

/** A private Redis Cluster started for a test run. */
export interface RedisClusterHandle {
  /** The master nodes, as startup nodes for an ioredis `Cluster`. */
  readonly nodes: Array<{ host: string; port: number }>;
  /** The underlying servers (kill/restart one to simulate a node crash). */
  readonly servers: RedisServer[];
  /** Stops every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function waitForClusterOk(ports: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(
      ports.map((port) => rawRedisCommand(port, ['CLUSTER', 'INFO'], 1000).catch((e: Error) => e.message)),
    );
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    last = infos.join('\n');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis cluster not ok after ${timeoutMs} ms:\n${last}`);
}

/**
 * Starts a Redis Cluster of `masters` private `redis-server --cluster-enabled yes` nodes on free
 * loopback ports (client and bus ports both chosen free), joins them with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and waits until every node
 * reports `cluster_state:ok`. Fails naming the apt package when `redis-server` or `redis-cli` is
 * missing.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster({ masters: 3 });
 * const client = new Cluster(cluster.nodes);
 * await cluster.stop();
 * ```
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const cli = requireBinary(
    process.env.REDIS_CLI_BIN ?? 'redis-cli',
    'apt-get update && apt-get install -y redis-tools',
  );
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The bus port defaults to port + 10000, which may be taken or above 65535: pick it too.
      const busPort = await freePort();
      servers.push(
        await startRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 2000),
            '--cluster-config-file',
            'nodes.conf',
          ],
        }),
      );
    }
    await run(
      cli,
      ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      30_000,
    );
    await waitForClusterOk(
      servers.map((s) => s.port),
      options.readyTimeoutMs ?? 20_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    servers,
    stop,
  };
}
