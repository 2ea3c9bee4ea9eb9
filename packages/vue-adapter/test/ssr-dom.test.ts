// @vitest-environment happy-dom
/**
 * Server rendering under a DOM emulation (a `window` exists, as in some test and prerender set-ups):
 * the SSR context, not the missing `window`, keeps the composables from connecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { ConnectionIndicator, taskpulse, useChannelState, useTaskProgress } from '../src/index';
import { clientOptions, testClient } from './helpers/client';
import { type Gateway, startGateway } from './helpers/gateway';
import { waitUntil } from './helpers/wait';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway?.close();
});

const Panel = defineComponent({
  setup() {
    const { data } = useChannelState<{ n: number }>('panel:ssr');
    const { progress } = useTaskProgress('t-ssr');
    return () => h('main', [h(ConnectionIndicator), h('p', `${data.value?.n ?? '-'} ${progress.value ?? '-'}`)]);
  },
});

describe('server rendering with a DOM present', () => {
  it('connects nothing, with the plugin creating the client', async () => {
    expect(typeof window).toBe('object');
    const html = await renderToString(createSSRApp(Panel).use(taskpulse, clientOptions(gateway.url)));
    expect(html).toContain('<p>- -</p>');
    expect(html).toContain('taskpulse-indicator--connecting');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gateway.counts).toEqual({ requests: 0, upgrades: 0 });
  });

  it('subscribes nothing on a client given to the plugin', async () => {
    // A client created by the application may connect on its own; the composables must not use it.
    const client = testClient(gateway.url);
    try {
      const html = await renderToString(createSSRApp(Panel).use(taskpulse, { client }));
      expect(html).toContain('<p>- -</p>');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(gateway.hub.stats().by_channel).toEqual({});
    } finally {
      await client.close();
    }
  });

  it('hydrates the server HTML without mismatch, then connects and fills in the browser', async () => {
    await gateway.hub.core.publish('panel:ssr', 'status', { n: 42 });
    const before = { ...gateway.counts };
    const html = await renderToString(createSSRApp(Panel).use(taskpulse, clientOptions(gateway.url)));
    expect(gateway.counts).toEqual(before);
    const container = document.createElement('div');
    container.innerHTML = html;
    document.body.append(container);
    const warnings: string[] = [];
    const client = testClient(gateway.url);
    const app = createSSRApp(Panel).use(taskpulse, { client });
    app.config.warnHandler = (message) => warnings.push(message);
    app.mount(container);
    expect(container.querySelector('p')?.textContent).toBe('- -'); // hydrated as rendered
    await waitUntil(() => container.querySelector('p')?.textContent === '42 -', 'live value after hydration');
    await waitUntil(() => container.querySelector('[data-mode="realtime"]') !== null, 'indicator realtime');
    expect(warnings).toEqual([]);
    expect(gateway.counts.upgrades).toBeGreaterThan(before.upgrades);
    app.unmount();
    container.remove();
    await waitUntil(() => gateway.hub.stats().by_channel['panel:ssr'] === undefined, 'released on unmount');
    await client.close();
    await waitUntil(() => gateway.hub.stats().total_clients === 0, 'the connection closed');
  });
});
