/**
 * Seed 002's Celery task notifications: `ws://…/ws/tasks/` sends `{type, data}` messages
 * (`task_started`, `task_completed`, `task_failed`, `queue_status`), answers
 * `{"action": "get_queue_status"}`, and `GET /api/tasks/queue/status` answers `{code, message, data}`.
 * The data comes from the Celery bridge of `@taskpulse/redis-bridge`.
 * @module
 */

import { closeCodeFor, isErrorCode, type Publication, type StreamPosition } from '@taskpulse/protocol';
import { type CeleryQueueStatus, type CeleryTaskEvent, celeryChannels } from '@taskpulse/protocol/payloads';
import type { CodecConnection, CodecContext, WireCodec } from '../core/codec';
import type { HubCore } from '../core/hub-core';
import { SerializedPublication } from '../core/serialized';
import type { Session } from '../core/session';
import {
  type CeleryEncodeOptions,
  type CeleryFailureState,
  type CeleryFieldMapping,
  encodeTaskEvent,
  pythonStrText,
  seedQueueStatus,
} from './celery-tasks-encode';
import { type ClientRecordStore, createBrokerClientStore, warnIfClientRecordsReadable } from './client-store';
import { defineDialect, type HubDialect } from './dialect';
import { createFrameGate } from './frame-gate';
import { stateRoute } from './state-route';

/** Options of {@link celeryTasksDialect}. */
export interface CeleryTasksDialectOptions {
  /** The WebSocket path. @default '/ws/tasks/' */
  path?: string;
  /** The REST path of the queue status (`{code, message, data}`); null to serve none. @default '/api/tasks/queue/status' */
  restPath?: string | null;
  /**
   * Application fields added to notices and queue entries, taken from each task's arguments.
   * @default {} (no application fields)
   * @example `{ avid: { kwarg: 'avid', arg: 0 } }`
   */
  fields?: CeleryFieldMapping;
  /**
   * Task states besides `failed` that end a task as `task_failed` (with `reason` set to the
   * state): a revoked, rejected or lost task would otherwise leave the page waiting.
   * @default ['revoked', 'rejected', 'lost']
   */
  failureStates?: readonly CeleryFailureState[];
  /**
   * The `message` of `task_completed`.
   * @default the task's result: the text of a returned string (`return "下载完成"` → `下载完成`), else
   * its Python repr as Celery reports it (`5`, `{'size': 3}`)
   */
  completedMessage?: (event: CeleryTaskEvent) => string | undefined;
  /** The bridge's task events channel. @default 'celery:tasks' */
  tasksChannel?: string;
  /** The bridge's queue status channel (a state channel). @default 'celery-state:queue' */
  queueChannel?: string;
  /**
   * Where each client's position is kept for resuming (`?client_id=`).
   * @default a store in the hub's broker, shared by every node
   */
  store?: ClientRecordStore;
}

