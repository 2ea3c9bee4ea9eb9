/**
 * The Subscriber: one pub/sub connection per process, reference-counted channel subscriptions,
 * automatic resubscription and recovery after a reconnect, and per-channel ordered, gap-free
 * delivery (see `channel-sync.ts`).
 * @module
 */
import {
  type BrokerHandler,
  type BrokerStatus,
  type BrokerSubscription,
  createNamespaceResolver,
  type NamespaceOptions,
  type NamespaceTable,
  type Publication,
  type PublicationMessage,
  TaskpulseError,
} from '@taskpulse/protocol';
import { bounded } from './bounded';
import { type ChannelSync, createChannelSync } from './channel-sync';
import {
  type Connection,
  closeClient,
  duplicateForPubSub,
  type ErrorHook,
  errorHookOf,
  isCluster,
  openConnection,
  type RedisClient,
  type RedisConnectionOptions,
  trackConnection,
} from './connection';
import { checkPublicationText, entryPublication, type RawRead, type ReadRequest, readerOn } from './history-reader';
import { channelKeys } from './keys';

/** The MAC suffix `lua/publish.lua` puts at the end of a pub/sub message: `,"_tpmac":"<40 hex>"}`. */
const MAC_PREFIX = Buffer.from(',"_tpmac":"', 'latin1');
const MAC_SUFFIX_LENGTH = MAC_PREFIX.length + 40 + '"}'.length;

/**
 * Where the MAC suffix of a pub/sub message (`,"_tpmac":"<40 lowercase hex digits>"}`) starts in
 * its bytes, or -1 when it has none.
 */
function macSuffixAt(message: Uint8Array): number {
  const at = message.length - MAC_SUFFIX_LENGTH;
  if (at <= 0 || message[message.length - 1] !== 0x7d || message[message.length - 2] !== 0x22) return -1;
  for (let i = 0; i < MAC_PREFIX.length; i++) if (message[at + i] !== MAC_PREFIX[i]) return -1;
  for (let i = at + MAC_PREFIX.length; i < message.length - 2; i++) {
    const c = message[i] as number;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return -1;
  }
  return at;
}

/** Options of {@link createSubscriber}. */
export interface SubscriberOptions extends RedisConnectionOptions, NamespaceTable {
  /**
   * Called with errors that have no caller to reject: invalid inbound messages (`bad_frame`,
   * `frame_too_large`), failed background recovery (`unavailable`), throwing handlers (`internal`).
   * @default a warning through `logger`
   */
  onError?: ErrorHook;
  /**
   * How many publications one history read fetches during recovery.
   * @default 500
   */
  recoveryBatchSize?: number;
  /**
   * Delay before retrying a failed recovery, in ms (a reconnect also retries at once).
   * @default 1000
   */
  recoveryRetryDelayMs?: number;
  /**
   * Live publications buffered per channel while it recovers; past that the buffer is dropped
   * and read back from history.
   * @default 10000
   */
  maxBufferedPerChannel?: number;
  /**
   * Deliver a live pub/sub message only once it is read back, identical, from the channel's
   * stored history (or, for a channel without history, its stored latest value): a message
   * PUBLISHed by anything but the publish script is never delivered, and never displaces the
   * genuine publication of its offset. Costs one history read per channel with messages pending
   * (the messages arriving while one is in flight share the next one; the reads of every channel
   * pending together go to Redis as one script call), compared by text: nothing is parsed.
   * A channel published with a MAC key (see `lua/publish.lua`, ARGV[9]; the Publisher always
   * passes one) needs no read-back: its messages carry an HMAC-SHA1 of their text under the
   * channel's key, which the hub learns with the history reads it makes anyway, and a message
   * whose MAC checks is delivered at once (counted in {@link SubscriberStats.macVerified}). A
   * message without a valid MAC is read back as above, so forgeries are never delivered either way.
   * `'history'` never accepts a MAC: every live message is read back (for deployments where a
   * client that may PUBLISH can also read the taskpulse keys, and so the MAC keys).
   * `false` trusts messages that follow the last position — only for Redis deployments where
   * nobody else can PUBLISH on taskpulse channels (ACLs).
   * @default true
   */
  verifyLiveMessages?: boolean | 'history';
  /**
   * Largest inbound message accepted, in bytes, on top of the namespace's `maxPayloadBytes`
   * (room for the envelope: channel, epoch, event, id…).
   * @default 4096
   */
  envelopeAllowanceBytes?: number;
}

