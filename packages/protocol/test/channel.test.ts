import {
  assertChannel,
  CHANNEL_NAME_PATTERN,
  channelNameProblem,
  channelNameSchema,
  channels,
  checkNamespaceTable,
  createNamespaceResolver,
  DEFAULT_NAMESPACE_OPTIONS,
  isValidChannel,
  MAX_CHANNEL_LENGTH,
  MAX_NAMESPACE_LENGTH,
  namespaceOf,
  parseChannel,
  resolveNamespace,
  SEED_NAMESPACES,
  TaskpulseError,
} from '@taskpulse/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const VALID = [
  'task:8f2c',
  'user:42',
  'project:7',
  'processor:status',
  'test-progress:stress_123',
  'queue-updates',
  'system-alerts',
  'celery:tasks',
  'a',
  'ns_1-x:Key.with:colons@and/slashes=+~-',
  `n:${'k'.repeat(MAX_CHANNEL_LENGTH - 2)}`,
  `${'n'.repeat(MAX_NAMESPACE_LENGTH)}:k`,
];

const INVALID: [unknown, string][] = [
  ['', 'empty'],
  ['task:a b', 'whitespace'],
  [' task:1', 'whitespace'],
  ['task:1\n', 'whitespace'],
  ['task:\u0000', 'control character'],
  ['task:\u007f', 'control character'],
  ['task:*', 'wildcard'],
  ['task:a?', 'wildcard'],
  ['task:[ab]', 'wildcard'],
  ['task:{x}', 'brace'],
  ['Task:1', 'lowercase letter'],
  ['1task:1', 'lowercase letter'],
  [':1', 'lowercase letter'],
  ['task:', 'empty'],
  ['ta.sk:1', 'namespace may contain only'],
  ['task:é', 'outside'],
  ['task:#1', 'outside'],
  [`n:${'k'.repeat(MAX_CHANNEL_LENGTH - 1)}`, 'longer than 200'],
  [`${'n'.repeat(MAX_NAMESPACE_LENGTH + 1)}:k`, 'namespace is longer'],
  [42, 'must be a string'],
  [null, 'must be a string'],
  [undefined, 'must be a string'],
];

