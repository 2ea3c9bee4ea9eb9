// @vitest-environment happy-dom
/**
 * The composables in mounted components (happy-dom), against a real hub on port 0 with the real
 * client: mount, receive, switch channel, share a channel, unmount — and the hub's own statistics
 * show each subscription released.
 */
import type { TaskpulseClient } from '@taskpulse/fallback-client';
import { mount } from '@vue/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineComponent, effectScope, h, nextTick, type PropType, ref } from 'vue';
import { z } from 'zod';
import { taskpulse, useChannelEvents, useChannelState, useTaskProgress } from '../src/index';
import { testClient } from './helpers/client';
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

/** Local subscribers of `channel` on the hub (0 once released). */
const subscribers = (channel: string) => gateway.hub.stats().by_channel[channel] ?? 0;
const publish = (channel: string, event: string, data: unknown) => gateway.hub.core.publish(channel, event, data);

const counterSchema = z.object({ n: z.number() });

const StatePanel = defineComponent({
  props: { channel: { type: String as PropType<string | null>, default: null } },
  setup(props) {
    const { data, ready, error } = useChannelState(() => props.channel, { schema: counterSchema });
    return () =>
      h('div', [
        h('span', { class: 'n' }, data.value === null ? '-' : String(data.value.n)),
        h('span', { class: 'ready' }, String(ready.value)),
        h('span', { class: 'error' }, error.value?.code ?? ''),
      ]);
  },
});

const text = (wrapper: { find(selector: string): { text(): string } }, selector: string) =>
  wrapper.find(selector).text();

describe('useChannelState', () => {
  it('fills on subscribe, follows live values, switches channel and releases on unmount', async () => {
    const client = newClient();
    await publish('panel:a', 'status', { n: 1 });
    await publish('panel:b', 'status', { n: 100 });
    const wrapper = mount(StatePanel, {
      props: { channel: 'panel:a' },
      global: { plugins: [[taskpulse, { client }]] },
    });
    await waitUntil(() => text(wrapper, '.n') === '1', 'initial state of panel:a');
    expect(text(wrapper, '.ready')).toBe('true');
    expect(subscribers('panel:a')).toBe(1);

    await publish('panel:a', 'status', { n: 2 });
    await waitUntil(() => text(wrapper, '.n') === '2', 'live value of panel:a');

    await wrapper.setProps({ channel: 'panel:b' });
    await waitUntil(() => text(wrapper, '.n') === '100', 'initial state of panel:b');
    await waitUntil(() => subscribers('panel:a') === 0, 'panel:a released on the hub');
    expect(subscribers('panel:b')).toBe(1);
    await publish('panel:a', 'status', { n: 3 });
    await publish('panel:b', 'status', { n: 101 });
    await waitUntil(() => text(wrapper, '.n') === '101', 'live value of panel:b');

    wrapper.unmount();
    await waitUntil(() => subscribers('panel:b') === 0, 'panel:b released on the hub after unmount');
  });

  it('two components on one channel share one subscription until the last one unmounts', async () => {
    const client = newClient();
    await publish('panel:shared', 'status', { n: 7 });
    const first = mount(StatePanel, {
      props: { channel: 'panel:shared' },
      global: { plugins: [[taskpulse, { client }]] },
    });
    await waitUntil(() => text(first, '.n') === '7', 'first component filled');
    const second = mount(StatePanel, {
      props: { channel: 'panel:shared' },
      global: { plugins: [[taskpulse, { client }]] },
    });
    await waitUntil(() => text(second, '.n') === '7', 'second component filled from the shared subscription');
    expect(subscribers('panel:shared')).toBe(1);
    expect(gateway.hub.stats().total_clients).toBe(1);

    await publish('panel:shared', 'status', { n: 8 });
    await waitUntil(() => text(first, '.n') === '8' && text(second, '.n') === '8', 'both components updated');

    first.unmount();
    await publish('panel:shared', 'status', { n: 9 });
    await waitUntil(() => text(second, '.n') === '9', 'the remaining component still receives');
    expect(subscribers('panel:shared')).toBe(1);

    second.unmount();
    await waitUntil(() => subscribers('panel:shared') === 0, 'released when the last user unmounted');
  });

  it('reports invalid data, an unknown namespace and a bad channel name in `error`, never throwing', async () => {
    const client = newClient();
    const wrapper = mount(StatePanel, {
      props: { channel: 'panel:bad' },
      global: { plugins: [[taskpulse, { client }]] },
    });
    await waitUntil(() => text(wrapper, '.ready') === 'true', 'subscribed to panel:bad');
    await publish('panel:bad', 'status', { n: 'not a number' });
    await waitUntil(() => text(wrapper, '.error') === 'bad_data', 'bad_data error');
    expect(text(wrapper, '.n')).toBe('-');
    await publish('panel:bad', 'status', { n: 5 });
    await waitUntil(() => text(wrapper, '.n') === '5', 'a valid value after an invalid one');
    expect(text(wrapper, '.error')).toBe('');

    await wrapper.setProps({ channel: 'nosuchns:x' });
    await waitUntil(() => text(wrapper, '.error') === 'unknown_channel', 'unknown_channel from the hub');
    await wrapper.setProps({ channel: 'Bad Channel' });
    await waitUntil(() => text(wrapper, '.error') === 'bad_channel', 'bad_channel before subscribing');
    wrapper.unmount();
  });

  it('refresh() re-reads the value over HTTP', async () => {
    const client = newClient();
    await publish('panel:refresh', 'status', { n: 1 });
    let api: ReturnType<typeof useChannelState<{ n: number }>> | undefined;
    const wrapper = mount(
      defineComponent({
        setup() {
          api = useChannelState('panel:refresh', { schema: counterSchema });
          return () => h('span', String(api?.data.value?.n ?? '-'));
        },
      }),
      { global: { plugins: [[taskpulse, { client }]] } },
    );
    await waitUntil(() => wrapper.text() === '1', 'initial value');
    await publish('panel:refresh', 'status', { n: 2 });
    const refreshed = await api?.refresh();
    expect(refreshed).toEqual({ n: 2 });
    await nextTick();
    expect(wrapper.text()).toBe('2');
    wrapper.unmount();
  });
});