/** Counters of a subscriber, for metrics and tests. */
export interface SubscriberStats {
  /** Channels with a live Redis subscription. */
  channels: number;
  /** Pub/sub messages received. */
  received: number;
  /** Publications delivered to handlers (each counted once per channel, not per handler). */
  delivered: number;
  /** Publications delivered from history during recovery. */
  recovered: number;
  /** Publications dropped as already delivered. */
  duplicates: number;
  /** Inbound messages (or stored entries) rejected: not JSON, wrong shape, too large, impossible position. */
  invalid: number;
  /** Resets reported to handlers (epoch changed, history too short). */
  resets: number;
  /** Handler calls that threw. */
  handlerErrors: number;
  /** Reconnections of the pub/sub connection. */
  reconnects: number;
  /**
   * Live messages delivered because their MAC checked under their channel's key (see
   * {@link SubscriberOptions.verifyLiveMessages}), without reading them back.
   */
  macVerified: number;
}

/** Subscribes to taskpulse channels on Redis. */
export interface Subscriber {
  /**
   * Subscribes a handler to a channel; resolves once the Redis subscription is live and the
   * channel's position is known. Every publication made after it resolves is delivered, in
   * offset order, once.
   * @throws TaskpulseError `bad_channel`, `unknown_channel`, `unavailable`
   */
  subscribe(channel: string, handler: BrokerHandler): Promise<BrokerSubscription>;
  /** The channels with a live Redis subscription. */
  channels(): string[];
  /** Counters (see {@link SubscriberStats}). */
  stats(): SubscriberStats;
  /** State of the pub/sub connection. */
  status(): BrokerStatus;
  /** Unsubscribes everything and closes the pub/sub connection. Idempotent. */
  close(): Promise<void>;
}

interface ChannelRecord {
  channel: string;
  pubsub: string;
  /**
   * Replaced, never changed in place: a delivery loops over the array it started with while a
   * handler (un)subscribes, without copying it per message.
   */
  handlers: readonly BrokerHandler[];
  sync: ChannelSync;
  ns: NamespaceOptions;
  /** Resolves when the first subscription and read are done. */
  ready: Promise<void>;
}

/** `list` without one occurrence of `item` (the last one), as a new array. */
function withoutOne<T>(list: readonly T[], item: T): readonly T[] {
  const at = list.lastIndexOf(item);
  return at < 0 ? list : [...list.slice(0, at), ...list.slice(at + 1)];
}