describe('channel grammar', () => {
  it.each(VALID)('accepts %s', (name) => {
    expect(channelNameProblem(name)).toBeNull();
    expect(isValidChannel(name)).toBe(true);
    expect(assertChannel(name)).toBe(name);
    expect(channelNameSchema.safeParse(name).success).toBe(true);
  });

  it.each(INVALID)('rejects %j (%s)', (name, reason) => {
    expect(channelNameProblem(name)).toContain(reason);
    expect(isValidChannel(name)).toBe(false);
    expect(channelNameSchema.safeParse(name).success).toBe(false);
  });

  it('throws a bad_channel TaskpulseError naming the problem and the channel', () => {
    let thrown: unknown;
    try {
      assertChannel('task:a b');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TaskpulseError);
    const error = thrown as TaskpulseError;
    expect(error.code).toBe('bad_channel');
    expect(error.status).toBe(400);
    expect(error.message).toBe('invalid channel name: channel name contains whitespace');
    expect(error.details).toEqual({ channel: 'task:a b' });
  });

  it('bounds the channel echoed in error details', () => {
    const long = `task:${'x'.repeat(5000)}`;
    expect(() => assertChannel(long)).toThrow(
      expect.objectContaining({ details: { channel: long.slice(0, MAX_CHANNEL_LENGTH) } }),
    );
  });

  it('agrees with the zod schema and the exported pattern on arbitrary strings', () => {
    const alphabet = fc.constantFrom(...'az09-_:.@/=+~ *?[]{}#\t\né\u0000Z'.split(''));
    const names = fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 30 }));
    fc.assert(
      fc.property(names, (name) => {
        const valid = isValidChannel(name);
        expect(channelNameSchema.safeParse(name).success).toBe(valid);
        expect(CHANNEL_NAME_PATTERN.test(name) && name.length <= MAX_CHANNEL_LENGTH).toBe(valid);
        expect(channelNameProblem(name) === null).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('accepts every name generated from the grammar', () => {
    const namespace = fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/);
    const key = fc.stringMatching(/^[A-Za-z0-9_.:@/=+~-]{1,40}$/);
    fc.assert(
      fc.property(namespace, fc.option(key), (ns, k) => {
        const name = k === null ? ns : `${ns}:${k}`;
        expect(isValidChannel(name)).toBe(true);
        expect(parseChannel(name)).toEqual({ name, namespace: ns, key: k ?? '' });
      }),
    );
  }, 60_000);
});

describe('parseChannel and namespaceOf', () => {
  it('split at the first colon', () => {
    expect(parseChannel('processor:status')).toEqual({
      name: 'processor:status',
      namespace: 'processor',
      key: 'status',
    });
    expect(parseChannel('job-status:a:b')).toEqual({ name: 'job-status:a:b', namespace: 'job-status', key: 'a:b' });
    expect(parseChannel('queue-updates')).toEqual({ name: 'queue-updates', namespace: 'queue-updates', key: '' });
    expect(namespaceOf('user-notifications:7')).toBe('user-notifications');
    expect(namespaceOf('system-alerts')).toBe('system-alerts');
  });

  it('parseChannel throws bad_channel for an invalid name', () => {
    expect(() => parseChannel('bad name')).toThrow(expect.objectContaining({ code: 'bad_channel' }));
  });
});

describe('channel builders', () => {
  it('build the channels of the seeds', () => {
    expect(channels.task('8f2c')).toBe('task:8f2c');
    expect(channels.task(123)).toBe('task:123');
    expect(channels.user('user-123')).toBe('user:user-123');
    expect(channels.project('project-456')).toBe('project:project-456');
    expect(channels.processorStatus()).toBe('processor:status');
    expect(channels.testProgress('stress_123')).toBe('test-progress:stress_123');
    expect(channels.testUpdates()).toBe('test-updates');
    expect(channels.stressTest('s1')).toBe('stress-test:s1');
    expect(channels.queueUpdates()).toBe('queue-updates');
    expect(channels.jobStatus('j1')).toBe('job-status:j1');
    expect(channels.testHistoryUpdates()).toBe('test-history-updates');
    expect(channels.systemAlerts()).toBe('system-alerts');
    expect(channels.userNotifications('user_xxx')).toBe('user-notifications:user_xxx');
    expect(channels.teamUpdates('t1')).toBe('team-updates:t1');
    expect(channels.sharedTests()).toBe('shared-tests');
    expect(channels.celeryTasks()).toBe('celery:tasks');
    expect(channels.celeryQueue()).toBe('celery:queue');
  });

  it.each([['a b'], [''], ['x*'], ['{tag}'], ['é'], ['k'.repeat(MAX_CHANNEL_LENGTH)]])(
    'reject the key %j with bad_channel',
    (key) => {
      expect(() => channels.task(key)).toThrow(
        expect.objectContaining({ code: 'bad_channel', name: 'TaskpulseError' }),
      );
    },
  );

  it('only build channels of namespaces that have seed options', () => {
    const built = [
      channels.task('1'),
      channels.user('1'),
      channels.project('1'),
      channels.processorStatus(),
      channels.testProgress('1'),
      channels.testUpdates(),
      channels.stressTest('1'),
      channels.queueUpdates(),
      channels.jobStatus('1'),
      channels.testHistoryUpdates(),
      channels.systemAlerts(),
      channels.userNotifications('1'),
      channels.teamUpdates('1'),
      channels.sharedTests(),
      channels.celeryTasks(),
      channels.celeryQueue(),
    ];
    expect(built).toHaveLength(Object.keys(channels).length);
    for (const name of built) {
      expect(isValidChannel(name)).toBe(true);
      expect(Object.hasOwn(SEED_NAMESPACES, namespaceOf(name))).toBe(true);
    }
  });
});

describe('namespace options', () => {
  it('fall back to the defaults for a configured or an allowed unknown namespace', () => {
    expect(resolveNamespace('anything:1', { namespaces: { anything: {} } })).toEqual(DEFAULT_NAMESPACE_OPTIONS);
    expect(resolveNamespace('anything:1', { allowUnknownNamespaces: true })).toEqual(DEFAULT_NAMESPACE_OPTIONS);
    expect(DEFAULT_NAMESPACE_OPTIONS).toEqual({
      kind: 'events',
      historySize: 100,
      historyTtlMs: 86_400_000,
      access: 'public',
      clientPublish: false,
      maxPayloadBytes: 65_536,
    });
  });

  it('layer namespace options over table defaults over the package defaults', () => {
    const table = { namespaces: SEED_NAMESPACES, namespaceDefaults: { historySize: 50 } };
    expect(resolveNamespace('processor:status', table)).toMatchObject({ kind: 'state', historySize: 10 });
    expect(resolveNamespace('user:42', table)).toMatchObject({ access: 'user', historySize: 50 });
    expect(resolveNamespace('celery:tasks', table)).toMatchObject({ historySize: 1000, historyTtlMs: 86_400_000 });
  });

  it('reject unknown namespaces when asked to, with unknown_channel', () => {
    const table = { namespaces: { task: {} } };
    expect(resolveNamespace('task:1', table)).toEqual(DEFAULT_NAMESPACE_OPTIONS);
    expect(() => resolveNamespace('other:1', table)).toThrow(expect.objectContaining({ code: 'unknown_channel' }));
    // Object.prototype's members are not namespaces.
    for (const name of ['constructor:1', 'tostring', 'valueof:x']) {
      expect(() => resolveNamespace(name, table)).toThrow(expect.objectContaining({ code: 'unknown_channel' }));
    }
    expect(() => resolveNamespace('constructor', { allowUnknownNamespaces: false })).toThrow(
      expect.objectContaining({ code: 'unknown_channel' }),
    );
  });

  it('refuse unknown namespaces by default, saying how to open them (issue 9.9)', () => {
    for (const table of [undefined, {}, { namespaces: SEED_NAMESPACES }]) {
      let caught: unknown;
      try {
        resolveNamespace('anything:1', table);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'unknown_channel' });
      expect((caught as Error).message).toContain('namespaces');
      expect((caught as Error).message).toContain('allowUnknownNamespaces: true');
    }
  });

  it('throw a TypeError naming the option for a wrong shape (issue 9.17)', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { namespaces: { namespaces: SEED_NAMESPACES } },
        /namespaces\["namespaces"\].*unknown field "task".*flat record/,
      ],
      [{ namespaces: { namespaces: SEED_NAMESPACES, allowUnknownNamespaces: true } }, /flat record/],
      [{ namespaces: { allowUnknownNamespaces: true } }, /invalid namespace name "allowUnknownNamespaces"/],
      [{ namespaces: [] }, /namespaces must be a record/],
      [{ namespaces: { task: 5 } }, /namespaces\["task"\] must be an object/],
      [{ namespaces: { task: { kind: 'log' } } }, /namespaces\["task"\]\.kind has an invalid value "log"/],
      [{ namespaces: { task: { histroySize: 5 } } }, /unknown field "histroySize"/],
      [{ namespaceDefaults: { access: 'everyone' } }, /namespaceDefaults\.access/],
      [{ allowUnknownNamespaces: 'yes' }, /allowUnknownNamespaces must be a boolean/],
      [{ defaults: {} }, /"defaults" is now called "namespaceDefaults"/],
    ];
    for (const [options, message] of cases) {
      expect(() => checkNamespaceTable(options, 'createThing')).toThrow(TypeError);
      expect(() => checkNamespaceTable(options, 'createThing')).toThrow(message);
      expect(() => createNamespaceResolver(options as never, 'createThing')).toThrow(/^createThing: /);
    }
    expect(checkNamespaceTable({ namespaces: SEED_NAMESPACES, other: 1 }, 'x')).toEqual({
      namespaces: SEED_NAMESPACES,
    });
  });

  it('reject an invalid channel with bad_channel before looking at the table', () => {
    expect(() => resolveNamespace('task 1', { namespaces: { task: {} } })).toThrow(
      expect.objectContaining({ code: 'bad_channel' }),
    );
  });

  it('are merged once per namespace by a resolver', () => {
    const resolve = createNamespaceResolver({ namespaces: SEED_NAMESPACES });
    const first = resolve('task:1');
    expect(resolve('task:2')).toBe(first);
    expect(resolve('processor:status').kind).toBe('state');
    expect(() => resolve('bad name')).toThrow(expect.objectContaining({ code: 'bad_channel' }));
    const strict = createNamespaceResolver({ namespaces: {}, allowUnknownNamespaces: false });
    expect(() => strict('task:1')).toThrow(expect.objectContaining({ code: 'unknown_channel' }));
  });
});
