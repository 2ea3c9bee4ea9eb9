import type { CeleryQueueStatus, CeleryWorkersState } from '@taskpulse/protocol/payloads';
import { describe, expect, it } from 'vitest';
import { CeleryTracker } from '../src/celery/tracker';
import { lifecycles, newTracker, replay, taskIdByName } from './celery/replay';

const events = (list: Array<{ event: string }> | undefined) => (list ?? []).map((e) => e.event);

describe('main run replay: lifecycles on the per-task channels', () => {
  const run = replay('main');
  const byTask = lifecycles(run.outputs);
  it.each([
    ['app.add', ['sent', 'received', 'started', 'succeeded']],
    ['app.boom', ['sent', 'received', 'started', 'failed']],
    ['app.flaky', ['sent', 'received', 'started', 'sent', 'retried', 'received', 'started', 'succeeded']],
    ['app.long_task', ['sent', 'received', 'progress', 'started', 'progress', 'progress', 'progress', 'succeeded']],
  ])('%s', (name, expected) => {
    expect(events(byTask.get(taskIdByName(run.outputs, name)))).toEqual(expected);
  });

  it('carries the name and parsed arguments on every event, the result and the exception as text', () => {
    const add = byTask.get(taskIdByName(run.outputs, 'app.add', '(2, 3)')) ?? [];
    for (const e of add)
      expect(e.data).toMatchObject({ name: 'app.add', args: [2, 3], kwargs: {}, argsrepr: '(2, 3)' });
    expect(add.at(-1)?.data).toMatchObject({ state: 'succeeded', result: '5', worker: 'w1@exp' });
    const boom = byTask.get(taskIdByName(run.outputs, 'app.boom')) ?? [];
    expect(boom.at(-1)?.data).toMatchObject({ state: 'failed', exception: "ValueError('kaboom')" });
    expect(String(boom.at(-1)?.data.traceback)).toContain('ValueError: kaboom');
    const flaky = byTask.get(taskIdByName(run.outputs, 'app.flaky')) ?? [];
    expect(flaky.find((e) => e.event === 'retried')?.data.exception).toBe("RuntimeError('transient failure')");
  });

  it('progress from update_state, in order, never backwards', () => {
    const long = byTask.get(taskIdByName(run.outputs, 'app.long_task')) ?? [];
    const progress = long.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress).toEqual([1, 2, 3, 4].map((current) => ({ state: 'PROGRESS', current, total: 4 })));
  });

  it('revokes: while queued, on a countdown, and terminated while running', () => {
    const revoked = [...byTask.values()].filter((l) => l.at(-1)?.event === 'revoked');
    expect(revoked).toHaveLength(3);
    const shapes = revoked.map((l) => [events(l), l.at(-1)?.data.terminated]);
    expect(shapes).toContainEqual([['sent', 'revoked'], false]);
    expect(shapes).toContainEqual([['sent', 'received', 'started', 'revoked'], true]);
  });

  it('publishes the same events on celery:tasks, with ids derived from the Celery message', () => {
    const all = run.outputs.filter((o) => o.channel === 'celery:tasks');
    const per = run.outputs.filter((o) => o.channel.startsWith('celery-task:'));
    expect(all.map((o) => o.data)).toEqual(per.map((o) => o.data));
    expect(new Set(all.map((o) => o.id)).size).toBe(all.length);
    const again = replay('main');
    expect(again.outputs.map((o) => o.id)).toEqual(run.outputs.map((o) => o.id));
  });

  it('queue status: reserved, then active; the retry waits in scheduled; empty at the end', () => {
    const queues = run.outputs
      .filter((o) => o.channel === 'celery-state:queue')
      .map((o) => o.data as CeleryQueueStatus);
    const flaky = taskIdByName(run.outputs, 'app.flaky');
    const where = queues.map((q) =>
      (['active', 'scheduled', 'reserved'] as const).find((list) => q[list].some((t) => t.task_id === flaky)),
    );
    const path = where.filter((w, i) => w !== where[i - 1]);
    // The retry's countdown had passed when the busy worker took it: reserved, not scheduled.
    expect(path).toEqual(['reserved', 'active', undefined, 'reserved', 'active', undefined]);
    const active = queues.find((q) => q.active.some((t) => t.task_id === flaky));
    expect(active?.active.find((t) => t.task_id === flaky)?.time_start).toEqual(expect.any(Number));
    expect(queues.at(-1)).toEqual({ active: [], scheduled: [], reserved: [] });
  });

  it('workers state: online with heartbeats, then offline on a clean shutdown', () => {
    const states = run.outputs
      .filter((o) => o.channel === 'celery-state:workers')
      .map((o) => o.data as CeleryWorkersState);
    expect(states[0]?.workers[0]).toMatchObject({ hostname: 'w1@exp', status: 'online', freq: 2, sw_ver: '5.2.6' });
    expect(states.at(-1)?.workers[0]).toMatchObject({ hostname: 'w1@exp', status: 'offline', task_events: 'enabled' });
  });
});