/** Internal: builds a subscriber on an open connection; the broker shares its connection. @internal */
export function subscriberOn(
  connection: Connection,
  resolve: (channel: string) => NamespaceOptions,
  options: Omit<SubscriberOptions, 'redis'>,
): Subscriber {
  const onError: ErrorHook = errorHookOf(options.onError, connection.logger);
  const read = readerOn(connection, resolve, (error, context) => {
    counters.invalid++;
    onError(error, context);
  });
  const sub: RedisClient = duplicateForPubSub(connection);
  const tracker = trackConnection(sub);
  const records = new Map<string, ChannelRecord>(); // by Redis pub/sub channel
  const counters = {
    received: 0,
    delivered: 0,
    recovered: 0,
    duplicates: 0,
    invalid: 0,
    resets: 0,
    handlerErrors: 0,
    reconnects: 0,
    macVerified: 0,
  };
  const allowance = options.envelopeAllowanceBytes ?? 4096;
  let closed = false;
  let wasReady = sub.status === 'ready';
  /** Reconnections of the pub/sub connection so far: messages may have been missed across one. */
  let generation = 0;
  const sharded = connection.sharded;

  const redisSubscribe = (channels: string[]) =>
    bounded(connection, sub, 'subscribe', () =>
      sharded ? Promise.all(channels.map((c) => sub.ssubscribe(c))) : sub.subscribe(...channels),
    );
  const redisUnsubscribe = (channels: string[]) =>
    bounded(connection, sub, 'unsubscribe', () =>
      sharded ? Promise.all(channels.map((c) => sub.sunsubscribe(c))) : sub.unsubscribe(...channels),
    );

  function invalid(channel: string, error: TaskpulseError): void {
    counters.invalid++;
    onError(error, { channel });
  }

  function handlerThrew(record: ChannelRecord, cause: unknown): void {
    counters.handlerErrors++;
    onError(new TaskpulseError('internal', `a handler of ${record.channel} threw`, { cause }), {
      channel: record.channel,
    });
  }

  function callHandlers(record: ChannelRecord, call: (h: BrokerHandler) => void): void {
    const handlers = record.handlers;
    for (let i = 0; i < handlers.length; i++) {
      try {
        call(handlers[i] as BrokerHandler);
      } catch (cause) {
        handlerThrew(record, cause);
      }
    }
  }

  /**
   * Every message published before the call has arrived once a PING sent after it is answered on
   * the same connection (replies and messages share its order), provided the connection did not
   * reconnect since `since`. Not for a Cluster, whose sharded subscribers are several connections.
   */
  async function barrier(since: number): Promise<boolean> {
    if (closed || isCluster(sub) || generation !== since) return false;
    try {
      await bounded(connection, sub, 'ping', () => sub.ping());
    } catch {
      return false;
    }
    return !closed && generation === since;
  }

  /**
   * Hands a publication to the handlers: its message to those that take messages, the parsed
   * publication (parsed once, for all of them) to the others. A text that does not parse (only
   * possible for a trusted, unverified message) reaches only the former, and is reported.
   */
  function deliver(record: ChannelRecord, message: PublicationMessage): void {
    counters.delivered++;
    let parsed: Publication | null | undefined;
    // Once per publication: a plain loop, no closure or copy of the handlers.
    const handlers = record.handlers;
    for (let i = 0; i < handlers.length; i++) {
      const h = handlers[i] as BrokerHandler;
      try {
        if (h.onMessage) {
          h.onMessage(message);
          continue;
        }
        if (parsed === undefined) {
          try {
            parsed = message.publication();
          } catch (error) {
            parsed = null;
            invalid(record.channel, TaskpulseError.from(error, 'bad_frame'));
          }
        }
        if (parsed) h.onPublication(parsed);
      } catch (cause) {
        handlerThrew(record, cause);
      }
    }
  }

  function createRecord(channel: string, ns: NamespaceOptions): ChannelRecord {
    const subscribedIn = generation;
    const record: ChannelRecord = {
      channel,
      pubsub: channelKeys(connection.prefix, channel).pubsub,
      handlers: [],
      ns,
      ready: Promise.resolve(),
      sync: createChannelSync({
        channel,
        read: (request: ReadRequest): Promise<RawRead> => read(channel, request),
        deliver: (message) => deliver(record, message),
        latest: (entry) => entryPublication(entry, channel, (error) => invalid(channel, error)),
        reset: (event) => {
          counters.resets++;
          callHandlers(record, (h) => h.onReset?.(event));
        },
        invalid: (reason) =>
          invalid(channel, new TaskpulseError('bad_frame', `invalid publication on ${channel}: ${reason}`)),
        failed: (error) =>
          onError(error instanceof TaskpulseError ? error : TaskpulseError.from(error, 'unavailable'), { channel }),
        duplicate: () => {
          counters.duplicates++;
        },
        recovered: (count) => {
          counters.recovered += count;
        },
        macVerified: () => {
          counters.macVerified++;
        },
        batchSize: options.recoveryBatchSize ?? 500,
        retryDelayMs: options.recoveryRetryDelayMs ?? 1000,
        maxBuffered: options.maxBufferedPerChannel ?? 10_000,
        // An events channel that keeps no history has nothing to verify against: reading back
        // would turn every publication into a reset, so its messages are delivered as received.
        verify: (options.verifyLiveMessages ?? true) !== false && (ns.historySize > 0 || ns.kind === 'state'),
        acceptMac: options.verifyLiveMessages !== 'history',
        barrier: () => barrier(subscribedIn),
      }),
    };
    return record;
  }

  /**
   * A pub/sub message, as the bytes Redis sent: its MAC is checked over those bytes, and the text
   * is decoded once (ioredis' `message` event would decode it, and the MAC check encode it back).
   */
  function onMessage(pubsubChannel: Buffer, body: Buffer): void {
    // Runs inside ioredis' event loop: nothing may throw from here.
    try {
      counters.received++;
      const record = records.get(pubsubChannel.toString());
      if (!record) return; // a message racing an unsubscribe
      // A MAC appended by the publish script goes first: handlers and every check below see the
      // stored text (the script refuses bodies that end like the suffix, so this is unambiguous).
      // The suffix's `,` becomes the text's closing `}` in place (the bytes are this message's
      // own, a slice of what ioredis read, never read again), so the stored text is one run of
      // bytes: hashed where it lies, and decoded into a flat string.
      const suffixAt = macSuffixAt(body);
      let authentic = false;
      let message: string;
      if (suffixAt >= 0) {
        body[suffixAt] = 0x7d;
        authentic = record.sync.authentic(body, suffixAt + 1, suffixAt + MAC_PREFIX.length);
        message = body.toString('utf8', 0, suffixAt + 1);
      } else {
        message = body.toString('utf8');
      }
      // An authentic text is one the publish script checked in full (it attaches a MAC to no
      // other): its size, header and channel are checked, not its JSON again. Any other text is
      // checked in full (and read back from history before delivery, unless `verifyLiveMessages`
      // is off). Either way the text is passed through to the handlers as it is.
      const checked = checkPublicationText(message, record.channel, record.ns.maxPayloadBytes + allowance, authentic);
      if (checked instanceof TaskpulseError) {
        invalid(record.channel, checked);
        return;
      }
      record.sync.receive(checked, authentic);
    } catch (cause) {
      onError(TaskpulseError.from(cause), {});
    }
  }

  sub.on(sharded ? 'smessageBuffer' : 'messageBuffer', onMessage);

  // After a reconnect the Redis subscriptions are gone until resubscribeAll succeeds and every
  // channel has recovered what it missed: until then the subscriber is not ready (status() says
  // `connecting`), and a failed attempt is retried on a timer — a `ready` event may never come
  // while the connection stays up.
  let resubscribePending = false;
  let resubscribeTimer: NodeJS.Timeout | undefined;
  const retryDelayMs = options.recoveryRetryDelayMs ?? 1000;

  async function resubscribeAll(): Promise<void> {
    clearTimeout(resubscribeTimer);
    resubscribeTimer = undefined;
    const list = [...records.values()];
    if (closed) return;
    if (list.length === 0) {
      resubscribePending = false;
      return;
    }
    try {
      // Cluster sharded subscribers resubscribe by themselves; a single node is ours to redo.
      if (!isCluster(sub)) await redisSubscribe(list.map((r) => r.pubsub));
    } catch (error) {
      onError(TaskpulseError.from(error, 'unavailable'), {});
      if (!closed && sub.status === 'ready') {
        resubscribeTimer = setTimeout(() => resubscribeAll().catch(() => {}), retryDelayMs);
        resubscribeTimer.unref?.();
      } // else the next 'ready' tries again
      return;
    }
    // Ready again once every channel caught up with what it missed (live frames say so then).
    await Promise.all(list.map((record) => record.sync.resync()));
    resubscribePending = false;
  }

  const onReady = () => {
    if (closed) return;
    if (wasReady) {
      generation++;
      counters.reconnects++;
      resubscribePending = true;
      resubscribeAll().catch(() => {});
    }
    wasReady = true;
  };
  sub.on('ready', onReady);
  // A Cluster's sharded subscribers report their own (re)connections.
  const onSubscribersReady = () => {
    if (closed) return;
    for (const record of records.values()) record.sync.resync();
  };
  if (isCluster(sub)) sub.on('subscribersReady', onSubscribersReady);

  async function dropRecord(record: ChannelRecord): Promise<void> {
    if (records.get(record.pubsub) !== record) return;
    records.delete(record.pubsub);
    record.sync.close();
    if (sub.status !== 'ready') return; // nothing to undo: we resubscribe only what is in `records`
    try {
      await redisUnsubscribe([record.pubsub]);
    } catch (error) {
      onError(TaskpulseError.from(error, 'unavailable'), { channel: record.channel });
    }
  }

  return {
    async subscribe(channel, handler) {
      if (closed) throw new TaskpulseError('unavailable', 'subscriber is closed');
      const ns = resolve(channel);
      const pubsub = channelKeys(connection.prefix, channel).pubsub;
      let record = records.get(pubsub);
      if (!record) {
        const created = createRecord(channel, ns);
        record = created;
        records.set(pubsub, created);
        created.ready = (async () => {
          await redisSubscribe([pubsub]);
          await created.sync.start();
        })();
        created.ready.catch(() => {
          if (records.get(pubsub) === created) {
            records.delete(pubsub);
            created.sync.close();
            if (sub.status === 'ready') redisUnsubscribe([pubsub]).catch(() => {});
          }
        });
      }
      const current = record;
      // The handler itself is the entry (no wrapper to call through per message); one handler
      // object may subscribe twice, and each unsubscribe removes one of its entries.
      current.handlers = [...current.handlers, handler];
      try {
        await current.ready;
      } catch (error) {
        current.handlers = withoutOne(current.handlers, handler);
        throw TaskpulseError.from(error, 'unavailable');
      }
      let active = true;
      return {
        channel,
        async unsubscribe() {
          if (!active) return;
          active = false;
          current.handlers = withoutOne(current.handlers, handler);
          if (current.handlers.length === 0) await dropRecord(current);
        },
      };
    },
    channels: () => [...records.values()].map((r) => r.channel),
    stats: () => ({ channels: records.size, ...counters }),
    status: () => {
      if (closed) return 'closed';
      const state = tracker.state();
      return state === 'ready' && resubscribePending ? 'connecting' : state;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(resubscribeTimer);
      for (const record of records.values()) record.sync.close();
      records.clear();
      sub.off('ready', onReady);
      if (isCluster(sub)) sub.off('subscribersReady', onSubscribersReady);
      tracker.dispose();
      await closeClient(sub);
      if (connection.owned) await closeClient(connection.client);
    },
  };
}

/**
 * Creates a Subscriber with its own pub/sub connection (a duplicate of the client, or a new
 * connection from the URL). Create one per process and share it.
 *
 * @example
 * ```ts
 * const subscriber = createSubscriber({ redis, onError: (e) => log.warn(e.message) });
 * const sub = await subscriber.subscribe('task:42', {
 *   onPublication: (p) => render(p.offset, p.data),
 *   onReset: (e) => reload(e.latest),
 * });
 * await sub.unsubscribe();
 * ```
 */
export function createSubscriber(options: SubscriberOptions): Subscriber {
  const resolve = createNamespaceResolver(options, 'createSubscriber');
  return subscriberOn(openConnection(options), resolve, options);
}
