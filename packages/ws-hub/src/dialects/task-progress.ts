/**
 * Seed 001's task progress tracking: `GET /api/v1/ws?user_id=&project_id=`, a `connected` greeting
 * with `client_id`, `{action: "subscribe"|"unsubscribe", task_id}`, `progress` and `status`
 * messages, reconnect with `old_client_id`, broadcasts to a user's or a project's clients, and the
 * REST reads of the same API.
 * @module
 */
import { channels, namespaceOf, type Publication, type StreamPosition, TaskpulseError } from '@taskpulse/protocol';
import { taskProgressActionSchema } from '@taskpulse/protocol/payloads';
import type { CodecConnection, CodecContext, ConnectionRequest, WireCodec } from '../core/codec';
import type { HubCore } from '../core/hub-core';
import type { AuthenticateFn } from '../core/options';
import type { Principal } from '../core/principal';
import type { Session } from '../core/session';
import {
  type ClientRecord,
  type ClientRecordStore,
  createBrokerClientStore,
  warnIfClientRecordsReadable,
} from './client-store';
import { defineDialect, type HubDialect } from './dialect';
import { createFrameGate } from './frame-gate';
import { taskProgressRoutes } from './task-progress-routes';

/** Options of {@link taskProgressDialect}. */
export interface TaskProgressDialectOptions {
  /**
   * Prefix of the seed's API: the WebSocket is `{apiPrefix}/ws`, the REST reads
   * `{apiPrefix}/progress/…` and `{apiPrefix}/websocket/stats`.
   * @default '/api/v1'
   */
  apiPrefix?: string;
  /**
   * Where each client's task subscriptions are kept for `old_client_id` reconnects.
   * @default a store in the hub's broker ({@link createBrokerClientStore}), shared by every node
   */
  store?: ClientRecordStore;
  /**
   * Least time between two saves of a connection's delivered positions, in ms. Positions are
   * saved as publications are delivered — the first at once, later ones at most this often — so a
   * hub killed with SIGKILL replays to an `old_client_id` reconnect at most what it delivered in
   * the last interval. 0 saves after every delivery burst.
   * @default 1000
   */
  positionSaveIntervalMs?: number;
}

/** Options of {@link TaskProgressDialect.trustQueryIdentity}. */
export interface TrustQueryIdentityOptions {
  /** Authenticates every other request (and dialect requests without `user_id`/`project_id`). */
  fallback?: AuthenticateFn;
}

/** The seed 001 dialect; see {@link taskProgressDialect}. */
export interface TaskProgressDialect extends HubDialect {
  /**
   * An `authenticate` hook for legacy deployments that identify users by the query string alone:
   * on the dialect's WebSocket path, `user_id` and `project_id` become the principal; a reconnect
   * with only `old_client_id` gets the identity saved for that client id. Anyone can claim any
   * id this way, so it is an explicit opt-in; other paths go to `fallback`.
   */
  trustQueryIdentity(options?: TrustQueryIdentityOptions): AuthenticateFn;
}

const CLIENT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const IDENTITY_RE = /^[A-Za-z0-9_.:@=+~-]{1,128}$/;

function taskIdOf(pub: Publication): string | undefined {
  if (namespaceOf(pub.channel) === 'task') return pub.channel.slice(5);
  const data = pub.data as { task_id?: unknown } | null;
  return data !== null && typeof data === 'object' && typeof data.task_id === 'string' ? data.task_id : undefined;
}

/** `{type: event, task_id, payload: data}`: seed 001's `progress` and `status` messages (other events alike). */
function encodeMessage(pub: Publication): string {
  const taskId = taskIdOf(pub);
  return JSON.stringify({ type: pub.event, ...(taskId !== undefined ? { task_id: taskId } : {}), payload: pub.data });
}

/**
 * The seed 001 dialect.
 *
 * - Identity comes from the hub's `authenticate` hook: the connection is also subscribed to
 *   `user:{userId}` and to `project:{project_id}` (the query's `project_id` when given and
 *   authorized, else every project of the principal), so a publication on those channels reaches
 *   all of a user's or a project's clients. Use {@link TaskProgressDialect.trustQueryIdentity} to
 *   take `user_id`/`project_id` from the query instead (legacy deployments).
 * - `{action: "subscribe", task_id}` subscribes `task:{task_id}`; publications become
 *   `{type: event, task_id, payload: data}` — `progress` and `status` as the seed shows them.
 * - The task subscriptions and their positions are saved per client id in the broker; a
 *   reconnect with `old_client_id` (same user) restores them and delivers what was missed.
 *   Re-sending `subscribe` for a restored task is a no-op.
 * - Errors are `{type: "error", payload: {code, message, task_id?}}` (unknown to the seed's
 *   clients, which ignore them); when the broker goes down and comes back the connection gets
 *   `{type: "live", payload: {available: false, code: "unavailable", message}}` and
 *   `{type: "live", payload: {available: true}}`.
 */
