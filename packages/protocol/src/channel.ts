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

/** Longest channel name accepted, in characters (all allowed characters are ASCII). */
export const MAX_CHANNEL_LENGTH = 200;

/** Longest namespace accepted, in characters. */
export const MAX_NAMESPACE_LENGTH = 64;

const NAMESPACE_RE = /^[a-z][a-z0-9_-]*$/;
/** The whole grammar as one regular expression (also used in the JSON Schema files). */
export const CHANNEL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}(?::[A-Za-z0-9_.:@/=+~-]+)?$/;
const CHANNEL_RE = CHANNEL_NAME_PATTERN;
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
  // Dialect client records (seed 001's `old_client_id`): user and project ids, never readable.
  'dialect-client': { kind: 'state', access: 'none', historySize: 1, historyTtlMs: 24 * 60 * 60 * 1000 },
});

/** A table of namespace options as taken by brokers and hubs. */
export interface NamespaceTable {
  /** Options per namespace; missing fields fall back to `defaults`. */
  namespaces?: Record<string, Partial<NamespaceOptions>>;
  /** Options for every namespace; missing fields fall back to {@link DEFAULT_NAMESPACE_OPTIONS}. */
  defaults?: Partial<NamespaceOptions>;
  /**
   * Whether channels of namespaces absent from `namespaces` are accepted.
   * When false, such channels are rejected with `unknown_channel`.
   * @default true
   */
  allowUnknownNamespaces?: boolean;
}

/**
 * Resolves the options of a channel's namespace.
 * @throws {@link TaskpulseError} `bad_channel` for an invalid name, `unknown_channel` for a
 * namespace that is not configured when unknown namespaces are not allowed.
 */
export function resolveNamespace(channel: string, table: NamespaceTable = {}): NamespaceOptions {
  const { namespace } = parseChannel(channel);
  // Own properties only: `constructor` is a valid namespace and must not find Object.prototype's.
  const namespaces = table.namespaces;
  const specific = namespaces && Object.hasOwn(namespaces, namespace) ? namespaces[namespace] : undefined;
  if (!specific && table.allowUnknownNamespaces === false) {
    throw new TaskpulseError('unknown_channel', `unknown channel namespace "${namespace}"`, {
      details: { channel, namespace },
    });
  }
  return { ...DEFAULT_NAMESPACE_OPTIONS, ...table.defaults, ...specific };
}

/**
 * Returns a memoizing resolver over a namespace table: the per-namespace merge is done once.
 * Brokers and hubs call it on every publication and subscription.
 */
export function createNamespaceResolver(table: NamespaceTable = {}): (channel: string) => NamespaceOptions {
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
