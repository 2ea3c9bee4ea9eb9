/**
 * Runs the connection: starts transports, applies the failure policy (`failure-policy.ts`: fallback
 * to the next transport, backoff, token refresh, give up), probes the better transport while
 * degraded, and keeps the connection status. Transports never reconnect by themselves.
 *
 * The rules are those of docs/client.md, "Falling back and going back up" and "Reconnecting".
 * @module
 */
import { Backoff } from './backoff';
import type { ChannelRegistry } from './channels/registry';
import { clientError, type TransportFailure } from './errors';
import { decideAfterFailure } from './failure-policy';
import type { ResolvedOptions } from './options';
import { Prober } from './probe';
import type { StatusStore } from './status-store';
import { PollingTransport } from './transports/polling';
import { SseTransport } from './transports/sse';
import type { ResolvedPlatform, Transport, TransportHost } from './transports/transport';
import { WebSocketTransport } from './transports/websocket';
import type { ClientEnvironment, ClientError, ConnectionStatus, TransportName } from './types';

/** Everything the manager needs from the client. @internal */
export interface ManagerDeps {
  registry: ChannelRegistry;
  options: ResolvedOptions;
  store: StatusStore;
  environment: ClientEnvironment;
  resolvePlatform: () => Promise<ResolvedPlatform>;
  getToken: () => Promise<string | null>;
  canRefreshToken: boolean;
  report: (error: ClientError) => void;
  random?: () => number;
}

/** An open connection refused with 4401 after this long had working credentials that expired. */
const EXPIRED_AFTER_MS = 1000;

/** @internal */
export class ConnectionManager implements TransportHost {
  readonly registry: ChannelRegistry;
  readonly options: ResolvedOptions;
  platform!: ResolvedPlatform;
  readonly #deps: ManagerDeps;
  readonly #store: StatusStore;
  readonly #backoff: Backoff;
  #order: TransportName[];
  #index = 0;
  #active: Transport | null = null;
  #activeOpen = false;
  readonly #prober: Prober;
  #failures = 0;
  #generation = 0;
  #token: string | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #healthyTimer: ReturnType<typeof setTimeout> | undefined;
  #authRetried = false;
  /** `Date.now()` when the active transport opened. */
  #openedAt = 0;
  #unauthorized = false;
  #gaveUp = false;
  #browserOffline = false;
  #hidden = false;
  #closed = false;
  #unlisten: (() => void) | undefined;

