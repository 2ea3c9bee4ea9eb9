/**
 * Channel names: one grammar, enforced everywhere a name enters the system, plus builders for
 * the namespaces the seed systems use.
 *
 * Grammar (see `docs/protocol.md`):
 *
 * ```
 * channel   = namespace [ ":" key ]          ; at most 200 bytes in all
 * namespace = lower *( lower / digit / "-" / "_" )   ; at most 64 characters
 * key       = 1*( ALPHA / DIGIT / "-" / "_" / "." / ":" / "@" / "/" / "=" / "+" / "~" )
 * ```
 *
 * No whitespace, no control characters, no glob or wildcard characters (`* ? [ ]`), no braces
 * (they would break Redis hash tags). The namespace (before the first `:`) selects the channel's
 * options.
 *
 * @module
 */
import { TaskpulseError } from './errors';
import { SYSTEM_NAMESPACE, SYSTEM_NAMESPACE_OPTIONS } from './system';

/** Longest channel name accepted, in characters (all allowed characters are ASCII). */
export const MAX_CHANNEL_LENGTH = 200;

/** Longest namespace accepted, in characters. */
export const MAX_NAMESPACE_LENGTH = 64;

const NAMESPACE_RE = /^[a-z][a-z0-9_-]*$/;
/** The whole grammar as one regular expression (also used in the JSON Schema files). */
export const CHANNEL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}(?::[A-Za-z0-9_.:@/=+~-]+)?$/;
const CHANNEL_RE = CHANNEL_NAME_PATTERN;
const NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
const KEY_RE = /^[A-Za-z0-9_.:@/=+~-]+$/;

/** A parsed channel name. */
export interface ParsedChannel {
  /** The whole name. */
  name: string;
  /** The part before the first `:`, or the whole name when it has no `:`. */
  namespace: string;
  /** The part after the first `:`, or `''` when the name has no `:`. */
  key: string;
}

/** Returns a reason why `name` is not a valid channel name, or `null` when it is valid. */
export function channelNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'channel name must be a string';
  if (name.length === 0) return 'channel name is empty';
  if (name.length > MAX_CHANNEL_LENGTH) return `channel name is longer than ${MAX_CHANNEL_LENGTH} characters`;
  if (CHANNEL_RE.test(name)) return null;
  if (/\s/.test(name)) return 'channel name contains whitespace';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'channel name contains a control character';
  if (/[*?[\]]/.test(name)) return 'channel name contains a wildcard character';
  if (/[{}]/.test(name)) return 'channel name contains a brace';
  if (!/^[a-z]/.test(name)) return 'channel name must start with a lowercase letter';
  const colon = name.indexOf(':');
  const ns = colon === -1 ? name : name.slice(0, colon);
  if (ns.length > MAX_NAMESPACE_LENGTH) return `namespace is longer than ${MAX_NAMESPACE_LENGTH} characters`;
  if (!NAMESPACE_RE.test(ns)) return 'namespace may contain only lowercase letters, digits, "-" and "_"';
  if (colon === name.length - 1) return 'channel key after ":" is empty';
  return 'channel key contains a character outside [A-Za-z0-9_.:@/=+~-]';
}

/** Returns true when `name` is a valid channel name. */
export function isValidChannel(name: unknown): name is string {
  return channelNameProblem(name) === null;
}

/**
 * Throws a {@link TaskpulseError} with code `bad_channel` when `name` breaks the grammar.
 * @returns the name, typed as a string
 */
export function assertChannel(name: unknown): string {
  const problem = channelNameProblem(name);
  if (problem !== null) {
    throw new TaskpulseError('bad_channel', `invalid channel name: ${problem}`, {
      details: { channel: typeof name === 'string' ? name.slice(0, MAX_CHANNEL_LENGTH) : null },
    });
  }
  return name as string;
}

/** Parses a channel name into namespace and key; throws `bad_channel` when invalid. */
export function parseChannel(name: string): ParsedChannel {
  assertChannel(name);
  const colon = name.indexOf(':');
  return colon === -1
    ? { name, namespace: name, key: '' }
    : { name, namespace: name.slice(0, colon), key: name.slice(colon + 1) };
}