describe('scheduled tasks', () => {
  it('a task received with an ETA in the future waits in scheduled, then runs', () => {
    const tracker = newTracker();
    const base = { hostname: 'w@h', timestamp: 1_800_000_000, clock: 1 };
    const eta = new Date((base.timestamp + 30) * 1000).toISOString();
    tracker.events(
      [{ ...base, type: 'task-received', uuid: 'c1', name: 'app.x', args: "('SSIS-950',)", kwargs: '{}', eta }],
      0,
    );
    expect(tracker.queueStatus().scheduled).toEqual([
      { task_id: 'c1', worker: 'w@h', name: 'app.x', args: ['SSIS-950'], kwargs: {}, eta },
    ]);
    tracker.events([{ ...base, clock: 2, timestamp: base.timestamp + 30, type: 'task-started', uuid: 'c1' }], 0);
    expect(tracker.queueStatus()).toMatchObject({
      active: [{ task_id: 'c1', time_start: base.timestamp + 30 }],
      scheduled: [],
    });
  });
});

describe('task-sent after task-received', () => {
  it("is merged, not published (the lifecycle never goes backwards); a retry's sent is published", () => {
    const tracker = newTracker();
    const w = { hostname: 'w@h', timestamp: 1, clock: 1 };
    const c = { hostname: 'gen1@h', timestamp: 1, clock: 1 };
    const received = tracker.events(
      [{ ...w, type: 'task-received', uuid: 's1', name: 'app.x', args: '(1,)', kwargs: '{}', retries: 0 }],
      0,
    );
    expect(received.outputs.map((o) => o.event)).toContain('received');
    const sent = tracker.events(
      [{ ...c, type: 'task-sent', uuid: 's1', name: 'app.x', args: '(1,)', kwargs: '{}', retries: 0, queue: 'celery' }],
      0,
    );
    expect(sent.outputs).toEqual([]);
    tracker.events([{ ...w, clock: 2, type: 'task-started', uuid: 's1' }], 0);
    const resent = tracker.events([{ ...c, clock: 2, type: 'task-sent', uuid: 's1', name: 'app.x', retries: 1 }], 0);
    expect(resent.outputs.map((o) => o.event)).toEqual(['sent', 'sent']);
  });
});

describe('revoke broadcasts', () => {
  it("end a scheduled task at once; the worker's own task-revoked at the ETA is not repeated", () => {
    const tracker = newTracker();
    const base = { hostname: 'w@h', timestamp: 1_800_000_000, clock: 1 };
    const eta = new Date((base.timestamp + 60) * 1000).toISOString();
    tracker.events([{ ...base, type: 'task-received', uuid: 'r1', name: 'app.x', args: '()', kwargs: '{}', eta }], 0);
    const early = tracker.control('revoke', null, 1000, { task_id: 'r1', terminate: false });
    expect(early.outputs.map((o) => [o.channel, o.event])).toEqual([
      ['celery:tasks', 'revoked'],
      ['celery-task:r1', 'revoked'],
      ['celery-state:queue', 'queue_status'],
    ]);
    expect(tracker.queueStatus().scheduled).toEqual([]);
    const late = tracker.events([{ ...base, clock: 9, type: 'task-revoked', uuid: 'r1', terminated: false }], 2000);
    expect(late.outputs).toEqual([]);
    // A running task is left to the worker (terminate=True reports at once; otherwise it finishes).
    tracker.events([{ ...base, clock: 10, type: 'task-received', uuid: 'r2', name: 'app.x' }], 0);
    tracker.events([{ ...base, clock: 11, type: 'task-started', uuid: 'r2' }], 0);
    expect(tracker.control('revoke', null, 3000, { task_id: ['r2'] }).outputs).toEqual([]);
  });
});

