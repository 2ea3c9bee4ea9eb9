/** The data type of a subscription is inferred from the zod schema of `@taskpulse/protocol`. */
import { type WorkerStatus, workerStatusSchema } from '@taskpulse/protocol/payloads';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type ClientPublication, createClient, type Subscription } from '../src/index';

describe('types', () => {
  it('infers the publication data type from the schema', async () => {
    const client = createClient({ url: 'http://127.0.0.1:9', transports: 'polling' });
    const seen: number[] = [];
    const sub = client.subscribe('processor:status', {
      schema: workerStatusSchema,
      onPublication: (p) => {
        expectTypeOf(p.data).toEqualTypeOf<WorkerStatus>();
        seen.push(p.data.workers);
      },
      onState: (latest) => expectTypeOf(latest).toEqualTypeOf<ClientPublication<WorkerStatus> | null>(),
    });
    expectTypeOf(sub).toEqualTypeOf<Subscription<WorkerStatus>>();
    expectTypeOf(sub.latest).toEqualTypeOf<ClientPublication<WorkerStatus> | null>();
    const untyped = client.subscribe('task:1');
    expectTypeOf(untyped.latest).toEqualTypeOf<ClientPublication<unknown> | null>();
    expect(sub.channel).toBe('processor:status');
    expect(sub.kind).toBeNull(); // nothing answered yet
    await client.close();
    expect(client.state.status).toBe('closed');
    expect(seen).toEqual([]);
  });
});
