import { EventEmitter } from 'node:events';
import { createNamespaceResolver, silentLogger } from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import type { Connection, RedisClient } from '../src/connection';
import { PublishNotSentError, publisherOn } from '../src/publisher';

/** A client that is still connecting and records what is written to it. */
function connectingClient() {
  const emitter = new EventEmitter();
  const written: string[] = [];
  const client = Object.assign(emitter, {
    status: 'connecting',
    connect: async () => {},
    evalsha: async (..._args: unknown[]) => {
      written.push('evalsha');
      return ['epoch-1', 1];
    },
    eval: async (..._args: unknown[]) => {
      written.push('eval');
      return ['epoch-1', 1];
    },
  });
  const ready = () => {
    client.status = 'ready';
    emitter.emit('ready');
  };
  return { client: client as unknown as RedisClient, written, ready };
}

const connectionOf = (client: RedisClient): Connection => ({
  client,
  owned: false,
  prefix: 'test:',
  commandTimeoutMs: 5000,
  sharded: false,
  logger: silentLogger,
  errors: { count: 0 },
});

describe('guarded publish (bridge fencing)', () => {
  const resolve = createNamespaceResolver({ namespaces: { task: {} } });

  it('is not written when the guard fails while it waits for the connection', async () => {
    const { client, written, ready } = connectingClient();
    let held = true;
    const publish = publisherOn(connectionOf(client), resolve, Date.now, {
      check: () => held,
      reason: 'lease lost',
    });
    const pending = publish('task:1', 'progress', { progress: 1 });
    // The lease is lost while the publish waits for the connection, then the connection comes up.
    held = false;
    ready();
    const error = await pending.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PublishNotSentError);
    expect(error).toMatchObject({ code: 'unavailable', details: { reason: 'lease lost' } });
    expect(written).toEqual([]);
  });

  it('is written when the guard still holds once connected', async () => {
    const { client, written, ready } = connectingClient();
    const publish = publisherOn(connectionOf(client), resolve, Date.now, { check: () => true, reason: 'unused' });
    const pending = publish('task:1', 'progress', { progress: 1 });
    ready();
    await expect(pending).resolves.toEqual({ channel: 'task:1', epoch: 'epoch-1', offset: 1 });
    expect(written).toEqual(['evalsha']);
  });
});