describe('heartbeat timeout', () => {
  it('ends the running tasks of a worker that stopped sending heartbeats with `lost`', () => {
    // The main run up to the moment long_task is running; then the worker goes silent.
    const run = replay('main', newTracker(), (seq) => seq > 31);
    const running = run.tracker.queueStatus().active.map((t) => t.task_id);
    expect(running.length).toBeGreaterThan(0);
    const last = run.steps.at(-1)?.atMs ?? 0;
    expect(run.tracker.expire(last + 5000).outputs).toEqual([]);
    const expired = run.tracker.expire(last + 60_000);
    const lost = expired.outputs.filter((o) => o.event === 'lost' && o.channel.startsWith('celery-task:'));
    expect(lost.map((o) => o.channel.slice(12)).sort()).toEqual([...running].sort());
    expect(lost[0]?.data).toMatchObject({
      state: 'lost',
      worker: 'w1@exp',
      reason: expect.stringContaining('no heartbeat'),
    });
    expect(expired.outputs.find((o) => o.channel === 'celery-state:workers')?.data).toMatchObject({
      workers: [{ hostname: 'w1@exp', status: 'lost' }],
    });
    expect(run.tracker.queueStatus()).toEqual({ active: [], scheduled: [], reserved: [] });
    expect(expired.warnings[0]).toMatch(/stopped sending heartbeats/);
  });

  it('a worker killed and restarted under the same hostname before the timeout: its old running task is lost', () => {
    const tracker = newTracker();
    const w = { hostname: 'w1@h' };
    tracker.events([{ ...w, type: 'worker-online', timestamp: 0, freq: 2 }], 0);
    tracker.events(
      [
        { ...w, type: 'task-received', timestamp: 1, uuid: 'old', name: 'n', args: '()', kwargs: '{}' },
        { ...w, type: 'task-received', timestamp: 1, uuid: 'held', name: 'n', args: '()', kwargs: '{}' },
        { ...w, type: 'task-started', timestamp: 1, uuid: 'old' },
      ],
      1000,
    );
    expect(tracker.queueStatus().active.map((t) => t.task_id)).toEqual(['old']);
    // SIGKILL, restarted by a supervisor 3 s later: no worker-offline, no heartbeat gap long enough.
    const out = tracker.events([{ ...w, type: 'worker-online', timestamp: 4, freq: 2 }], 4000).outputs;
    expect(out.find((o) => o.channel === 'celery-task:old')).toMatchObject({
      event: 'lost',
      data: { state: 'lost', reason: 'worker w1@h restarted while the task was running' },
    });
    // The prefetched one goes back to the queue (kombu redelivers it): no event, out of the status.
    expect(out.some((o) => o.channel === 'celery-task:held')).toBe(false);
    expect(tracker.queueStatus()).toEqual({ active: [], scheduled: [], reserved: [] });
    expect(out.at(-1)).toMatchObject({ channel: 'celery-state:queue' });
  });

  it('the SIGKILL capture: online, one heartbeat, silence → lost', () => {
    const run = replay('sigkill_worker');
    const last = run.steps.at(-1)?.atMs ?? 0;
    const out = run.tracker.expire(last + 6001);
    expect(out.outputs.at(0)?.data).toMatchObject({ workers: [{ hostname: 'w1@exp', status: 'lost' }] });
  });
});

describe('workers without task events', () => {
  const changesOf = (run: ReturnType<typeof replay>) => {
    const states = run.steps.flatMap((s) =>
      s.result.outputs
        .filter((o) => o.channel === 'celery-state:workers')
        .map((o) => (o.data as CeleryWorkersState).workers[0]?.task_events),
    );
    return states.filter((s, i) => s !== states[i - 1]);
  };
  it('enable_events and disable_events broadcasts change the status', () => {
    expect(changesOf(replay('events_off_then_enable_events'))).toEqual(['unknown', 'enabled', 'disabled']);
  });
  it('are reported disabled, enabled once task events come, disabled again by disable_events', () => {
    // Without the enable_events broadcast (seq 6), the heartbeats tell: a task finished, no event.
    const run = replay('events_off_then_enable_events', newTracker(), undefined, (seq) => seq === 6);
    const states = run.steps.flatMap((s) =>
      s.result.outputs
        .filter((o) => o.channel === 'celery-state:workers')
        .map((o) => ({
          seq: s.seq,
          events: (o.data as CeleryWorkersState).workers[0]?.task_events,
        })),
    );
    const changes = states.filter((s, i) => s.events !== states[i - 1]?.events).map((s) => s.events);
    expect(changes).toEqual(['unknown', 'disabled', 'enabled', 'disabled']);
    const warnings = run.steps.flatMap((s) => s.result.warnings);
    expect(warnings[0]).toMatch(/w1@exp finished tasks but sent no task events: start it with -E/);
  });
});

