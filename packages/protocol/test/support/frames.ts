/** Valid native frames: one hand-written example per frame type, and fast-check arbitraries. */
import type { ClientFrame, Publication, ServerFrame } from '@taskpulse/protocol';
import { ERROR_CODES } from '@taskpulse/protocol';
import fc from 'fast-check';

/** A publication as seed 001's worker would produce it. */
export const PUBLICATION: Publication = {
  channel: 'task:task-123',
  offset: 7,
  epoch: 'e-1a2b',
  event: 'progress',
  data: { progress: 50, current_step: '视频转码' },
  ts: 1_771_669_800_000,
};

/** One valid example of every client frame type. */
export const CLIENT_FRAMES: Record<ClientFrame['type'], ClientFrame> = {
  subscribe: { type: 'subscribe', id: 1, channel: 'task:task-123', since: { epoch: 'e-1a2b', offset: 6 } },
  unsubscribe: { type: 'unsubscribe', id: 'req-2', channel: 'task:task-123' },
  ping: { type: 'ping', id: 3 },
  publish: {
    type: 'publish',
    id: 4,
    channel: 'user-notifications:42',
    event: 'user:notification',
    data: null,
    priority: 2,
  },
  refresh: { type: 'refresh', id: 5, token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.sig' },
};

/** One valid example of every server frame type. */
export const SERVER_FRAMES: Record<ServerFrame['type'], ServerFrame> = {
  welcome: {
    type: 'welcome',
    clientId: 'c-9',
    protocolVersion: 1,
    heartbeatIntervalMs: 25_000,
    expiresAt: 1_771_670_000_000,
  },
  subscribed: {
    type: 'subscribed',
    id: 1,
    channel: 'processor:status',
    kind: 'state',
    epoch: 'e-1a2b',
    offset: 7,
    recovered: false,
    state: { ...PUBLICATION, channel: 'processor:status' },
  },
  unsubscribed: { type: 'unsubscribed', id: 'req-2', channel: 'task:task-123' },
  publication: { type: 'publication', ...PUBLICATION, id: 'msg_1', priority: 3 },
  batch: { type: 'batch', publications: [PUBLICATION, { ...PUBLICATION, offset: 8, data: [1, 2] }] },
  published: { type: 'published', id: 4, channel: 'user-notifications:42', epoch: 'e-1a2b', offset: 1 },
  error: { type: 'error', id: 1, code: 'forbidden', message: 'not allowed', channel: 'user:7' },
  pong: { type: 'pong', id: 3 },
  live: { type: 'live', available: false, code: 'unavailable', message: 'the broker is unreachable' },
  refreshed: { type: 'refreshed', id: 5, expiresAt: 1_771_670_900_000 },
};

const channel = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/), fc.option(fc.stringMatching(/^[A-Za-z0-9_.:@/=+~-]{1,30}$/)))
  .map(([ns, key]) => (key === null ? ns : `${ns}:${key}`));
const requestId = fc.oneof(fc.string({ maxLength: 64 }), fc.integer());
const epoch = fc.string({ minLength: 1, maxLength: 64 });
const offset = fc.nat();
const data = fc.jsonValue();

function withOptional<T extends object>(required: fc.Arbitrary<T>, optional: Record<string, fc.Arbitrary<unknown>>) {
  return fc
    .tuple(required, fc.record(optional, { requiredKeys: [] }))
    .map(([base, extra]) => ({ ...base, ...extra }) as T);
}

const publication = withOptional(
  fc.record({
    channel,
    offset: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    epoch,
    event: fc.string({ minLength: 1, maxLength: 128 }),
    data,
    ts: fc.double({ noNaN: true, noDefaultInfinity: true }),
  }),
  { id: fc.string({ maxLength: 128 }), priority: fc.integer({ min: 1, max: 4 }) },
);

/** Arbitrary valid client frames. */
export const clientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  withOptional(fc.record({ type: fc.constant('subscribe' as const), channel }), {
    id: requestId,
    since: fc.record({ epoch, offset }),
  }),
  withOptional(fc.record({ type: fc.constant('unsubscribe' as const), channel }), { id: requestId }),
  withOptional(fc.record({ type: fc.constant('ping' as const) }), { id: requestId }),
  withOptional(
    fc.record({
      type: fc.constant('publish' as const),
      channel,
      event: fc.string({ minLength: 1, maxLength: 128 }),
      data,
    }),
    {
      id: requestId,
      priority: fc.integer({ min: 1, max: 4 }),
    },
  ),
  withOptional(
    fc.record({ type: fc.constant('refresh' as const), token: fc.string({ minLength: 1, maxLength: 200 }) }),
    {
      id: requestId,
    },
  ),
);

/** Arbitrary valid server frames. */
export const serverFrame: fc.Arbitrary<ServerFrame> = fc.oneof(
  withOptional(
    fc.record({
      type: fc.constant('welcome' as const),
      clientId: fc.string({ minLength: 1 }),
      protocolVersion: fc.integer(),
      heartbeatIntervalMs: fc.nat(),
    }),
    { expiresAt: fc.nat() },
  ),
  withOptional(fc.record({ type: fc.constant('refreshed' as const) }), { id: requestId, expiresAt: fc.nat() }),
  withOptional(
    fc.record({
      type: fc.constant('subscribed' as const),
      channel,
      kind: fc.constantFrom('events' as const, 'state' as const),
      epoch,
      offset,
    }),
    {
      id: requestId,
      recovered: fc.boolean(),
      state: fc.option(publication),
    },
  ),
  withOptional(fc.record({ type: fc.constant('unsubscribed' as const), channel }), { id: requestId }),
  publication.map((p) => ({ ...p, type: 'publication' as const })),
  fc.record({ type: fc.constant('batch' as const), publications: fc.array(publication, { maxLength: 5 }) }),
  withOptional(
    fc.record({
      type: fc.constant('published' as const),
      channel,
      epoch,
      offset: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    }),
    { id: requestId },
  ),
  withOptional(
    fc.record({ type: fc.constant('error' as const), code: fc.constantFrom(...ERROR_CODES), message: fc.string() }),
    {
      id: requestId,
      channel: fc.string(),
    },
  ),
  withOptional(fc.record({ type: fc.constant('pong' as const) }), { id: requestId }),
  withOptional(fc.record({ type: fc.constant('live' as const), available: fc.boolean() }), {
    code: fc.constantFrom(...ERROR_CODES),
    message: fc.string(),
  }),
);
