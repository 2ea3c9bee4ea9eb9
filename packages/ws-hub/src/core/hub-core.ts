/**
 * The transport-agnostic hub core: channels, sessions, authentication and authorization,
 * limits, recovery, stats and metrics. Transport bindings (WebSocket, SSE, polling, dialects)
 * are thin layers over it.
 * @module
 */
import {
  type Broker,
  type ChannelState,
  checkNamespaceTable,
  type HistoryOptions,
  type HistoryResult,
  type PublishOptions,
  type PublishResult,
  type StreamPosition,
  silentLogger,
  TaskpulseError,
  type TaskpulseLogger,
} from '@taskpulse/protocol';
import { createMemoryBroker } from '../memory-broker';
import { authorizeSystem, guardSystemPublish, type OpsHooks } from '../ops/system-guard';
import { ChannelRouter } from './channel-router';
import { type OpenedSubscription, openChannelSubscription, type SubscriptionTarget } from './channel-subscription';
import type { ConnectionRequest } from './codec';
import { createHubMetrics, type HubMetrics } from './metrics';
import { DEFAULT_LIMITS, type HubCoreOptions, type HubLimits } from './options';
import { OutboundScheduler } from './outbound-scheduler';
import { type AuthorizeFn, type ChannelAction, defaultAuthorize, type Principal } from './principal';
import { Session, type SessionTransport } from './session';
import { WatchedChannels } from './watched-channels';

/** Connection statistics (seed 001 `/websocket/stats`, plus channels and transports). */
export interface HubStats {
  /** Open connections. */
  total_clients: number;
  /** Open connections per user id. */
  by_user: Record<string, number>;
  /** Open connections per project id. */
  by_project: Record<string, number>;
  /** Local subscribers per channel. */
  by_channel: Record<string, number>;
  /** Open connections per transport. */
  by_transport: Record<string, number>;
}

// One principal object for every anonymous connection (an object per connection adds up at 10k
// connections); frozen, since it is shared.
const ANONYMOUS: Principal = Object.freeze({});

/** The namespace fields of hub options, checked; a given broker must carry its own. */
function hubNamespaceTable(options: HubCoreOptions) {
  const table = checkNamespaceTable(options, 'createHub');
  if (options.broker && Object.keys(table).length > 0) {
    throw new TypeError(
      'createHub: namespaces, namespaceDefaults and allowUnknownNamespaces configure the default in-memory broker; a given broker carries its own (pass them to createRedisBroker or createMemoryBroker)',
    );
  }
  return table;
}

/**
 * The hub core. Create it with {@link createHubCore}; bindings call {@link HubCore.authenticate},
 * {@link HubCore.admit} and {@link HubCore.openSession}.
 */
export class HubCore {
  /** The backplane. */
  readonly broker: Broker;
  /** @internal per-channel fan-out (transports and dialects attach through it) */
  readonly router: ChannelRouter;
  /** @internal positions of the channels HTTP polls read, kept current through the router */
  readonly watched: WatchedChannels;
  /** Prometheus metrics. */
  readonly metrics: HubMetrics;
  /** Effective limits. */
  readonly limits: Readonly<HubLimits>;
  /** Logger. */
  readonly logger: TaskpulseLogger;
  /** Heartbeat interval, in ms. */
  readonly heartbeatIntervalMs: number;
  /** Pong timeout, in ms. */
  readonly pongTimeoutMs: number;
  /** Allowed origins, or undefined for all. */
  readonly allowedOrigins: readonly string[] | undefined;
  /**
   * Flushes the outbound queues of every transport once per event-loop turn and shares the
   * `batch` frames of a flush cycle between them. @internal
   */
  readonly outbound: OutboundScheduler;
  readonly #ownsBroker: boolean;
  readonly #authenticate: HubCoreOptions['authenticate'];
  readonly #authorize: AuthorizeFn;
  /** Verifies tokens of `refresh` frames; undefined when refresh in place is off. @internal */
  readonly verifyToken: HubCoreOptions['verifyToken'];
  readonly #generateId: () => string;
  readonly #sessions = new Set<Session>();
  /** Whether the broker was ever ready (the first `ready` is not a recovery). */
  #wasLive = false;
  readonly #perUser = new Map<string, number>();
  /** @internal the operations dashboard's hooks, installed by `createHub({ dashboard })` */
  ops: OpsHooks | undefined;
  #closed = false;
  /** Whether live data flows (the broker was ready at the last check). */
  #live = true;
  #liveTimer: NodeJS.Timeout | undefined;
  /** Publications received since the metrics last took them (`taskpulse_publications_in_total`). */
  #publicationsIn = 0;