describe('progress and bad input', () => {
  it('custom task-progress events and update_state together never go backwards', () => {
    const run = replay('custom_progress_event');
    const [list] = [...lifecycles(run.outputs).values()];
    const fractions = (list ?? [])
      .filter((e) => e.event === 'progress')
      .map((e) => (e.data.progress as { current: number; total: number }).current);
    expect(fractions.length).toBeGreaterThanOrEqual(3);
    expect([...fractions].sort()).toEqual(fractions);
    expect(events(list).at(-1)).toBe('succeeded');
  });

  it('drops progress that goes backwards or comes after the end, ignores unknown tasks', () => {
    const tracker = newTracker();
    const base = { hostname: 'w@h', timestamp: 1, clock: 1 };
    tracker.events([{ ...base, type: 'task-received', uuid: 'u1', name: 'n', args: '()', kwargs: '{}' }], 0);
    const p = (current: number, clock: number) =>
      tracker.events([{ ...base, clock, type: 'task-progress', uuid: 'u1', current, total: 10 }], 0).outputs.length;
    expect(p(5, 2)).toBe(2);
    expect(p(3, 3)).toBe(0);
    expect(p(6, 4)).toBe(2);
    expect(
      tracker.backend({ status: 'PROGRESS', task_id: 'other-app-task', result: { current: 1 } }, 0).outputs,
    ).toEqual([]);
    tracker.events([{ ...base, clock: 5, type: 'task-succeeded', uuid: 'u1', result: '1' }], 0);
    expect(p(9, 6)).toBe(0);
  });

  it('reports unknown event types', () => {
    const tracker = newTracker();
    const out = tracker.events([{ type: 'task-weird', hostname: 'w@h', timestamp: 1, uuid: 'x' }], 0);
    expect(out.unknown).toEqual(['task-weird']);
    expect(out.outputs).toEqual([]);
  });
});

describe('task records: bounded memory, queued tasks kept', () => {
  const hb = (tracker: ReturnType<typeof newTracker>, atMs: number) =>
    tracker.events([{ type: 'worker-heartbeat', hostname: 'w@h', timestamp: atMs / 1000, freq: 2 }], atMs);

  it('keeps a task on a long countdown in scheduled past the task TTL while its worker lives', () => {
    const tracker = newTracker();
    const hour = 3_600_000;
    const eta = new Date(4 * hour).toISOString();
    tracker.events(
      [
        {
          type: 'task-received',
          hostname: 'w@h',
          timestamp: 0,
          uuid: 'later',
          name: 'n',
          args: '()',
          kwargs: '{}',
          eta,
        },
      ],
      0,
    );
    expect(tracker.queueStatus().scheduled.map((t) => t.task_id)).toEqual(['later']);
    // Two hours of heartbeats later (the TTL is one hour), the countdown is still running.
    for (let at = 1000; at <= 2 * hour; at += 60_000) {
      hb(tracker, at);
      tracker.expire(at);
    }
    expect(tracker.queueStatus().scheduled.map((t) => t.task_id)).toEqual(['later']);
  });

  it('forgets finished tasks after the TTL and beyond maxTasks', () => {
    const tracker = new CeleryTracker({
      progressEvents: [],
      heartbeatTimeoutMs: () => 6000,
      taskTtlMs: 10_000,
      maxTasks: 5,
      maxWorkers: 10,
    });
    const base = { hostname: 'w@h', timestamp: 1 };
    for (let i = 0; i < 20; i++) {
      tracker.events(
        [
          { ...base, type: 'task-received', uuid: `t${i}`, name: 'n', args: '()', kwargs: '{}' },
          { ...base, type: 'task-started', uuid: `t${i}` },
          { ...base, type: 'task-succeeded', uuid: `t${i}`, result: '1' },
        ],
        i,
      );
    }
    tracker.expire(100);
    expect(tracker.tasks.size).toBe(5);
    hb(tracker, 20_000);
    tracker.expire(20_000);
    expect(tracker.tasks.size).toBe(0);
  });
});
