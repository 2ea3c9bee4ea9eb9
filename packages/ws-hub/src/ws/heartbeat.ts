/**
 * Heartbeats and idle timeouts for every connection of a binding, on one shared timer.
 *
 * One interval walks all connections (a timer per socket would cost a timer object and a wakeup
 * per socket). Each connection keeps its own `nextPingAt`, set from its connect time, so pings
 * are spread over the interval instead of all going out on the same tick.
 * @module
 */
import { CloseCode } from '@taskpulse/protocol';
import type { WsConnection } from './ws-connection';

/** Options of {@link HeartbeatMonitor}. */
export interface HeartbeatOptions {
  /** The connections to watch (the binding's live set). */
  connections: ReadonlySet<WsConnection>;
  /** Protocol ping interval; 0 disables pings. */
  heartbeatIntervalMs: number;
  /** A ping unanswered for this long cuts the connection. */
  pongTimeoutMs: number;
  /** A connection with no subscription and no client frame for this long is closed with 4408; 0 disables. */
  idleTimeoutMs: number;
  /** Called for each connection cut for not answering a ping. */
  onDeadPeer(): void;
  /** Called for each connection closed for idleness. */
  onIdle(): void;
}

/** Resolution of the shared timer: a quarter of the shortest period, between 10 ms and 1 s. */
function tickMsFor(options: HeartbeatOptions): number {
  const periods = [options.heartbeatIntervalMs, options.pongTimeoutMs, options.idleTimeoutMs].filter((n) => n > 0);
  const shortest = periods.length > 0 ? Math.min(...periods) : 1000;
  return Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
}

/** Pings connections, cuts dead peers and closes idle connections. */
export class HeartbeatMonitor {
  readonly #options: HeartbeatOptions;
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts the shared timer (unref'd: it never keeps the process alive). */
  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.tick(Date.now()), tickMsFor(options));
    this.#timer.unref?.();
  }

  /** One pass over all connections at time `now` (ms). */
  tick(now: number): void {
    const { connections, heartbeatIntervalMs, pongTimeoutMs, idleTimeoutMs } = this.#options;
    for (const connection of connections) {
      if (connection.closing) continue;
      if (connection.pingSentAt !== 0) {
        if (now - connection.pingSentAt >= pongTimeoutMs) {
          // No pong: the peer is gone (or its network is); a closing handshake would never finish.
          this.#options.onDeadPeer();
          connection.terminate(CloseCode.Timeout, 'heartbeat timeout');
          continue;
        }
      } else if (heartbeatIntervalMs > 0 && now >= connection.nextPingAt) {
        connection.ping(now, heartbeatIntervalMs);
      }
      const session = connection.session;
      if (
        idleTimeoutMs > 0 &&
        session !== undefined &&
        session.subscriptionCount === 0 &&
        now - session.lastActivityAt >= idleTimeoutMs
      ) {
        this.#options.onIdle();
        session.sendError('idle_timeout', `no subscription and no frame for ${idleTimeoutMs} ms`);
        connection.close(CloseCode.Timeout, 'idle timeout');
      }
    }
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
