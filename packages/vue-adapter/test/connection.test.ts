// @vitest-environment happy-dom
/**
 * The plugin, useConnectionStatus and the ConnectionIndicator against a real hub behind a gateway
 * that can refuse WebSocket upgrades and SSE streams (seed 004's misconfigured proxy).
 */
import type { TaskpulseClient } from '@taskpulse/fallback-client';
import { TaskpulseError } from '@taskpulse/protocol';
import { mount } from '@vue/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, defineComponent, h } from 'vue';
import {
  ConnectionIndicator,
  DEFAULT_NOTICE_STORAGE_KEY,
  taskpulse,
  useChannelState,
  useConnectionStatus,
} from '../src/index';
import { clientOptions, testClient } from './helpers/client';
import { type Gateway, startGateway } from './helpers/gateway';
import { waitUntil } from './helpers/wait';

let gateway: Gateway;
const clients: TaskpulseClient[] = [];

beforeAll(async () => {
  gateway = await startGateway();
});
afterEach(async () => {
  gateway.unblock();
  localStorage.clear();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await gateway?.close();
});

function newClient(): TaskpulseClient {
  const client = testClient(gateway.url, { failuresBeforeFallback: 2, probeIntervalMs: 0 });
  clients.push(client);
  return client;
}

const transports = () => gateway.hub.stats().by_transport;

describe('the plugin', () => {
  it('creates one client on first use, shares it, and closes it on app.unmount()', async () => {
    const root = document.createElement('div');
    document.body.append(root);
    let status: ReturnType<typeof useConnectionStatus> | undefined;
    const Child = defineComponent({
      setup() {
        useChannelState('panel:plugin');
        return () => h('i');
      },
    });
    const app = createApp(
      defineComponent({
        setup() {
          status = useConnectionStatus();
          return () => h('div', [h(Child), h(Child)]);
        },
      }),
    );
    app.use(taskpulse, clientOptions(gateway.url));
    app.mount(root);
    await waitUntil(() => status?.mode.value === 'realtime', 'connected');
    expect(status?.transport.value).toBe('websocket');
    expect(gateway.hub.stats().total_clients).toBe(1);
    await waitUntil(() => gateway.hub.stats().by_channel['panel:plugin'] === 1, 'one subscription for two users');
    app.unmount();
    await waitUntil(() => gateway.hub.stats().total_clients === 0, 'the client closed with the app');
    root.remove();
  });

  it('rejects options it cannot use with a TypeError naming the problem', () => {
    expect(() => createApp({ render: () => null }).use(taskpulse, { url: '' })).toThrow(/options\.url/);
    expect(() => createApp({ render: () => null }).use(taskpulse, { client: {} as TaskpulseClient })).toThrow(
      /options\.client must be a TaskpulseClient/,
    );
  });
});

describe('useConnectionStatus', () => {
  it('shows the transport, the last message time and a ticking freshness value', async () => {
    const client = newClient();
    let status: ReturnType<typeof useConnectionStatus> | undefined;
    const wrapper = mount(
      defineComponent({
        setup() {
          status = useConnectionStatus({ freshnessIntervalMs: 50 });
          useChannelState('panel:fresh');
          return () => h('span', status?.mode.value);
        },
      }),
      { global: { plugins: [[taskpulse, { client }]] } },
    );
    await waitUntil(() => wrapper.text() === 'realtime', 'realtime');
    await gateway.hub.core.publish('panel:fresh', 'status', { n: 1 });
    await waitUntil(() => status?.lastMessageAt.value !== null, 'a message arrived');
    const first = status?.lastMessageAgeMs.value ?? -1;
    expect(first).toBeGreaterThanOrEqual(0);
    await waitUntil(() => (status?.lastMessageAgeMs.value ?? -1) > first, 'the age ticks without new messages');
    expect(status?.liveDataAvailable.value).toBe(true);
    wrapper.unmount();
  });
});

