import {
  type Broker,
  type BrokerHandler,
  type ChannelState,
  type Publication,
  type ServerFrame,
  TaskpulseError,
} from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import type { SessionTransport } from '../src/core/session';
import { createHubCore, createMemoryBroker } from '../src/index';
import { TEST_NAMESPACES } from './helpers/hub';

/** A memory broker whose subscription handler, history and state reads the test controls. */
function controlledBroker() {
  const inner = createMemoryBroker({ namespaces: TEST_NAMESPACES });
  const handlers: BrokerHandler[] = [];
  const calls = { history: 0, state: 0 };
  let historyFails = false;
  let stateGate: Promise<void> | null = null;
  let openGate = () => {};
  const broker: Broker = {
    ...inner,
    publish: inner.publish.bind(inner),
    namespaceOptions: inner.namespaceOptions.bind(inner),
    status: inner.status.bind(inner),
    close: inner.close.bind(inner),
    // Reads go through `history` (the one this broker controls), not the stored-text fast path.
    historyMessages: undefined,
    async subscribe(channel, handler) {
      handlers.push(handler);
      return inner.subscribe(channel, handler);
    },
    history(channel, options) {
      calls.history++;
      // Rejects at once, like a Redis broker that is reconnecting.
      if (historyFails) return Promise.reject(new TaskpulseError('unavailable', 'redis is reconnecting'));
      return inner.history(channel, options);
    },
    async state(channel): Promise<ChannelState> {
      calls.state++;
      const result = await inner.state(channel);
      if (stateGate) await stateGate;
      return result;
    },
  };
  return {
    broker,
    calls,
    handlers,
    failHistory: () => {
      historyFails = true;
    },
    holdState: () => {
      stateGate = new Promise((r) => {
        openGate = () => {
          stateGate = null;
          r();
        };
      });
    },
    releaseState: () => openGate(),
  };
}

function collecting() {
  const frames: ServerFrame[] = [];
  const transport: SessionTransport = {
    name: 'test',
    sendControl: (text) => frames.push(JSON.parse(text)),
    deliver: (p) => frames.push(JSON.parse(p.frame)),
    close: () => {},
  };
  return { frames, transport };
}

const pub = (epoch: string, offset: number): Publication => ({
  channel: 'task:f',
  epoch,
  offset,
  event: 'e',
  data: offset,
  ts: 1,
});

describe('core recovery under broker faults', () => {
  it('a gap that cannot be read is reported once as recovered=false, without retrying in a loop', async () => {
    const c = controlledBroker();
    const core = createHubCore({ broker: c.broker });
    const client = collecting();
    await core.openSession({}, client.transport).subscribe('task:f');
    const answer = client.frames[0] as Extract<ServerFrame, { type: 'subscribed' }>;
    c.failHistory();
    // Offsets 1 and 2 never reach the hub: offset 3 is a gap whose history read fails.
    c.handlers[0]?.onPublication(pub(answer.epoch, 3));
    await new Promise((r) => setTimeout(r, 20));
    expect(c.calls.history).toBe(1);
    expect(client.frames.slice(1)).toMatchObject([
      { type: 'subscribed', recovered: false, epoch: answer.epoch, offset: 2 },
      { type: 'publication', offset: 3 },
    ]);
    c.handlers[0]?.onPublication(pub(answer.epoch, 4));
    expect(client.frames.at(-1)).toMatchObject({ type: 'publication', offset: 4 });
    await core.close();
    await c.broker.close();
  });

  it('a broker reset during subscribe is announced after the subscribed answer, and wins over the older read', async () => {
    const c = controlledBroker();
    const core = createHubCore({ broker: c.broker });
    const client = collecting();
    c.holdState();
    const subscribing = core.openSession({}, client.transport).subscribe('task:f');
    while (c.calls.state === 0) await new Promise((r) => setTimeout(r, 1));
    c.handlers[0]?.onReset?.({
      channel: 'task:f',
      reason: 'epoch_changed',
      epoch: 'new-epoch',
      offset: 5,
      latest: null,
    });
    expect(client.frames).toEqual([]);
    c.releaseState();
    expect(await subscribing).toBe(true);
    expect(client.frames).toMatchObject([
      { type: 'subscribed', offset: 0 },
      { type: 'subscribed', recovered: false, epoch: 'new-epoch', offset: 5 },
    ]);
    c.handlers[0]?.onPublication(pub('new-epoch', 6));
    expect(client.frames.at(-1)).toMatchObject({ type: 'publication', epoch: 'new-epoch', offset: 6 });
    await core.close();
    await c.broker.close();
  });
});
