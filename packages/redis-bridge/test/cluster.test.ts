import { type RedisClusterHandle, startRedisCluster, uniqueId } from '@taskpulse/testkit';
import { brokerConformance, CONFORMANCE_NAMESPACES, collector } from '@taskpulse/testkit/conformance';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createRedisBroker, type RedisBroker } from '../src/index';

let cluster: RedisClusterHandle;
const clients: Cluster[] = [];

function newClient(): Cluster {
  const client = new Cluster(cluster.nodes, { enableOfflineQueue: false });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

brokerConformance('redis-cluster', {
  async create(namespaces) {
    const broker = createRedisBroker({ redis: newClient(), prefix: `${uniqueId('cc')}:`, ...namespaces });
    await broker.ready();
    return broker;
  },
});

describe('redis broker on a 3-master cluster', () => {
  let broker: RedisBroker;
  const prefix = `${uniqueId('spread')}:`;

  beforeAll(async () => {
    broker = createRedisBroker({ redis: newClient(), prefix, ...CONFORMANCE_NAMESPACES });
    await broker.ready();
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('uses sharded pub/sub and delivers channels spread over the slots of every master', async () => {
    const channels = Array.from({ length: 30 }, (_, i) => `cf:spread-${i}-${uniqueId()}`);
    // Which master owns each channel's slot, from the cluster itself (CLUSTER SLOTS + KEYSLOT).
    const probe = newClient();
    await new Promise<void>((resolve) => probe.once('ready', () => resolve()));
    const masters = probe.nodes('master');
    expect(masters).toHaveLength(3);
    const ranges = await probe.cluster('SLOTS');
    const owners = new Map<string, number>();
    for (const c of channels) {
      const slot = Number(await probe.cluster('KEYSLOT', channelKeys(prefix, c).meta));
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      owners.set(c, Number(range?.[2]?.[1]));
    }
    expect(new Set(owners.values())).toEqual(new Set(cluster.nodes.map((n) => n.port)));

    const cols = channels.map(() => collector());
    const subs = await Promise.all(
      channels.map((c, i) => broker.subscribe(c, (cols[i] as ReturnType<typeof collector>).handler)),
    );
    await Promise.all(
      channels.map(async (c) => {
        for (let n = 1; n <= 3; n++) await broker.publish(c, 'e', { c, n });
      }),
    );
    for (const [i, c] of channels.entries()) {
      const got = await (cols[i] as ReturnType<typeof collector>).waitFor(3);
      expect(got.map((p) => p.offset)).toEqual([1, 2, 3]);
      expect(got.every((p) => p.channel === c)).toBe(true);
    }
    // Every master holds keys of some of the channels: the data really is spread.
    for (const node of masters) {
      const keys = await node.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
    }
    // The subscription is sharded: each master knows the shard channels it owns.
    const shardChannels = (await Promise.all(
      masters.map((m) => m.call('PUBSUB', 'SHARDCHANNELS', `${prefix}*`)),
    )) as string[][];
    expect(shardChannels.flat().sort()).toEqual(channels.map((c) => channelKeys(prefix, c).pubsub).sort());
    await Promise.all(subs.map((s) => s.unsubscribe()));
  });
});