describe('ConnectionIndicator', () => {
  it('turns to polling when WebSocket is blocked, shows the notice once, retries back to realtime', async () => {
    const client = newClient();
    await gateway.hub.core.publish('panel:ind', 'status', { n: 1 });
    const Page = defineComponent({
      setup() {
        const { data } = useChannelState<{ n: number }>('panel:ind');
        return () => h('div', [h(ConnectionIndicator), h('b', String(data.value?.n ?? '-'))]);
      },
    });
    const wrapper = mount(Page, { global: { plugins: [[taskpulse, { client }]] } });
    const root = () => wrapper.find('.taskpulse-indicator');
    await waitUntil(() => root().attributes('data-mode') === 'realtime' && wrapper.find('b').text() === '1', 'live');
    expect(root().classes()).toContain('taskpulse-indicator--realtime');
    expect(wrapper.find('.taskpulse-indicator__label').text()).toBe('Realtime (WebSocket)');
    // Readable without a stylesheet: the parts are separated by a space.
    await waitUntil(() => root().find('.taskpulse-indicator__age').exists(), 'the age');
    expect(root().element.textContent?.trim()).toMatch(/^Realtime \(WebSocket\) updated \d+ s ago/);
    expect(wrapper.find('.taskpulse-indicator__retry').exists()).toBe(false);
    expect(wrapper.find('.taskpulse-indicator__notice').exists()).toBe(false);

    gateway.block();
    await waitUntil(() => root().attributes('data-mode') === 'polling', 'polling after WebSocket and SSE fail', 20_000);
    expect(transports().websocket ?? 0).toBe(0);
    expect(wrapper.find('.taskpulse-indicator__label').text()).toMatch(/^Polling \(every \d+ s\)$/);
    expect(wrapper.find('.taskpulse-indicator__retry').exists()).toBe(true);
    expect(wrapper.find('.taskpulse-indicator__notice-text').text()).toMatch(/switched to polling/);

    await gateway.hub.core.publish('panel:ind', 'status', { n: 2 });
    await waitUntil(() => wrapper.find('b').text() === '2', 'values keep coming while polling', 20_000);

    await wrapper.find('.taskpulse-indicator__notice-never').trigger('click');
    expect(wrapper.find('.taskpulse-indicator__notice').exists()).toBe(false);
    expect(localStorage.getItem(DEFAULT_NOTICE_STORAGE_KEY)).toBe('1');
    const indicator = wrapper.findComponent(ConnectionIndicator);
    expect(indicator.emitted('dismiss-notice')).toEqual([[{ forever: true }]]);

    // Another indicator (another page) respects "don't show again".
    const other = mount(ConnectionIndicator, { global: { plugins: [[taskpulse, { client }]] } });
    expect(other.attributes('data-mode')).toBe('polling');
    expect(other.find('.taskpulse-indicator__notice').exists()).toBe(false);
    other.unmount();

    gateway.unblock();
    await wrapper.find('.taskpulse-indicator__retry').trigger('click');
    expect(indicator.emitted('retry')).toHaveLength(1);
    await waitUntil(() => root().attributes('data-mode') === 'realtime', 'realtime after retry', 20_000);
    expect(root().attributes('data-transport')).toBe('websocket');
    await gateway.hub.core.publish('panel:ind', 'status', { n: 3 });
    await waitUntil(() => wrapper.find('b').text() === '3', 'values over WebSocket again');
    wrapper.unmount();
  }, 90_000);

  it('"Close" hides the notice for the page only; labels and slots replace texts and markup', async () => {
    const client = newClient();
    gateway.block();
    const wrapper = mount(
      defineComponent({
        setup() {
          useChannelState('panel:labels');
          return () => [
            h(ConnectionIndicator, {
              class: 'first',
              labels: { polling: (ms: number | null) => `轮询模式 (${(ms ?? 0) / 1000}秒刷新)`, dismiss: '关闭' },
            }),
            h(
              ConnectionIndicator,
              { class: 'second', tag: 'aside' },
              {
                default: (s: { mode: string; canRetry: boolean }) => h('em', `${s.mode}:${s.canRetry}`),
                notice: (n: { dismiss: () => void }) => h('button', { class: 'mine', onClick: n.dismiss }, 'ok'),
              },
            ),
          ];
        },
      }),
      { global: { plugins: [[taskpulse, { client }]] } },
    );
    await waitUntil(() => wrapper.find('.first').attributes('data-mode') === 'polling', 'polling', 20_000);
    expect(wrapper.find('.first .taskpulse-indicator__label').text()).toMatch(/^轮询模式 \(\d+秒刷新\)$/);
    expect(wrapper.find('.first .taskpulse-indicator__notice-dismiss').text()).toBe('关闭');
    expect(wrapper.find('aside.second em').text()).toBe('polling:true');

    await wrapper.find('.first .taskpulse-indicator__notice-dismiss').trigger('click');
    expect(wrapper.find('.first .taskpulse-indicator__notice').exists()).toBe(false);
    expect(localStorage.getItem(DEFAULT_NOTICE_STORAGE_KEY)).toBeNull();
    await wrapper.find('.second .mine').trigger('click');
    expect(wrapper.find('.second .taskpulse-indicator__notice').exists()).toBe(false);
    wrapper.unmount();
  }, 60_000);

  it('shows "unauthorized" when the hub refuses the credentials and getToken() cannot fix them', async () => {
    const guarded = await startGateway({
      hub: {
        authenticate: () => {
          throw new TaskpulseError('unauthorized', 'token expired');
        },
      },
    });
    let tokenCalls = 0;
    const client = testClient(guarded.url, {
      getToken: () => {
        tokenCalls++;
        return 'expired-token';
      },
    });
    clients.push(client);
    try {
      const wrapper = mount(ConnectionIndicator, { global: { plugins: [[taskpulse, { client }]] } });
      await waitUntil(() => wrapper.attributes('data-mode') === 'unauthorized', 'unauthorized', 20_000);
      expect(wrapper.classes()).toContain('taskpulse-indicator--unauthorized');
      expect(wrapper.find('.taskpulse-indicator__label').text()).toBe('Not authorized');
      expect(wrapper.find('.taskpulse-indicator__retry').exists()).toBe(false);
      expect(tokenCalls).toBeGreaterThanOrEqual(2); // asked again after the refusal
      wrapper.unmount();
    } finally {
      await guarded.close();
    }
  });
});
