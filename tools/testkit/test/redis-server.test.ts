import { afterAll, describe, expect, it } from 'vitest';
import { MissingPrerequisiteError, type RedisServer, requireBinary, startRedis } from '../src/index';

describe('startRedis', () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('starts a private redis-server on a free loopback port, not 6379', async () => {
    const redis = await startRedis();
    servers.push(redis);
    expect(redis.port).not.toBe(6379);
    expect(await redis.command('PING')).toBe('+PONG\r\n');
    expect(await redis.command('SET', 'k', 'v')).toBe('+OK\r\n');
    expect(await redis.command('GET', 'k')).toBe('$1\r\nv\r\n');
  });

  it('kill() makes it unreachable and restart() brings it back on the same port', async () => {
    const redis = await startRedis();
    servers.push(redis);
    await redis.kill();
    expect(redis.running).toBe(false);
    await expect(redis.command('PING')).rejects.toThrow();
    await redis.restart();
    expect(redis.running).toBe(true);
    expect(await redis.command('PING')).toBe('+PONG\r\n');
  });

  it('without persistence a restart loses data; with persistence it keeps it', async () => {
    const volatile = await startRedis();
    const durable = await startRedis({ persistence: true });
    servers.push(volatile, durable);
    for (const r of [volatile, durable]) await r.command('SET', 'k', 'v');
    await volatile.restart();
    await durable.restart();
    expect(await volatile.command('GET', 'k')).toBe('$-1\r\n');
    expect(await durable.command('GET', 'k')).toBe('$1\r\nv\r\n');
  });

  it('stop() is idempotent', async () => {
    const redis = await startRedis();
    await redis.stop();
    await redis.stop();
    expect(redis.running).toBe(false);
  });
});

describe('requireBinary', () => {
  it('finds an installed binary', () => {
    expect(requireBinary('sh')).toMatch(/sh$/);
  });

  it('fails with a message naming what to install', () => {
    expect(() => requireBinary('/nonexistent/redis-server', 'apt-get install -y redis-server')).toThrow(
      MissingPrerequisiteError,
    );
    expect(() => requireBinary('/nonexistent/redis-server', 'apt-get install -y redis-server')).toThrow(
      /apt-get install -y redis-server/,
    );
  });
});