export function taskProgressDialect(options: TaskProgressDialectOptions = {}): TaskProgressDialect {
  const prefix = (options.apiPrefix ?? '/api/v1').replace(/\/+$/, '');
  const path = `${prefix}/ws`;
  let store = options.store;
  const storeFor = (core: HubCore) => {
    store ??= createBrokerClientStore(core.broker);
    return store;
  };
  const encoded = new WeakMap<Publication, string>();
  const saveIntervalMs = options.positionSaveIntervalMs ?? 1000;
  if (!Number.isSafeInteger(saveIntervalMs) || saveIntervalMs < 0) {
    throw new TypeError(
      'taskProgressDialect: positionSaveIntervalMs must be a non-negative integer number of milliseconds',
    );
  }

  const codec: WireCodec = {
    name: 'task-progress',
    clientIdFor(context) {
      const old = context.url.searchParams.get('old_client_id');
      return old !== null && CLIENT_ID_RE.test(old) ? old : undefined;
    },
    open(context, session) {
      return openConnection(context, session, storeFor(context.core), encoded, saveIntervalMs);
    },
  };

  return {
    ...defineDialect({ name: 'task-progress', path, codec, routes: taskProgressRoutes(prefix) }),
    bind(core) {
      // The default store keeps records in the broker, readable like any channel unless closed.
      if (options.store === undefined) warnIfClientRecordsReadable(core);
      storeFor(core);
    },
    trustQueryIdentity(trustOptions = {}) {
      const fallback = async (request: ConnectionRequest) =>
        trustOptions.fallback ? trustOptions.fallback(request) : null;
      return async (request) => {
        let url: URL;
        try {
          url = new URL(request.url ?? '/', 'http://localhost');
        } catch {
          return fallback(request);
        }
        if (url.pathname !== path) return fallback(request);
        const userId = url.searchParams.get('user_id');
        const projectId = url.searchParams.get('project_id');
        for (const [name, value] of [
          ['user_id', userId],
          ['project_id', projectId],
        ] as const) {
          if (value !== null && !IDENTITY_RE.test(value)) throw new TaskpulseError('bad_request', `invalid ${name}`);
        }
        if (userId !== null || projectId !== null) {
          return { ...(userId ? { userId } : {}), projectIds: projectId ? [projectId] : [] };
        }
        const old = url.searchParams.get('old_client_id');
        if (old !== null && CLIENT_ID_RE.test(old) && store) {
          const record = await store.load(old);
          if (record)
            return { ...(record.userId ? { userId: record.userId } : {}), projectIds: record.projectIds ?? [] };
        }
        return fallback(request);
      };
    },
  };
}

function sameIdentity(record: ClientRecord, principal: Principal): boolean {
  return (record.userId ?? null) === (principal.userId ?? null);
}