  constructor(deps: ManagerDeps) {
    this.#deps = deps;
    this.registry = deps.registry;
    this.options = deps.options;
    this.#store = deps.store;
    this.#order = [...deps.options.order];
    this.#backoff = new Backoff(deps.options.backoff, deps.random);
    this.#prober = new Prober(
      {
        order: () => this.#order,
        workingIndex: () => (this.#activeOpen && !this.#closed ? this.#index : -1),
        create: (name) => this.#create(name),
        token: () => this.token(),
        log: (message) => this.#log('debug', message),
      },
      deps.options.probeIntervalMs,
    );
    this.#hidden = deps.environment.isHidden();
    this.#browserOffline = !deps.environment.isOnline();
    this.#unlisten = deps.environment.listen({
      visibility: (hidden) => this.#visibility(hidden),
      connectivity: (online) => this.#connectivity(online),
    });
  }

  /** Starts the first connection. */
  start(): void {
    this.#setStatus();
    void this.#connect();
  }

  // ---- status ----------------------------------------------------------------------------------

  #status(): ConnectionStatus {
    if (this.#closed) return 'closed';
    if (this.#unauthorized) return 'unauthorized';
    if (this.#browserOffline) return 'offline';
    if (this.#activeOpen) return this.#index === 0 ? 'connected' : 'degraded';
    if (this.#gaveUp) return 'offline';
    return 'connecting';
  }

  #setStatus(extra: Partial<Parameters<StatusStore['update']>[0]> = {}): void {
    this.#store.update({ status: this.#status(), ...extra });
  }

  // ---- connecting ------------------------------------------------------------------------------

  async #connect(): Promise<void> {
    if (this.#closed || this.#unauthorized) return;
    clearTimeout(this.#retryTimer);
    const generation = ++this.#generation;
    this.#stopActive();
    if (!this.platform) {
      this.platform = await this.#deps.resolvePlatform();
      if (this.#closed) return;
      // Transports this platform cannot run are left out of the order (`auto` mode in Node without `ws`).
      const usable = this.#order.filter(
        (t) => (t !== 'websocket' || this.platform.WebSocket) && (t !== 'sse' || this.platform.EventSource),
      );
      if (usable.length > 0) this.#order = usable;
    }
    let token: string | null;
    try {
      token = await this.#deps.getToken();
    } catch (error) {
      if (generation !== this.#generation || this.#closed) return;
      this.#retry(this.#backoff.next(), clientError('unauthorized', 'getToken() failed', error));
      return;
    }
    if (generation !== this.#generation || this.#closed || this.#unauthorized) return;
    this.#token = token;
    const name = this.#order[this.#index] ?? 'polling';
    const transport = this.#create(name);
    this.#active = transport;
    this.#activeOpen = false;
    this.#setStatus({ transport: name, pollingIntervalMs: null });
    transport.start(token);
  }

  #create(name: TransportName): Transport {
    const t: Transport =
      name === 'websocket'
        ? new WebSocketTransport(this)
        : name === 'sse'
          ? new SseTransport(this)
          : new PollingTransport(this);
    t.setHidden?.(this.#hidden);
    return t;
  }

  #stopActive(): void {
    this.#active?.stop();
    this.#active = null;
    this.#activeOpen = false;
    clearTimeout(this.#healthyTimer);
  }

  #stopProbe(): void {
    this.#prober.cancel();
  }

  #retry(delayMs: number, error: ClientError | null): void {
    clearTimeout(this.#retryTimer);
    if (this.#backoff.exhausted) this.#gaveUp = true;
    this.#setStatus({ error, transport: this.#order[this.#index] ?? null, pollingIntervalMs: null });
    if (this.#gaveUp && this.#backoff.exhausted) return; // until `online` or retryWebSocket()
    this.#log('debug', `reconnecting in ${delayMs} ms`, { delayMs, attempt: this.#backoff.attempts });
    this.#retryTimer = setTimeout(() => void this.#connect(), delayMs);
  }

  // ---- TransportHost ---------------------------------------------------------------------------

  get canRefreshToken(): boolean {
    return this.#deps.canRefreshToken;
  }

  opened(transport: Transport): void {
    if (this.#closed) return;
    const promoted = transport === this.#prober.transport ? this.#prober.take() : null;
    if (promoted) {
      // The better transport works: switch. The old one stops before the new one subscribes from
      // the client's positions, so nothing is lost; the registry drops anything seen twice.
      this.#log('info', `switching to ${transport.name}`);
      this.#active?.stop();
      this.#active = transport;
      this.#index = promoted.index;
      this.#failures = 0;
    } else if (transport !== this.#active) return;
    this.#activeOpen = true;
    this.#openedAt = Date.now();
    this.#gaveUp = false;
    transport.sync();
    const switched = transport.name === 'polling' && this.#index > 0 && this.options.auto;
    this.#setStatus({
      transport: transport.name,
      error: null,
      liveDataAvailable: true,
      ...(switched ? { switchedToPolling: true } : {}),
      ...(transport.name === 'polling' ? {} : { pollingIntervalMs: null }),
    });
    clearTimeout(this.#healthyTimer);
    // Counters reset only once the connection proved healthy: a hub that accepts and then closes
    // (even with 4401 after a token refresh) cannot make the client loop without backoff.
    this.#healthyTimer = setTimeout(() => {
      this.#backoff.reset();
      this.#failures = 0;
      this.#authRetried = false;
    }, this.options.backoff.healthyAfterMs);
    if (this.#index > 0) this.#prober.schedule();
  }

  failed(transport: Transport, failure: TransportFailure): void {
    if (this.#closed) return;
    if (transport === this.#prober.transport) {
      this.#log('debug', `probe of ${transport.name} failed`, { code: failure.error.code });
      this.#prober.failed();
      return;
    }
    if (transport !== this.#active) return;
    const wasOpen = this.#activeOpen;
    this.#stopActive();
    this.#stopProbe();
    this.#log('warn', `${transport.name} failed`, { code: failure.error.code, kind: failure.kind, wasOpen });
    if (failure.kind === 'network' || failure.kind === 'unreachable') this.#failures++;
    // Credentials that worked for a while and then expired (4401 on an open connection): a fresh
    // getToken() each time, even when tokens live shorter than healthyAfterMs. A hub that closes
    // 4401 right after welcome still gets one refresh only.
    if (failure.kind === 'auth' && wasOpen && Date.now() - this.#openedAt >= EXPIRED_AFTER_MS)
      this.#authRetried = false;
    const decision = decideAfterFailure(failure, {
      canRefreshToken: this.#deps.canRefreshToken,
      authRetried: this.#authRetried,
      failures: this.#failures,
      failuresBeforeFallback: this.options.failuresBeforeFallback,
      hasNext: this.#index < this.#order.length - 1,
    });
    switch (decision.type) {
      case 'refresh-token':
        this.#authRetried = true;
        this.#setStatus({ error: failure.error });
        void this.#connect(); // getToken() is called again
        return;
      case 'unauthorized':
        this.#unauthorized = true;
        this.#setStatus({ error: failure.error, pollingIntervalMs: null });
        return;
      case 'stop':
        this.#gaveUp = true;
        this.#deps.report(failure.error);
        this.#setStatus({ error: failure.error, pollingIntervalMs: null, transport: null });
        return;
      case 'fallback':
        this.#index++;
        this.#failures = 0;
        this.#backoff.reset();
        this.#log('info', `falling back to ${this.#order[this.#index]}`);
        this.#setStatus({ error: failure.error });
        void this.#connect();
        return;
      case 'retry':
        if (decision.liveDown) this.#store.update({ liveDataAvailable: false });
        if (decision.exhausted) this.#gaveUp = true;
        this.#retry(decision.immediate ? 0 : this.#backoff.next(), failure.error);
        return;
    }
  }

  live(transport: Transport, available: boolean, error?: ClientError): void {
    if (transport !== this.#active) return;
    this.#store.update({ liveDataAvailable: available, ...(error ? { error } : {}) });
  }

  activity(transport: Transport): void {
    if (transport === this.#active || transport === this.#prober.transport) this.#store.touch(Date.now());
  }

  pollingInterval(transport: Transport, intervalMs: number | null): void {
    if (transport === this.#active) this.#store.update({ pollingIntervalMs: intervalMs });
  }

  refuse(channel: string, error: ClientError): void {
    this.registry.refuse(channel, error);
  }

  report(error: ClientError): void {
    this.#deps.report(error);
  }

  // ---- public controls -------------------------------------------------------------------------

  /** The channel set changed. */
  channelsChanged(): void {
    this.#active?.sync();
    this.#prober.transport?.sync();
  }

  /** Seed 004's "retry WebSocket": probe the best transport now (or reconnect with it at once). */
  retryBest(): void {
    if (this.#closed) return;
    this.#unauthorized = false;
    this.#authRetried = false;
    this.#gaveUp = false;
    this.#backoff.reset();
    if (this.#activeOpen) {
      if (this.#index > 0) void this.#prober.start(0);
      return;
    }
    this.#index = 0;
    this.#failures = 0;
    void this.#connect();
  }

  /** A fresh token (for probes and HTTP reads), or the last one when `getToken()` fails. */
  async token(): Promise<string | null> {
    try {
      return await this.#deps.getToken();
    } catch {
      return this.#token;
    }
  }

  #visibility(hidden: boolean): void {
    this.#hidden = hidden;
    this.#active?.setHidden?.(hidden);
  }

  #connectivity(online: boolean): void {
    if (this.#closed) return;
    this.#browserOffline = !online;
    if (online && !this.#activeOpen && !this.#unauthorized) {
      // Back online: reconnect at once, from the first delay.
      this.#backoff.reset();
      this.#gaveUp = false;
      void this.#connect();
    }
    this.#setStatus();
  }

  #log(level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
    this.options.logger?.[level](`taskpulse client: ${message}`, fields);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    clearTimeout(this.#retryTimer);
    this.#prober.close();
    this.#stopActive();
    this.#unlisten?.();
    this.#store.update({ status: 'closed', transport: null, pollingIntervalMs: null });
  }
}
