import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { brokerConformance } from '@taskpulse/testkit/conformance';
import { createRedisBroker } from '../src/index';

let redis: RedisServer | undefined;

brokerConformance('redis', {
  async create(namespaces) {
    redis = await startRedis();
    const broker = createRedisBroker({ redis: redis.url, prefix: `${uniqueId('cf')}:`, ...namespaces });
    await broker.ready();
    return broker;
  },
  async cleanup() {
    await redis?.stop();
  },
});