function openConnection(
  context: CodecContext,
  session: Session,
  store: ClientRecordStore,
  encoded: WeakMap<Publication, string>,
  saveIntervalMs: number,
): CodecConnection {
  const { core, principal, url } = context;
  const gate = createFrameGate(core, session);
  /** Subscribed tasks and the last position delivered to this connection. */
  const tasks = new Map<string, StreamPosition | null>();
  let generation = 1;
  // A client id taken from another identity is used read-only: its owner's record stays intact.
  let writable = true;
  let chain: Promise<void> = Promise.resolve();
  const run = (step: () => Promise<void>) => {
    chain = chain.then(step).catch((error) => core.logger.warn('task-progress step failed', { error: String(error) }));
  };

  const snapshot = (): ClientRecord => ({
    ...(principal.userId !== undefined ? { userId: principal.userId } : {}),
    ...(principal.projectIds ? { projectIds: principal.projectIds } : {}),
    tasks: Object.fromEntries(tasks),
    generation,
  });
  const save = async () => {
    if (!writable) return;
    try {
      await store.save(session.id, snapshot());
    } catch (error) {
      core.logger.warn('task-progress: saving client subscriptions failed', { error: String(error) });
    }
  };
  // Positions are saved as publications are delivered (not only on subscribe/unsubscribe/close),
  // so a hub killed with no chance to save on close does not replay them to an `old_client_id`
  // reconnect. One save at a time, at most one per `saveIntervalMs`; a queued save covers every
  // delivery before it.
  let saveQueued = false;
  let lastSaveAt = 0;
  let saveTimer: NodeJS.Timeout | undefined;
  const scheduleSave = () => {
    if (saveQueued || !writable) return;
    saveQueued = true;
    const flush = () =>
      run(async () => {
        saveQueued = false;
        saveTimer = undefined;
        if (session.closed) return;
        lastSaveAt = Date.now();
        await save();
      });
    // At once (after the write of this delivery: the flush runs first), or once the interval since
    // the last save has passed.
    const wait = lastSaveAt + saveIntervalMs - Date.now();
    if (wait <= 0) setImmediate(flush);
    else {
      saveTimer = setTimeout(flush, wait);
      saveTimer.unref?.();
    }
  };
  const subscribeTask = async (taskId: string, since?: StreamPosition) => {
    const channel = channels.task(taskId);
    if (!(await session.subscribe(channel, since))) return false;
    tasks.set(taskId, session.positionOf(channel) ?? null);
    return true;
  };

  /** The position of a task's channel when its subscribe arrived (undefined when unreadable or forbidden). */
  const positionAtReceipt = async (taskId: string): Promise<StreamPosition | undefined> => {
    try {
      const channel = channels.task(taskId);
      await core.authorize(principal, channel, 'subscribe');
      const state = await core.broker.state(channel);
      return { epoch: state.epoch, offset: state.offset };
    } catch {
      return undefined; // the queued subscribe reports the error
    }
  };

  // Restore first; client actions queue behind it, so a re-sent subscribe finds the task restored.
  const restoreFrom = url.searchParams.get('old_client_id') === session.id ? session.id : undefined;
  run(async () => {
    let record: ClientRecord | null = null;
    if (restoreFrom !== undefined) {
      try {
        record = await store.load(restoreFrom);
      } catch (error) {
        core.logger.warn('task-progress: loading client subscriptions failed', { error: String(error) });
      }
      if (record && !sameIdentity(record, principal)) {
        writable = false;
        record = null;
      }
    }
    generation = (record?.generation ?? 0) + 1;
    const projectId = url.searchParams.get('project_id');
    const identity = [
      ...(principal.userId !== undefined ? [() => channels.user(principal.userId as string)] : []),
      ...(projectId !== null ? [projectId] : (principal.projectIds ?? [])).map((p) => () => channels.project(p)),
    ];
    for (const channelOf of identity) {
      try {
        await session.subscribe(channelOf());
      } catch (error) {
        // An id that is not a valid channel key: say so, go on with the rest.
        const e = TaskpulseError.from(error, 'bad_channel');
        session.sendError(e.code, e.message);
      }
    }
    for (const [taskId, since] of Object.entries(record?.tasks ?? {})) {
      if (session.closed) return;
      await subscribeTask(taskId, since ?? undefined);
    }
    if (record) await save();
  });

  return {
    batchable: false,
    greeting: () => JSON.stringify({ type: 'connected', payload: { client_id: session.id } }),
    onText(text) {
      const message = gate.parse(text);
      if (message === undefined) return;
      const parsed = taskProgressActionSchema.safeParse(message);
      if (!parsed.success) {
        gate.reject('expected {"action": "subscribe" | "unsubscribe", "task_id": "…"}');
        return;
      }
      const { action, task_id: taskId } = parsed.data;
      // The subscribe is registered when it is received, not when its turn in the queue comes:
      // the channel's position is read at once, and the subscription resumes from it, so nothing
      // published after the hub received the subscribe is lost however long the setup takes.
      const registered = action === 'subscribe' && !tasks.has(taskId) ? positionAtReceipt(taskId) : undefined;
      run(async () => {
        let channel: string;
        try {
          channel = channels.task(taskId);
        } catch (error) {
          const e = TaskpulseError.from(error, 'bad_channel');
          session.sendError(e.code, e.message);
          return;
        }
        if (action === 'subscribe') {
          if (tasks.has(taskId)) return;
          if (await subscribeTask(taskId, await registered)) await save();
        } else if (tasks.delete(taskId)) {
          if (session.channels.includes(channel)) session.unsubscribe(channel);
          await save();
        }
      });
    },
    encodePublication(p) {
      const pub = p.pub;
      if (namespaceOf(pub.channel) === 'task') {
        const taskId = pub.channel.slice(5);
        if (tasks.has(taskId)) {
          tasks.set(taskId, { epoch: pub.epoch, offset: pub.offset });
          scheduleSave();
        }
      }
      let text = encoded.get(pub);
      if (text === undefined) {
        text = encodeMessage(pub);
        encoded.set(pub, text);
      }
      return text;
    },
    encodeControl(frame) {
      // Broker down/up: `{type: "live", payload: {available, code?, message?}}` (seed 001's
      // clients ignore types they do not know, as they do errors).
      if (frame.type === 'live') {
        const { type: _type, ...payload } = frame;
        return JSON.stringify({ type: 'live', payload });
      }
      if (frame.type !== 'error') return null;
      const taskId =
        frame.channel !== undefined && namespaceOf(frame.channel) === 'task' ? frame.channel.slice(5) : undefined;
      return JSON.stringify({
        type: 'error',
        payload: { code: frame.code, message: frame.message, ...(taskId !== undefined ? { task_id: taskId } : {}) },
      });
    },
    onClose() {
      clearTimeout(saveTimer);
      if (!writable || tasks.size === 0) return;
      // Keep the positions reached, unless a newer connection with this client id took over.
      run(async () => {
        const current = await store.load(session.id).catch(() => null);
        if (current && current.generation > generation) return;
        await save();
      });
    },
  };
}