const CLIENT_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * The seed 002 dialect.
 *
 * - On open the connection gets the current queue status (when the bridge has published one),
 *   then `task_started` / `task_completed` / `task_failed` for every task, and `queue_status`
 *   whenever the queue changes. `{"action": "get_queue_status"}` is answered at once.
 * - A retry is not a failure; `task_failed` carries the exception text as `message`; revoked,
 *   rejected and lost tasks end as `task_failed` too (see `failureStates`).
 * - Resuming: a page that opens `/ws/tasks/?client_id=<8–64 characters [A-Za-z0-9_-]>` gets,
 *   after a reconnect with the same id, the notifications it missed; the position is kept
 *   server-side (like seed 001's `old_client_id`). Without `client_id` the seed's code works
 *   unchanged, live only.
 * - Other messages are answered `{type: "error", data: {code, message}}` (the seed's pages ignore it).
 *
 * @example
 * ```ts
 * const hub = await createHub({ server, namespaces: SEED_NAMESPACES,
 *   dialects: [celeryTasksDialect({ fields: { avid: { kwarg: 'avid', arg: 0 } } })] });
 * ```
 */
export function celeryTasksDialect(options: CeleryTasksDialectOptions = {}): HubDialect {
  const tasksChannel = options.tasksChannel ?? celeryChannels.tasks;
  const queueChannel = options.queueChannel ?? celeryChannels.queue;
  const fields = options.fields ?? {};
  const encodeOptions: CeleryEncodeOptions = {
    fields,
    failureStates: new Set(options.failureStates ?? ['revoked', 'rejected', 'lost']),
    completedMessage:
      options.completedMessage ?? ((event) => (event.result === undefined ? undefined : pythonStrText(event.result))),
  };
  let store = options.store;
  const storeFor = (core: HubCore) => {
    store ??= createBrokerClientStore(core.broker);
    return store;
  };
  const encoded = new WeakMap<Publication, string | null>();
  const encode = (pub: Publication): string | null => {
    let text = encoded.get(pub);
    if (text === undefined) {
      text =
        pub.channel === queueChannel
          ? JSON.stringify({ type: 'queue_status', data: seedQueueStatus(pub.data as CeleryQueueStatus, fields) })
          : pub.channel === tasksChannel && pub.data !== null && typeof pub.data === 'object'
            ? encodeTaskEvent(pub.data as CeleryTaskEvent, encodeOptions)
            : null;
      encoded.set(pub, text);
    }
    return text;
  };
  const restPath = options.restPath === undefined ? '/api/tasks/queue/status' : options.restPath;
  const emptyBody = () => ({ code: 200, message: 'success', data: seedQueueStatus(null, fields) });

  const codec: WireCodec = {
    name: 'celery-tasks',
    clientIdFor(context) {
      const id = context.url.searchParams.get('client_id');
      return id !== null && CLIENT_ID_RE.test(id) ? id : undefined;
    },
    open(context, session) {
      return openConnection(context, session, {
        store: storeFor(context.core),
        tasksChannel,
        queueChannel,
        encode,
      });
    },
  };

  return {
    ...defineDialect({
      name: 'celery-tasks',
      path: options.path ?? '/ws/tasks/',
      codec,
      routes:
        restPath === null
          ? []
          : [
              stateRoute({
                path: restPath,
                channel: queueChannel,
                body: (p) => ({
                  code: 200,
                  message: 'success',
                  data: seedQueueStatus(p.data as CeleryQueueStatus, fields),
                }),
                empty: emptyBody,
              }),
            ],
    }),
    bind(core) {
      if (options.store === undefined) warnIfClientRecordsReadable(core);
      storeFor(core);
    },
  };
}

interface ConnectionSettings {
  store: ClientRecordStore;
  tasksChannel: string;
  queueChannel: string;
  encode: (pub: Publication) => string | null;
}

function openConnection(context: CodecContext, session: Session, settings: ConnectionSettings): CodecConnection {
  const { core, principal, url } = context;
  const { store, tasksChannel, queueChannel, encode } = settings;
  const gate = createFrameGate(core, session);
  const resumable = url.searchParams.get('client_id') === session.id;
  let position: StreamPosition | null = null;
  let generation = 1;
  let writable = resumable;
  let initial: { channel: string; error?: { code: number; reason: string } } | undefined;
  const save = async () => {
    if (!writable) return;
    try {
      await store.save(session.id, {
        ...(principal.userId !== undefined ? { userId: principal.userId } : {}),
        tasks: { [tasksChannel]: position },
        generation,
      });
    } catch (error) {
      core.logger.warn('celery-tasks: saving the client position failed', { error: String(error) });
    }
  };

  const ready = (async () => {
    await Promise.resolve(); // the binding attaches the connection when `open` returns
    let since: StreamPosition | undefined;
    if (resumable) {
      const record = await store.load(session.id).catch(() => null);
      if (record && (record.userId ?? null) !== (principal.userId ?? null)) writable = false;
      else if (record) {
        generation = record.generation + 1;
        since = record.tasks[tasksChannel] ?? undefined;
      }
    }
    for (const [channel, from] of [
      [tasksChannel, since],
      [queueChannel, undefined],
    ] as const) {
      if (session.closed) return;
      initial = { channel };
      const ok = await session.subscribe(channel, from);
      const failed = initial.error;
      initial = undefined;
      if (!ok && !session.closed) {
        session.transport.close(failed?.code ?? 4500, failed?.reason ?? `subscribing ${channel} failed`);
        return;
      }
    }
    position ??= session.positionOf(tasksChannel) ?? null;
    await save();
  })().catch((error) => core.logger.warn('celery-tasks: opening failed', { error: String(error) }));

  return {
    batchable: false,
    greeting: () => null,
    onText(text) {
      const message = gate.parse(text);
      if (message === undefined) return;
      if (message.action !== 'get_queue_status') {
        gate.reject('expected {"action": "get_queue_status"}');
        return;
      }
      void ready.then(async () => {
        try {
          const state = await core.readState(principal, queueChannel);
          // Before the bridge's first queue status: an empty one, as the seed answers at once.
          const latest: Publication = state.latest ?? {
            channel: queueChannel,
            epoch: 'none',
            offset: 0,
            event: 'queue_status',
            data: { active: [], scheduled: [], reserved: [] },
            ts: Date.now(),
          };
          if (!session.closed) session.transport.deliver(new SerializedPublication(latest), 'state');
        } catch (error) {
          const e = error as { code?: string; message?: string };
          session.sendError(
            isErrorCode(e.code) ? e.code : 'unavailable',
            String(e.message ?? error),
            undefined,
            queueChannel,
          );
        }
      });
    },
    encodePublication(p) {
      if (p.pub.channel === tasksChannel) position = { epoch: p.pub.epoch, offset: p.pub.offset };
      return encode(p.pub);
    },
    encodeControl(frame) {
      if (frame.type === 'subscribed') return frame.state ? encode(frame.state as Publication) : null;
      if (frame.type !== 'error') return null;
      if (initial !== undefined && frame.channel === initial.channel) {
        initial.error = {
          code: isErrorCode(frame.code) ? closeCodeFor(frame.code) : 4500,
          reason: frame.message.slice(0, 120),
        };
        return null;
      }
      return JSON.stringify({ type: 'error', data: { code: frame.code, message: frame.message } });
    },
    onClose() {
      if (!writable) return;
      void ready.then(async () => {
        const current = await store.load(session.id).catch(() => null);
        if (current && current.generation > generation) return;
        await save();
      });
    },
  };
}