describe('useChannelEvents', () => {
  it('keeps every event in order, bounded by limit, newest first when asked', async () => {
    const client = newClient();
    const channel = ref<string | null>('feed:one');
    let oldest: ReturnType<typeof useChannelEvents<{ i: number }>> | undefined;
    let newest: ReturnType<typeof useChannelEvents<{ i: number }>> | undefined;
    const wrapper = mount(
      defineComponent({
        setup() {
          oldest = useChannelEvents<{ i: number }>(channel, { limit: 5 });
          newest = useChannelEvents<{ i: number }>(channel, { limit: 3, order: 'newest-first' });
          return () =>
            h(
              'ul',
              oldest?.events.value.map((e) => h('li', String(e.data.i))),
            );
        },
      }),
      { global: { plugins: [[taskpulse, { client }]] } },
    );
    await waitUntil(() => oldest?.ready.value === true && newest?.ready.value === true, 'both subscribed');
    expect(subscribers('feed:one')).toBe(1);
    for (let i = 1; i <= 8; i++) await publish('feed:one', 'notice', { i });
    await waitUntil(() => wrapper.findAll('li').length === 5 && oldest?.latest.value?.data.i === 8, 'eight events');
    expect(wrapper.findAll('li').map((li) => li.text())).toEqual(['4', '5', '6', '7', '8']);
    expect(newest?.events.value.map((e) => e.data.i)).toEqual([8, 7, 6]);
    expect(newest?.latest.value?.data.i).toBe(8);
    expect(oldest?.events.value.map((e) => e.offset)).toEqual([4, 5, 6, 7, 8]);

    channel.value = 'feed:two';
    await nextTick();
    expect(oldest?.events.value).toEqual([]);
    await waitUntil(() => subscribers('feed:one') === 0 && subscribers('feed:two') === 1, 'moved to feed:two');
    await waitUntil(() => oldest?.ready.value === true, 'feed:two answered');
    await publish('feed:two', 'notice', { i: 1 });
    await waitUntil(() => wrapper.findAll('li').length === 1, 'feed:two event');

    channel.value = null;
    await waitUntil(() => subscribers('feed:two') === 0, 'a null channel follows nothing');
    wrapper.unmount();
  });

  it('is released when its effect scope is disposed (outside a component)', async () => {
    const client = newClient();
    const scope = effectScope();
    const feed = scope.run(() => useChannelEvents<{ i: number }>('feed:scope', { client }));
    await waitUntil(() => feed?.ready.value === true, 'subscribed in the scope');
    expect(subscribers('feed:scope')).toBe(1);
    await publish('feed:scope', 'notice', { i: 1 });
    await waitUntil(() => feed?.events.value.length === 1, 'received in the scope');
    scope.stop();
    await waitUntil(() => subscribers('feed:scope') === 0, 'released on scope.stop()');
  });

  it('a reconnect misses nothing: events published meanwhile arrive once, in order, and `recovered` is true', async () => {
    const client = newClient();
    const scope = effectScope();
    const feed = scope.run(() => useChannelEvents<{ i: number }>('feed:recover', { client, limit: 50 }));
    const panel = scope.run(() => useChannelState<{ n: number }>('panel:recover', { client }));
    await waitUntil(() => feed?.ready.value === true && panel?.ready.value === true, 'subscribed');
    await publish('feed:recover', 'notice', { i: 1 });
    await publish('panel:recover', 'status', { n: 1 });
    await waitUntil(() => feed?.events.value.length === 1 && panel?.data.value?.n === 1, 'first values');
    expect(feed?.recovered.value).toBeNull();

    gateway.cut(); // the network blips; the client reconnects and resumes from its positions
    for (let i = 2; i <= 4; i++) await publish('feed:recover', 'notice', { i });
    await publish('panel:recover', 'status', { n: 2 });
    await waitUntil(() => feed?.recovered.value === true, 'resubscribed with recovery');
    await publish('feed:recover', 'notice', { i: 5 });
    await waitUntil(() => feed?.events.value.length === 5, 'every event after the reconnect');
    expect(feed?.events.value.map((e) => e.data.i)).toEqual([1, 2, 3, 4, 5]);
    await waitUntil(() => panel?.data.value?.n === 2, 'the state published during the blip');
    expect(panel?.recovered.value).toBe(true);
    scope.stop();
    await waitUntil(() => subscribers('feed:recover') + subscribers('panel:recover') === 0, 'released');
  });

  it('a channel first published while the client was reconnecting is not lost', async () => {
    const client = newClient();
    const scope = effectScope();
    const feed = scope.run(() => useChannelEvents<{ i: number }>('feed:empty', { client }));
    const panel = scope.run(() => useChannelState<{ n: number }>('panel:empty', { client }));
    await waitUntil(() => feed?.ready.value === true && panel?.ready.value === true, 'subscribed to empty channels');
    gateway.cut(); // the client resumes from the channels' empty positions
    await publish('feed:empty', 'notice', { i: 1 });
    await publish('panel:empty', 'status', { n: 1 });
    await waitUntil(() => feed?.events.value.length === 1 && panel?.data.value?.n === 1, 'the first publications');
    await publish('feed:empty', 'notice', { i: 2 });
    await waitUntil(() => feed?.events.value.length === 2, 'the next one');
    expect(feed?.events.value.map((e) => e.data.i)).toEqual([1, 2]);
    scope.stop();
  });

  it('refuses to run without a scope or without a client', () => {
    expect(() => useChannelEvents('feed:x')).toThrow(/setup\(\) or an effectScope/);
    const scope = effectScope();
    expect(() => scope.run(() => useChannelEvents('feed:x'))).toThrow(/install the plugin/);
    scope.stop();
    expect(() => useChannelEvents('feed:x', { limit: 0, client: newClient() })).toThrow(/limit/);
  });
});

