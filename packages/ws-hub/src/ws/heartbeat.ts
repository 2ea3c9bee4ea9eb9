/**
 * Heartbeats and idle timeouts for every connection of a binding: one shared timer and a timing
 * wheel.
 *
 * Each connection sits in the wheel's slot of its next deadline (the next ping, the unanswered
 * ping's timeout, or its idle time), and a tick visits only the slots that came due — not every
 * connection. At 10,000 connections with a 30 s ping, a walk over all of them every second did
 * 30 times the work it needed, and it evicted the delivery path's caches for nothing.
 *
 * Deadlines are lazy: a pong, a client frame or a new subscription does not move a connection in
 * the wheel; when its slot comes due the connection is checked against the clock and put in the
 * slot of its next deadline. The slots are short (at most 100 ms), so the pings of a burst of
 * connections go out in small groups instead of one long pass; with the first ping's jitter
 * ({@link firstPingDelay}) they spread over half an interval. The timer runs only while the wheel
 * holds a connection: a hub without WebSocket connections is not woken ten times a second.
 * @module
 */
import { CloseCode } from '@taskpulse/protocol';
import type { WsConnection } from './ws-connection';

/** Options of {@link HeartbeatMonitor}. */
export interface HeartbeatOptions {
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

/** Length of a wheel slot: a quarter of the shortest period, between 10 and 100 ms. */
export function slotMsFor(
  options: Pick<HeartbeatOptions, 'heartbeatIntervalMs' | 'pongTimeoutMs' | 'idleTimeoutMs'>,
): number {
  const periods = [options.heartbeatIntervalMs, options.pongTimeoutMs, options.idleTimeoutMs].filter((n) => n > 0);
  const shortest = periods.length > 0 ? Math.min(...periods) : 1000;
  return Math.min(100, Math.max(10, Math.floor(shortest / 4)));
}

/**
 * Delay of a new connection's first ping: between half an interval and a whole one, at random.
 * Connections opened together (a deploy, a reconnect storm) would otherwise be pinged together on
 * every interval: 10,000 pings in the second they connected, a stall of a tenth of a second.
 */
export function firstPingDelay(heartbeatIntervalMs: number, random: () => number = Math.random): number {
  return heartbeatIntervalMs / 2 + random() * (heartbeatIntervalMs / 2);
}

/** Pings connections, cuts dead peers and closes idle connections. */
export class HeartbeatMonitor {
  readonly #options: HeartbeatOptions;
  readonly #slotMs: number;
  /** Connections by the slot of their next deadline (slot = ceil(deadline / slotMs)). */
  readonly #slots = new Map<number, Set<WsConnection>>();
  /** The shared timer, while the wheel holds a connection. */
  #timer: ReturnType<typeof setInterval> | undefined = undefined;
  #stopped = false;
  /** The last slot visited. */
  #done: number;

  /**
   * The shared timer starts with the first connection in the wheel and stops when the wheel is
   * empty (unref'd: it never keeps the process alive).
   * @param now - the clock at start (ms), for tests driving {@link HeartbeatMonitor.tick}
   */
  constructor(options: HeartbeatOptions, now = Date.now()) {
    this.#options = options;
    this.#slotMs = slotMsFor(options);
    this.#done = Math.floor(now / this.#slotMs);
  }

  /** Connections in the wheel. */
  get size(): number {
    let n = 0;
    for (const slot of this.#slots.values()) n += slot.size;
    return n;
  }

  /** Watches a connection (once, when it has its session). */
  add(connection: WsConnection, now = Date.now()): void {
    if (!connection.closing) this.#schedule(connection, now);
  }

  /** Stops watching a connection (it closed). */
  remove(connection: WsConnection): void {
    const slot = connection.heartbeatSlot;
    if (slot < 0) return;
    connection.heartbeatSlot = -1;
    const due = this.#slots.get(slot);
    if (due === undefined) return;
    due.delete(connection);
    if (due.size === 0) this.#slots.delete(slot);
    this.#disarmWhenEmpty();
  }

  /** Visits the slots that came due by `now` (ms). */
  tick(now: number): void {
    const last = Math.floor(now / this.#slotMs);
    if (last < this.#done) {
      // The clock went back: count slots from here. (Deadlines set before keep their slots and
      // come due when the clock catches up, as they would have with absolute times.)
      this.#done = last;
      return;
    }
    const first = this.#done + 1;
    if (last < first) return;
    this.#done = last;
    if (last - first < this.#slots.size) {
      for (let slot = first; slot <= last; slot++) this.#visit(slot, now);
    } else {
      // A long gap (a stalled loop, a clock jump, a wheel that was empty): visit the stored slots,
      // not every number between.
      const due = [...this.#slots.keys()].filter((slot) => slot <= last).sort((a, b) => a - b);
      for (const slot of due) this.#visit(slot, now);
    }
    this.#disarmWhenEmpty();
  }

  /** Stops the timer for good (the binding closed). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Starts the shared timer when the wheel gets its first connection. */
  #arm(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => this.tick(Date.now()), this.#slotMs);
    this.#timer.unref?.();
  }

  /** Stops the shared timer when no connection is left to look at. */
  #disarmWhenEmpty(): void {
    if (this.#timer === undefined || this.#slots.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #visit(slot: number, now: number): void {
    const due = this.#slots.get(slot);
    if (due === undefined) return;
    this.#slots.delete(slot);
    for (const connection of due) {
      connection.heartbeatSlot = -1;
      this.#check(connection, now);
    }
  }

  #check(connection: WsConnection, now: number): void {
    if (connection.closing) return;
    const { heartbeatIntervalMs, pongTimeoutMs, idleTimeoutMs } = this.#options;
    if (connection.pingSentAt !== 0) {
      if (now - connection.pingSentAt >= pongTimeoutMs) {
        // No pong: the peer is gone (or its network is); a closing handshake would never finish.
        this.#options.onDeadPeer();
        connection.terminate(CloseCode.Timeout, 'heartbeat timeout');
        return;
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
      return;
    }
    if (!connection.closing) this.#schedule(connection, now);
  }

  /** Puts a connection in the slot of its next deadline (none: it is not watched). */
  #schedule(connection: WsConnection, now: number): void {
    const { heartbeatIntervalMs, pongTimeoutMs, idleTimeoutMs } = this.#options;
    let due = Number.POSITIVE_INFINITY;
    if (connection.pingSentAt !== 0) due = connection.pingSentAt + pongTimeoutMs;
    else if (heartbeatIntervalMs > 0) due = connection.nextPingAt;
    if (idleTimeoutMs > 0) {
      // Idle only without a subscription; a subscribed connection is looked at again after
      // idleTimeoutMs, or sooner with its pings (a client frame only makes the deadline early).
      const session = connection.session;
      const idleAt =
        session !== undefined && session.subscriptionCount === 0
          ? session.lastActivityAt + idleTimeoutMs
          : now + idleTimeoutMs;
      if (idleAt < due) due = idleAt;
    }
    if (due === Number.POSITIVE_INFINITY) return;
    // An empty wheel has no timer and no ticks: count from now (the clock may have moved either way).
    if (this.#timer === undefined && this.#slots.size === 0) this.#done = Math.floor(now / this.#slotMs);
    const slot = Math.max(Math.ceil(due / this.#slotMs), this.#done + 1);
    let set = this.#slots.get(slot);
    if (set === undefined) {
      set = new Set();
      this.#slots.set(slot, set);
    }
    set.add(connection);
    connection.heartbeatSlot = slot;
    this.#arm();
  }
}