/** Returns the namespace of a channel name (the part before the first `:`) without validating it. */
export function namespaceOf(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

function keyed(namespace: string, key: string | number): string {
  const k = String(key);
  if (!KEY_RE.test(k)) {
    throw new TaskpulseError('bad_channel', `invalid channel key for ${namespace}: ${JSON.stringify(k)}`, {
      details: { namespace, key: k.slice(0, MAX_CHANNEL_LENGTH) },
    });
  }
  return assertChannel(`${namespace}:${k}`);
}

/**
 * Builders for the channels of the seed systems. Each validates its argument and returns a
 * channel name.
 *
 * @example
 * ```ts
 * channels.task('8f2c')            // 'task:8f2c'
 * channels.testProgress('stress_123') // 'test-progress:stress_123'
 * channels.processorStatus()       // 'processor:status'
 * ```
 */
export const channels = {
  /** Progress and lifecycle of one task (seed 001): `task:{taskId}`. */
  task: (taskId: string | number): string => keyed('task', taskId),
  /** Everything addressed to one user (seed 001 broadcast to a user): `user:{userId}`. */
  user: (userId: string | number): string => keyed('user', userId),
  /** Everything addressed to one project (seed 001 broadcast to a project): `project:{projectId}`. */
  project: (projectId: string | number): string => keyed('project', projectId),
  /** The worker status panel (seed 000), a state channel: `processor:status`. */
  processorStatus: (): string => 'processor:status',
  /** Progress of one test run (seed 003 `test-progress-{testId}`): `test-progress:{testId}`. */
  testProgress: (testId: string | number): string => keyed('test-progress', testId),
  /** General test updates (seed 003): `test-updates`. */
  testUpdates: (): string => 'test-updates',
  /** Stress-test updates (seed 003): `stress-test:{testId}`. */
  stressTest: (testId: string | number): string => keyed('stress-test', testId),
  /** Queue events of the test queue (seed 003): `queue-updates`. */
  queueUpdates: (): string => 'queue-updates',
  /** One job's status (seed 003): `job-status:{jobId}`. */
  jobStatus: (jobId: string | number): string => keyed('job-status', jobId),
  /** Test-history updates (seed 003): `test-history-updates`. */
  testHistoryUpdates: (): string => 'test-history-updates',
  /** System alerts (seed 003): `system-alerts`. */
  systemAlerts: (): string => 'system-alerts',
  /** Notifications for one user (seed 003 `user-notifications-{userId}`): `user-notifications:{userId}`. */
  userNotifications: (userId: string | number): string => keyed('user-notifications', userId),
  /** Updates for one team (seed 003): `team-updates:{teamId}`. */
  teamUpdates: (teamId: string | number): string => keyed('team-updates', teamId),
  /** Shared tests (seed 003): `shared-tests`. */
  sharedTests: (): string => 'shared-tests',
  /** Celery task lifecycle events (seed 002): `celery:tasks`. */
  celeryTasks: (): string => 'celery:tasks',
  /** Celery queue status, a state channel (seed 002): `celery:queue`. */
  celeryQueue: (): string => 'celery:queue',
} as const;

/** Whether the latest value (state) or the ordered log (events) is what matters on a channel. */
export type ChannelKind = 'events' | 'state';

/**
 * Who may subscribe to a namespace's channels.
 * - `public`: any authenticated (or anonymous, where allowed) connection;
 * - `user`: only the principal whose user id equals the channel key;
 * - `project`: only principals whose project ids include the channel key;
 * - `none`: nobody subscribes directly (server-side only).
 */
export type ChannelAccess = 'public' | 'user' | 'project' | 'none';

/** Options of one namespace, shared by brokers (history) and hubs (kind, access). */
export interface NamespaceOptions {
  /**
   * `events` keeps an ordered log; `state` keeps the latest value and may conflate.
   * @default 'events'
   */
  kind: ChannelKind;
  /**
   * How many publications the history keeps per channel.
   * @default 100
   */
  historySize: number;
  /**
   * How long history and state live after the last publication, in milliseconds.
   * @default 86_400_000 (24 h)
   */
  historyTtlMs: number;
  /**
   * Who may subscribe.
   * @default 'public'
   */
  access: ChannelAccess;
  /**
   * Whether clients may publish into this namespace over the wire.
   * @default false
   */
  clientPublish: boolean;
  /**
   * Largest serialized `data` accepted for one publication, in bytes.
   * @default 65_536
   */
  maxPayloadBytes: number;
}

/** The options every namespace starts from (seed 001: 100 entries per task, 24 h TTL). */
export const DEFAULT_NAMESPACE_OPTIONS: Readonly<NamespaceOptions> = Object.freeze({
  kind: 'events',
  historySize: 100,
  historyTtlMs: 24 * 60 * 60 * 1000,
  access: 'public',
  clientPublish: false,
  maxPayloadBytes: 64 * 1024,
});

/**
 * Options for the namespaces of the seeds: `user`, `user-notifications` are per-user, `project`
 * is per-project, `processor` and `celery` queue status are state channels; `dialect-client`
 * holds the hub's dialect client records and is closed to clients (`access: 'none'`).
 */
export const SEED_NAMESPACES: Readonly<Record<string, Partial<NamespaceOptions>>> = Object.freeze({
  task: { kind: 'events', historySize: 100 },
  user: { access: 'user' },
  project: { access: 'project' },
  processor: { kind: 'state', historySize: 10 },
  'test-progress': { kind: 'events' },
  'test-updates': {},
  'stress-test': {},
  'queue-updates': {},
  'job-status': {},
  'test-history-updates': {},
  'system-alerts': {},
  'user-notifications': { access: 'user' },
  'team-updates': {},
  'shared-tests': {},
  celery: { kind: 'events', historySize: 1000 },
  // The Celery bridge: one channel per task, and the queue and workers states.
  'celery-task': { kind: 'events', historySize: 100 },
  'celery-state': { kind: 'state', historySize: 10 },
  // Dialect client records (seed 001's `old_client_id`): user and project ids, never readable.
  'dialect-client': { kind: 'state', access: 'none', historySize: 1, historyTtlMs: 24 * 60 * 60 * 1000 },
});

/**
 * The namespace options every broker, hub, publisher and bridge takes, as top-level fields of
 * its options object (one shape everywhere):
 *
 * ```ts
 * import { SEED_NAMESPACES } from '@taskpulse/protocol';
 *
 * const options = { namespaces: SEED_NAMESPACES, namespaceDefaults: { historySize: 50 } };
 * ```
 *
 * A wrong shape (for example `namespaces: { namespaces: SEED_NAMESPACES }`) is a type error and,
 * from plain JavaScript, a `TypeError` naming the option.
 */
export interface NamespaceTable {
  /**
   * Options per namespace (`task`, `user`, ...): a flat record of namespace name to options.
   * Missing fields fall back to `namespaceDefaults`.
   * @default {} (no namespace: every channel is refused unless `allowUnknownNamespaces`)
   */
  // The index signature makes a nested table (`{ namespaces: { namespaces: ... } }`) a type error.
  namespaces?: Readonly<
    Record<
      string,
      Partial<NamespaceOptions> & { readonly [field: string]: NamespaceOptions[keyof NamespaceOptions] | undefined }
    >
  >;
  /**
   * Options every namespace starts from; missing fields fall back to
   * {@link DEFAULT_NAMESPACE_OPTIONS}.
   * @default {}
   */
  namespaceDefaults?: Partial<NamespaceOptions>;
  /**
   * Whether channels of namespaces absent from `namespaces` are accepted (with
   * `namespaceDefaults`). When false they are refused with `unknown_channel`; open a namespace
   * by adding it to `namespaces`, or set this to true to accept every namespace.
   * @default false
   */
  allowUnknownNamespaces?: boolean;
}

const NAMESPACE_OPTION_CHECKS: Record<keyof NamespaceOptions, (value: unknown) => boolean> = {
  kind: (v) => v === 'events' || v === 'state',
  historySize: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  historyTtlMs: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  access: (v) => v === 'public' || v === 'user' || v === 'project' || v === 'none',
  clientPublish: (v) => typeof v === 'boolean',
  maxPayloadBytes: (v) => Number.isSafeInteger(v) && (v as number) > 0,
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkNamespaceOptions(value: unknown, option: string, where: string): Partial<NamespaceOptions> {
  if (!isPlainObject(value)) {
    throw new TypeError(`${where}: ${option} must be an object of namespace options, got ${typeof value}`);
  }
  for (const [key, field] of Object.entries(value)) {
    if (!Object.hasOwn(NAMESPACE_OPTION_CHECKS, key)) {
      const hint =
        key === 'namespaces' || isPlainObject(field)
          ? ' (`namespaces` is a flat record of namespace name to options, e.g. { namespaces: SEED_NAMESPACES })'
          : '';
      throw new TypeError(`${where}: ${option} has an unknown field "${key}"${hint}`);
    }
    if (field !== undefined && !NAMESPACE_OPTION_CHECKS[key as keyof NamespaceOptions](field)) {
      throw new TypeError(`${where}: ${option}.${key} has an invalid value ${JSON.stringify(field)}`);
    }
  }
  return value as Partial<NamespaceOptions>;
}

/**
 * Checks the namespace fields of an options object and returns them as a {@link NamespaceTable}.
 * Every factory that takes namespace options calls it, so that a wrong shape fails at once.
 * @param options - the options object (other fields are ignored)
 * @param where - the function name for messages, e.g. `createHub`
 * @throws TypeError naming the option when `namespaces`, `namespaceDefaults` or
 * `allowUnknownNamespaces` has the wrong shape
 */
export function checkNamespaceTable(options: unknown, where: string): NamespaceTable {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  const { namespaces, namespaceDefaults, allowUnknownNamespaces } = options as Record<string, unknown>;
  if ('defaults' in options) {
    throw new TypeError(`${where}: the option "defaults" is now called "namespaceDefaults"`);
  }
  const table: NamespaceTable = {};
  if (namespaces !== undefined) {
    if (!isPlainObject(namespaces)) {
      throw new TypeError(`${where}: namespaces must be a record of namespace name to options`);
    }
    for (const [name, value] of Object.entries(namespaces)) {
      if (!NAMESPACE_PATTERN.test(name)) {
        throw new TypeError(`${where}: namespaces has an invalid namespace name "${name}"`);
      }
      checkNamespaceOptions(value, `namespaces["${name}"]`, where);
    }
    table.namespaces = namespaces as Record<string, Partial<NamespaceOptions>>;
  }
  if (namespaceDefaults !== undefined) {
    table.namespaceDefaults = checkNamespaceOptions(namespaceDefaults, 'namespaceDefaults', where);
  }
  if (allowUnknownNamespaces !== undefined) {
    if (typeof allowUnknownNamespaces !== 'boolean') {
      throw new TypeError(`${where}: allowUnknownNamespaces must be a boolean`);
    }
    table.allowUnknownNamespaces = allowUnknownNamespaces;
  }
  return table;
}

/**
 * Resolves the options of a channel's namespace. The reserved `taskpulse-system` namespace always
 * resolves to `SYSTEM_NAMESPACE_OPTIONS`, whatever the table says.
 * @throws {@link TaskpulseError} `bad_channel` for an invalid name, `unknown_channel` for a
 * namespace that is not configured unless unknown namespaces are allowed.
 */
export function resolveNamespace(channel: string, table: NamespaceTable = {}): NamespaceOptions {
  const { namespace } = parseChannel(channel);
  // The hubs' own namespace is reserved: the same options on every broker, whatever the table says.
  if (namespace === SYSTEM_NAMESPACE) return { ...SYSTEM_NAMESPACE_OPTIONS };
  // Own properties only: `constructor` is a valid namespace and must not find Object.prototype's.
  const namespaces = table.namespaces;
  const specific = namespaces && Object.hasOwn(namespaces, namespace) ? namespaces[namespace] : undefined;
  if (!specific && table.allowUnknownNamespaces !== true) {
    throw new TaskpulseError(
      'unknown_channel',
      `unknown channel namespace "${namespace}": add it to the \`namespaces\` option of the hub and broker, or set allowUnknownNamespaces: true`,
      { details: { channel, namespace } },
    );
  }
  return { ...DEFAULT_NAMESPACE_OPTIONS, ...table.namespaceDefaults, ...specific };
}

/**
 * Returns a memoizing resolver over a namespace table: the per-namespace merge is done once.
 * Brokers and hubs call it on every publication and subscription.
 */
export function createNamespaceResolver(
  table: NamespaceTable = {},
  where = 'createNamespaceResolver',
): (channel: string) => NamespaceOptions {
  table = checkNamespaceTable(table, where);
  const cache = new Map<string, NamespaceOptions>();
  return (channel: string) => {
    const { namespace } = parseChannel(channel);
    let options = cache.get(namespace);
    if (!options) {
      options = resolveNamespace(channel, table);
      if (cache.size < 10_000) cache.set(namespace, options);
    }
    return options;
  };
}