const progress = (taskId: string, completed: number) => ({
  task_id: taskId,
  progress: completed * 25,
  current_step: `step ${completed + 1}`,
  total_steps: 4,
  completed_steps: completed,
  message: `处理中 ${completed}`,
  status: 'running',
  timestamp: `2026-02-21T10:30:0${completed}Z`,
});

describe('useTaskProgress', () => {
  it('starts from the current progress, follows it, and ends with the result or the error', async () => {
    const client = newClient();
    await publish('task:t1', 'progress', progress('t1', 1));
    await publish('task:t2', 'progress', progress('t2', 3));
    await publish('task:t2', 'status', {
      task_id: 't2',
      status: 'failed',
      error: 'disk full',
      timestamp: '2026-02-21T10:31:00Z',
    });
    const taskId = ref('t1');
    let task: ReturnType<typeof useTaskProgress> | undefined;
    const wrapper = mount(
      defineComponent({
        setup() {
          task = useTaskProgress(taskId);
          return () => h('progress', { value: task?.progress.value ?? 0, max: 100 });
        },
      }),
      { global: { plugins: [[taskpulse, { client }]] } },
    );
    await waitUntil(() => task?.progress.value === 25, 'the progress published before mounting');
    expect(task?.ready.value).toBe(true);
    expect(task?.steps.value).toEqual({ completed: 1, total: 4 });
    expect(task?.currentStep.value).toBe('step 2');
    expect(task?.status.value).toBe('running');
    expect(task?.finished.value).toBe(false);

    await publish('task:t1', 'progress', progress('t1', 2));
    await waitUntil(() => task?.progress.value === 50, 'live progress');
    expect(wrapper.find('progress').attributes('value')).toBe('50');
    expect(task?.message.value).toBe('处理中 2');
    await publish('task:t1', 'status', {
      task_id: 't1',
      status: 'completed',
      result: { video_url: 'https://cdn.example.com/v.mp4' },
      timestamp: '2026-02-21T10:32:00Z',
    });
    await waitUntil(() => task?.finished.value === true, 'completed');
    expect(task?.status.value).toBe('completed');
    expect(task?.result.value).toEqual({ video_url: 'https://cdn.example.com/v.mp4' });
    expect(task?.updatedAt.value).toBe('2026-02-21T10:32:00Z');

    taskId.value = 't2';
    await waitUntil(() => task?.status.value === 'failed', 'a finished task shows its end state at once');
    expect(task?.error.value).toBe('disk full');
    await waitUntil(() => subscribers('task:t1') === 0, 'task:t1 released');

    // A failed task opened after its end: the failure, and no made-up percentage.
    expect(task?.progress.value).toBeNull();
    await publish('task:t2', 'progress', { task_id: 't2', progress: 'much' });
    await waitUntil(() => task?.channelError.value?.code === 'bad_data', 'invalid progress reported');
    expect(task?.status.value).toBe('failed');
    wrapper.unmount();
    await waitUntil(() => subscribers('task:t2') === 0, 'task:t2 released after unmount');
  });

  it('a task opened after it completed shows 100 %, not the bar of a task that never started', async () => {
    const client = newClient();
    await publish('task:t3', 'progress', progress('t3', 2));
    await publish('task:t3', 'status', { task_id: 't3', status: 'completed', timestamp: '2026-02-21T10:33:00Z' });
    const scope = effectScope();
    const task = scope.run(() => useTaskProgress('t3', { client }));
    await waitUntil(() => task?.finished.value === true, 'the completed task');
    expect(task?.status.value).toBe('completed');
    expect(task?.progress.value).toBe(100);
    scope.stop();
    await waitUntil(() => subscribers('task:t3') === 0, 'task:t3 released');
  });
});
