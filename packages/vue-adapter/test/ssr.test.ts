/**
 * Server rendering (`vue/server-renderer`) of an app using every composable and the indicator:
 * it renders the empty state and opens no connection — the hub sees no request and no upgrade.
 * Runs in Node (no DOM), where the plugin would otherwise have no reason to hold back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import {
  ConnectionIndicator,
  taskpulse,
  useChannelEvents,
  useChannelState,
  useConnectionStatus,
  useTaskProgress,
  useTaskpulseClient,
} from '../src/index';
import { clientOptions } from './helpers/client';
import { type Gateway, startGateway } from './helpers/gateway';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
  await gateway.hub.core.publish('panel:ssr', 'status', { n: 1 });
});
afterAll(async () => {
  await gateway?.close();
});

const Panel = defineComponent({
  setup() {
    const client = useTaskpulseClient();
    const { mode } = useConnectionStatus();
    const { data, ready } = useChannelState<{ n: number }>('panel:ssr');
    const { events } = useChannelEvents('feed:ssr');
    const { progress, status } = useTaskProgress('t-ssr');
    return () =>
      h('main', [
        h(ConnectionIndicator),
        h('p', { id: 'client' }, client === null ? 'no client' : 'client'),
        h('p', { id: 'mode' }, mode.value),
        h('p', { id: 'state' }, `${data.value?.n ?? '-'} ${ready.value}`),
        h('p', { id: 'events' }, String(events.value.length)),
        h('p', { id: 'task' }, `${progress.value ?? '-'} ${status.value ?? '-'}`),
      ]);
  },
});

describe('server rendering', () => {
  it('renders the empty state and opens no connection', async () => {
    expect(typeof window).toBe('undefined');
    const app = createSSRApp(Panel).use(taskpulse, clientOptions(gateway.url));
    const html = await renderToString(app);
    expect(html).toContain('<p id="client">no client</p>');
    expect(html).toContain('<p id="mode">connecting</p>');
    expect(html).toContain('<p id="state">- false</p>');
    expect(html).toContain('<p id="events">0</p>');
    expect(html).toContain('<p id="task">- -</p>');
    expect(html).toContain('class="taskpulse-indicator taskpulse-indicator--connecting"');
    expect(html).toContain('Connecting…');
    // Nothing reached the hub: give a stray connection attempt time to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gateway.counts).toEqual({ requests: 0, upgrades: 0 });
    expect(gateway.hub.stats().total_clients).toBe(0);
  });
});
