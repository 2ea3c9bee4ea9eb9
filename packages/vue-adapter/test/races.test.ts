// @vitest-environment happy-dom
/**
 * Races between the composables and the network, against a real hub: a slow HTTP re-read racing
 * pushed publications, a channel switched before the hub answered, a component unmounted while
 * its client is still connecting. Each ends with the hub's own statistics.
 */
import type { TaskpulseClient } from '@taskpulse/fallback-client';
import { mount } from '@vue/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, defineComponent, effectScope, h, type PropType } from 'vue';
import { taskpulse, useChannelEvents, useChannelState } from '../src/index';
import { clientOptions, testClient } from './helpers/client';
import { type Gateway, startGateway } from './helpers/gateway';
import { waitUntil } from './helpers/wait';

let gateway: Gateway;
const clients: TaskpulseClient[] = [];

beforeAll(async () => {
  gateway = await startGateway();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await gateway?.close();
});

function newClient(): TaskpulseClient {
  const client = testClient(gateway.url);
  clients.push(client);
  return client;
}

const subscribers = (channel: string) => gateway.hub.stats().by_channel[channel] ?? 0;
const publish = (channel: string, event: string, data: unknown) => gateway.hub.core.publish(channel, event, data);

describe('useChannelState and a slow refresh()', () => {
  it('never rolls the value back behind a publication pushed while the re-read was on its way', async () => {
    const client = newClient();
    await publish('panel:race', 'status', { n: 1 });
    const scope = effectScope();
    const panel = scope.run(() => useChannelState<{ n: number }>('panel:race', { client }));
    await waitUntil(() => panel?.data.value?.n === 1, 'the first value');

    // The re-read leaves the hub with n = 1, then n = 2 is pushed before its answer arrives.
    const hold = gateway.holdStateReads();
    const refreshing = panel?.refresh();
    await waitUntil(() => hold.held() === 1, 'the hub to answer the re-read');
    await publish('panel:race', 'status', { n: 2 });
    await waitUntil(() => panel?.data.value?.n === 2, 'the pushed value');
    hold.release();

    expect(await refreshing).toEqual({ n: 2 });
    expect(panel?.data.value).toEqual({ n: 2 });
    expect(panel?.publication.value?.offset).toBe(2);
    scope.stop();
  });
});

const Feed = defineComponent({
  props: { channel: { type: String as PropType<string | null>, default: null } },
  setup(props) {
    const { events, ready } = useChannelEvents<{ i: number }>(() => props.channel);
    return () => h('p', `${ready.value}:${events.value.map((e) => e.data.i).join(',')}`);
  },
});

describe('switching channel before the hub answered', () => {
  it('leaves only the last channel subscribed, and delivers only its events', async () => {
    const client = newClient(); // not connected yet: every switch happens before any answer
    const wrapper = mount(Feed, { props: { channel: 'feed:first' }, global: { plugins: [[taskpulse, { client }]] } });
    await wrapper.setProps({ channel: 'feed:second' });
    await wrapper.setProps({ channel: 'feed:third' });
    await waitUntil(() => wrapper.text() === 'true:', 'feed:third answered');
    await waitUntil(() => subscribers('feed:third') === 1, 'feed:third subscribed on the hub');
    for (const channel of ['feed:first', 'feed:second', 'feed:third'])
      await publish(channel, 'n', { i: channel.length });
    await waitUntil(() => wrapper.text() === 'true:10', 'the event of feed:third');
    expect(subscribers('feed:first') + subscribers('feed:second')).toBe(0);

    // Back and forth within one tick, once connected: one wire subscription to the final channel.
    await wrapper.setProps({ channel: 'feed:first' });
    await wrapper.setProps({ channel: 'feed:third' });
    await publish('feed:third', 'n', { i: 11 });
    await waitUntil(() => wrapper.text() === 'true:11', 'feed:third again, from its next event');
    await waitUntil(() => subscribers('feed:first') === 0, 'feed:first released');
    expect(subscribers('feed:third')).toBe(1);
    wrapper.unmount();
    await waitUntil(() => subscribers('feed:third') === 0, 'released on unmount');
  });
});

describe('unmounting while connecting', () => {
  it('an app unmounted before its client connected leaves no connection and no subscription', async () => {
    const before = gateway.counts.upgrades;
    const root = document.createElement('div');
    document.body.append(root);
    const app = createApp(Feed, { channel: 'feed:gone' }).use(taskpulse, clientOptions(gateway.url));
    app.mount(root);
    app.unmount(); // the plugin's client is closed while its first WebSocket is on its way
    root.remove();
    // Whatever reached the hub is closed again: no client, no subscription remains.
    await waitUntil(() => gateway.hub.stats().total_clients === 0, 'no connection left');
    await new Promise((resolve) => setTimeout(resolve, 300)); // a late upgrade would show up here
    expect(gateway.hub.stats().total_clients).toBe(0);
    expect(subscribers('feed:gone')).toBe(0);
    expect(gateway.counts.upgrades - before).toBeLessThanOrEqual(1);
  });

  it('a component unmounted before the hub answered releases its subscription on the shared client', async () => {
    const client = newClient();
    const keeper = mount(Feed, { props: { channel: 'feed:keep' }, global: { plugins: [[taskpulse, { client }]] } });
    const leaver = mount(Feed, { props: { channel: 'feed:leave' }, global: { plugins: [[taskpulse, { client }]] } });
    leaver.unmount();
    await waitUntil(() => keeper.text() === 'true:', 'the other component answered');
    await publish('feed:keep', 'n', { i: 1 });
    await waitUntil(() => keeper.text() === 'true:1', 'the other component receives');
    expect(subscribers('feed:leave')).toBe(0);
    expect(subscribers('feed:keep')).toBe(1);
    keeper.unmount();
  });
});