  /** @internal use {@link createHubCore} */
  constructor(options: HubCoreOptions = {}) {
    const table = hubNamespaceTable(options);
    this.#ownsBroker = !options.broker;
    this.broker =
      options.broker ?? createMemoryBroker({ ...table, ...(options.logger ? { logger: options.logger } : {}) });
    this.metrics = createHubMetrics({
      channelCount: () => this.router.channelCount,
      takePublicationsIn: () => {
        const received = this.#publicationsIn;
        this.#publicationsIn = 0;
        return received;
      },
      commitDeliveries: () => this.outbound.commitCounts(),
    });
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.logger = options.logger ?? silentLogger;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.allowedOrigins = options.allowedOrigins;
    this.#authenticate = options.authenticate;
    this.#authorize = options.authorize ?? defaultAuthorize;
    this.verifyToken = options.verifyToken;
    this.#generateId = options.generateClientId ?? (() => globalThis.crypto.randomUUID());
    this.outbound = new OutboundScheduler((error) => this.logger.error('flush failed', { error: String(error) }));
    this.router = new ChannelRouter(this.broker, {
      onListenerError: (error, channel) => this.logger.error('listener failed', { channel, error: String(error) }),
      onFanout: (publication, listeners) => {
        this.#publicationsIn++;
        this.ops?.onFanout(publication, listeners);
      },
    });
    this.watched = new WatchedChannels(this.router, this.broker);
    this.#live = this.broker.status() === 'ready';
    this.#wasLive = this.#live;
    const every = options.brokerCheckIntervalMs ?? 250;
    if (!Number.isSafeInteger(every) || every <= 0) {
      throw new TypeError('createHub: brokerCheckIntervalMs must be a positive integer number of milliseconds');
    }
    this.#liveTimer = setInterval(() => this.checkBroker(), every);
    this.#liveTimer.unref?.();
  }

  /** Whether live data flows: the broker was ready at the last check (checked every `brokerCheckIntervalMs`). */
  get live(): boolean {
    return this.#live;
  }

  /**
   * Compares the broker's status with the last one seen; on a change, sends every open session a
   * `live` frame (`available: false` when the broker went down, `true` when it is back). Runs on
   * a timer (`brokerCheckIntervalMs`); bindings may call it too. @internal
   */
  checkBroker(): void {
    if (this.#closed) return;
    this.ops?.onBrokerCheck();
    const live = this.broker.status() === 'ready';
    const changed = live !== this.#live;
    this.#live = live;
    if (changed) {
      if (live) this.logger.info?.(this.#wasLive ? 'broker ready again: live data resumes' : 'broker ready');
      if (live) this.#wasLive = true;
      else this.logger.warn('broker unavailable: live data stopped');
    }
    // While live data is stopped, every check also reaches sessions opened since the last one (a
    // connection admitted just before the broker went down would otherwise never hear of it);
    // `sendLive` sends only what a session has not been told yet.
    if (changed || !live) for (const session of [...this.#sessions]) session.sendLive(live);
  }

  /**
   * Throws `unavailable` (HTTP 503, with `Retry-After`) while the broker is not ready, so that a
   * client is refused before it connects instead of connecting to a hub that cannot deliver.
   */
  assertBrokerReady(): void {
    if (this.broker.status() === 'ready') return;
    this.metrics.rejections.inc({ reason: 'broker_unavailable' });
    throw new TaskpulseError('unavailable', 'the hub cannot reach its broker; retry later', {
      details: { broker: this.broker.status() },
    });
  }

  /** Whether the hub is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the broker is reachable (for `/readyz`). */
  ready(): boolean {
    return !this.#closed && this.broker.status() === 'ready';
  }

  /** Checks the `Origin` header against the allowlist; throws `forbidden`. */
  checkOrigin(origin: string | undefined): void {
    const allowed = this.allowedOrigins;
    if (!allowed || allowed.includes('*')) return;
    if (origin === undefined || !allowed.includes(origin)) {
      throw new TaskpulseError('forbidden', `origin ${origin ?? '(none)'} is not allowed`);
    }
  }

  /**
   * Authenticates a request with the configured hook. Returns the principal (a shared, frozen
   * anonymous `{}` when the hook returns null or none is configured); throws
   * `unauthorized`/`forbidden`.
   */
  async authenticate(request: ConnectionRequest): Promise<Principal> {
    // The operations credential (dashboard) first: it is not a user of the app's own auth.
    const ops = this.ops?.principalFor(request);
    if (ops) return ops;
    if (!this.#authenticate) return ANONYMOUS;
    try {
      return (await this.#authenticate(request)) ?? ANONYMOUS;
    } catch (error) {
      // A hook that fails unexpectedly (a plain Error) denies access: 401, never a 500 a client
      // cannot act on. A hook that deliberately reports `internal` (the JWT authenticator cannot
      // load its key: a server misconfiguration) is answered as such, so operators see it.
      throw TaskpulseError.from(error, 'unauthorized');
    }
  }

  /**
   * Throws unless the principal may act on the channel: `bad_channel`, `unknown_channel`
   * (namespace resolution) or `forbidden`.
   */
  async authorize(principal: Principal, channel: string, action: ChannelAction): Promise<void> {
    const namespace = this.broker.namespaceOptions(channel);
    // System channels: the operations credential only, whatever the hook says.
    if (authorizeSystem(principal, channel, action)) return;
    let allowed: boolean;
    try {
      allowed = await this.#authorize(principal, channel, action, namespace);
    } catch (error) {
      throw TaskpulseError.from(error, 'forbidden');
    }
    if (!allowed)
      throw new TaskpulseError('forbidden', `not allowed to ${action} ${channel}`, { details: { channel } });
  }

  /**
   * Checks connection limits for a new connection; throws `too_many_connections` (HTTP 503 for
   * the global limit, 429 per user — see `details.status`) or `shutting_down`.
   */
  admit(principal: Principal): void {
    if (this.#closed) throw new TaskpulseError('shutting_down', 'the hub is shutting down');
    if (this.#sessions.size >= this.limits.maxConnections) {
      this.metrics.rejections.inc({ reason: 'max_connections' });
      throw new TaskpulseError('too_many_connections', 'the hub is at its connection limit', {
        details: { status: 503, limit: this.limits.maxConnections },
      });
    }
    const user = principal.userId;
    if (user !== undefined && (this.#perUser.get(user) ?? 0) >= this.limits.maxConnectionsPerUser) {
      this.metrics.rejections.inc({ reason: 'max_connections_per_user' });
      throw new TaskpulseError('too_many_connections', `user ${user} has too many connections`, {
        details: { status: 429, limit: this.limits.maxConnectionsPerUser },
      });
    }
  }

  /** Opens a session for an admitted connection. Call {@link HubCore.admit} first. */
  openSession(principal: Principal, transport: SessionTransport, clientId?: string): Session {
    const session = new Session(this, principal, transport, clientId ?? this.#generateId());
    this.#sessions.add(session);
    if (principal.userId !== undefined) {
      this.#perUser.set(principal.userId, (this.#perUser.get(principal.userId) ?? 0) + 1);
    }
    this.metrics.connections.inc({ transport: transport.name });
    return session;
  }

  /** @internal called by {@link Session.close} */
  releaseSession(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    const user = session.principal.userId;
    if (user !== undefined) {
      const n = (this.#perUser.get(user) ?? 1) - 1;
      if (n <= 0) this.#perUser.delete(user);
      else this.#perUser.set(user, n);
    }
    this.metrics.connections.dec({ transport: session.transport.name });
  }

  /** Open sessions. */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /** @internal opens a recovered subscription through the router */
  openSubscription(
    channel: string,
    since: StreamPosition | undefined,
    target: SubscriptionTarget,
  ): Promise<OpenedSubscription> {
    return openChannelSubscription({
      channel,
      router: this.router,
      broker: this.broker,
      target,
      ...(since ? { since } : {}),
    });
  }

  /** Reads history after authorizing `read`. */
  async readHistory(principal: Principal, channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    await this.authorize(principal, channel, 'read');
    return this.broker.history(channel, options);
  }

  /** Reads current state after authorizing `read`. */
  async readState(principal: Principal, channel: string): Promise<ChannelState> {
    await this.authorize(principal, channel, 'read');
    return this.broker.state(channel);
  }

  /** Publishes from the server side (no authorization; callers guard it, e.g. with an API key). */
  async publish(
    channel: string,
    event: string,
    data: unknown,
    options: PublishOptions & { source?: string } = {},
  ): Promise<PublishResult> {
    const { source = 'server', ...rest } = options;
    guardSystemPublish(channel, source);
    const result = await this.broker.publish(channel, event, data, rest);
    this.metrics.publishes.inc({ source });
    return result;
  }

  /** Connection statistics. */
  stats(): HubStats {
    const by_user: Record<string, number> = {};
    const by_project: Record<string, number> = {};
    const by_transport: Record<string, number> = {};
    for (const s of this.#sessions) {
      const { userId, projectIds } = s.principal;
      if (userId !== undefined) by_user[userId] = (by_user[userId] ?? 0) + 1;
      for (const p of projectIds ?? []) by_project[p] = (by_project[p] ?? 0) + 1;
      by_transport[s.transport.name] = (by_transport[s.transport.name] ?? 0) + 1;
    }
    return {
      total_clients: this.#sessions.size,
      by_user,
      by_project,
      by_channel: Object.fromEntries(this.router.channels()),
      by_transport,
    };
  }

  /** Closes every session (with `code`), the router, and the broker when the core created it. */
  async close(code = 1001, reason = 'server shutting down'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#liveTimer);
    for (const s of [...this.#sessions]) {
      s.transport.close(code, reason);
      s.close();
    }
    this.watched.close();
    await this.router.close();
    if (this.#ownsBroker) await this.broker.close();
  }
}

/** Creates a hub core. Most users call `createHub`, which adds the transports. */
export function createHubCore(options: HubCoreOptions = {}): HubCore {
  return new HubCore(options);
}
