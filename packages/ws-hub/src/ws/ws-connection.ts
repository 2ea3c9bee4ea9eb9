/**
 * One WebSocket connection: the {@link SessionTransport} of a session, with the outbound queue
 * (coalescing, batching, conflation, backpressure) and the heartbeat state.
 * @module
 */
import { type ChannelKind, CloseCode, type ServerFrame, type TaskpulseLogger } from '@taskpulse/protocol';
import { WebSocket } from 'ws';
import type { CodecConnection } from '../core/codec';
import { batchFrame, type SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';
import { framedPublication, frameText } from './frame';
import type { DeliveryCounter, FlushCycle, OutboundScheduler } from './outbound-scheduler';
import { isCritical, promoteCritical } from './priority';

/** The net.Socket under a server-side `ws` WebSocket (what the fast path writes to). */
interface RawSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array | string): boolean;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * The server-side socket class: a `ws` WebSocket that hands its events straight to its
 * connection. Overriding `emit` instead of adding four listeners per socket saves the listener
 * table and its dispatch on every message — idle memory and per-frame work per connection are
 * figures that matter at 10k connections. Events without a connection (or other events) go
 * through `EventEmitter` as usual.
 */
export class HubWebSocket extends WebSocket {
  /** The connection this socket carries (set right after the upgrade). */
  connection: WsConnection | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const connection = this.connection;
    if (connection !== undefined) {
      switch (event) {
        case 'message':
          connection.receive(args[0] as Buffer | ArrayBuffer | Buffer[], args[1] === true);
          return true;
        case 'pong':
          connection.pingSentAt = 0;
          return true;
        case 'close':
          connection.closed();
          break;
        case 'error':
          // ws emits errors for protocol violations (oversize frame → 1009, invalid UTF-8 →
          // 1007) and closes the socket itself; an unhandled 'error' would crash the process.
          connection.failed(args[0] as Error);
          return true;
      }
    }
    return super.emit(event, ...args);
  }
}

/** A publication whose frame is the native one (batchable), an encoded string, or a conflated hole. */
type Entry = SerializedPublication | string | null;

const OPEN = 1;

// Bits of WsConnection's flags.
const FAST = 1;
const BATCHABLE = 2;
const WAITING_DRAIN = 4;
const CLOSING = 8;
/** A critical (priority 1) publication was queued behind other entries: reorder before writing. */
const CRITICAL = 16;

/** What the connections of one mounted codec share. */
export interface WsMountState {
  /** Transport name (the codec's name) for stats and metrics. */
  readonly name: string;
  /**
   * The native codec: the connection drives the session itself (no codec object per connection,
   * no codec call per delivery).
   */
  readonly native: boolean;
  /** Delivery counter of this transport. */
  readonly counter: DeliveryCounter;
  /** What every connection of the binding shares. */
  readonly shared: WsConnectionShared;
}

/** What every connection of one binding shares. */
export interface WsConnectionShared {
  readonly scheduler: OutboundScheduler;
  readonly logger: TaskpulseLogger;
  /** Bytes queued for one connection (queue + socket buffer) before it is cut with 4509. */
  readonly maxBufferedBytes: number;
  /** Largest `batch` frame built from a run of publications, in bytes (approximately). */
  readonly maxBatchBytes: number;
  /** Counts a slow-consumer disconnect. */
  onSlowConsumer(): void;
  /** Reports the bytes held for a connection when the socket is backed up (for peak tracking). */
  onBackpressure(bytes: number): void;
  /** The connection ended (socket closed). */
  onClosed(connection: WsConnection): void;
}

// The shared empty queue of idle connections (replaced before the first push, never written to).
const NO_ENTRIES: Entry[] = [];

// A run of publications collected during one flush; flushes never nest, so one array serves all.
const scratchRun: SerializedPublication[] = [];

function entrySize(entry: SerializedPublication | string): number {
  return typeof entry === 'string' ? entry.length : entry.frame.length;
}

/**
 * A WebSocket connection as a session transport. Frames are queued and written once per
 * event-loop turn by the {@link OutboundScheduler}; when the socket cannot take more, they stay
 * queued (state channels conflated to their newest value) until it drains, and a connection whose
 * backlog passes `maxBufferedBytes` is closed with 4509.
 */
export class WsConnection implements SessionTransport {
  /** Whether the scheduler holds this connection in its dirty list. */
  dirty = false;
  /** When to send the next protocol ping (ms). */
  nextPingAt: number;
  /** When the unanswered protocol ping was sent (ms), 0 when none is outstanding. */
  pingSentAt = 0;
  readonly #ws: WebSocket;
  readonly #socket: RawSocket;
  readonly #mount: WsMountState;
  #session: Session | undefined;
  /** The codec's side of the connection; undefined for the native codec. */
  #codec: CodecConnection | undefined;
  /** FAST | BATCHABLE | WAITING_DRAIN | CLOSING (one field instead of four, per connection). */
  #flags = 0;
  #queue: Entry[] = NO_ENTRIES;
  #queuedBytes = 0;
  #queuedPublications = 0;
  /** Index in the queue of the pending publication of each state channel (for conflation). */
  #stateSlots: Map<string, number> | undefined;

  /**
   * @param ws - the upgraded socket
   * @param mount - what the connections of this codec share
   * @param heartbeatIntervalMs - protocol ping interval
   */
  constructor(ws: WebSocket, mount: WsMountState, heartbeatIntervalMs: number) {
    this.#ws = ws;
    this.#mount = mount;
    this.nextPingAt = Date.now() + heartbeatIntervalMs;
    this.#socket = (ws as unknown as { _socket: RawSocket })._socket;
    // Pre-framed writes bypass ws's Sender; they are only safe when no extension transforms
    // frames (per-message deflate queues compressed frames inside the Sender).
    if (ws.extensions === '' && typeof this.#socket?.cork === 'function') this.#flags |= FAST;
    (ws as HubWebSocket).connection = this;
  }

  /** Transport name (the codec's name). */
  get name(): string {
    return this.#mount.name;
  }

  /** The session (set right after the connection opens). */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Whether the connection is closing or closed. */
  get closing(): boolean {
    return (this.#flags & CLOSING) !== 0;
  }

  /** Bytes queued by the hub for this connection. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes buffered in the socket (written by the hub, not yet taken by the kernel). */
  get socketBufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /**
   * Binds the session and its codec connection (undefined for the native codec); sends the
   * greeting.
   */
  attach(session: Session, codec: CodecConnection | undefined): void {
    this.#session = session;
    this.#codec = codec;
    if (codec === undefined || codec.batchable) this.#flags |= BATCHABLE;
    const greeting = codec === undefined ? session.welcomeFrame() : codec.greeting();
    if (greeting !== null) this.#enqueue(greeting);
  }

  /** {@inheritDoc SessionTransport.deliver} */
  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    if ((this.#flags & CLOSING) !== 0) return;
    let entry: SerializedPublication | string = publication;
    const codec = this.#codec;
    if (codec !== undefined) {
      let text: string | null;
      try {
        text = codec.encodePublication(publication, kind);
      } catch (error) {
        // A throwing codec must not take recovery or the connection down; the publication is
        // dropped for this client (its position already advanced) and the failure is logged.
        this.#mount.shared.logger.error('codec failed to encode a publication', {
          channel: publication.pub.channel,
          offset: publication.pub.offset,
          error: String(error),
        });
        return;
      }
      if (text === null) return;
      // Batchable codecs send native frames: keep the shared object so the frame bytes (and the
      // batch frame) are built once per publication, not once per socket.
      if ((this.#flags & BATCHABLE) === 0 || text !== publication.frame) entry = text;
    }
    const critical = isCritical(publication);
    if (critical && this.#queue.length > 0) this.#flags |= CRITICAL;
    if (kind === 'state') this.#conflate(publication.pub.channel, critical);
    this.#queuedPublications++;
    this.#enqueue(entry);
  }

  /** {@inheritDoc SessionTransport.sendControl} */
  sendControl(frame: string, value?: ServerFrame): void {
    if ((this.#flags & CLOSING) !== 0) return;
    const codec = this.#codec;
    if (codec === undefined) {
      this.#enqueue(frame);
      return;
    }
    let text: string | null;
    try {
      text = codec.encodeControl(value ?? (JSON.parse(frame) as ServerFrame), frame);
    } catch (error) {
      this.#mount.shared.logger.error('codec failed to encode a control frame', { error: String(error) });
      return;
    }
    if (text !== null) this.#enqueue(text);
  }

  /** {@inheritDoc SessionTransport.close} */
  close(code: number, reason: string): void {
    if ((this.#flags & CLOSING) !== 0) return;
    this.#flags |= CLOSING;
    // Write what is pending first (the error frame that explains the close must arrive), except
    // for a slow consumer: its backlog is what is being given up.
    if (code === CloseCode.SlowConsumer) this.#drop();
    else this.flush(null);
    try {
      this.#ws.close(code, reason.slice(0, 120));
    } catch {
      this.#ws.terminate();
    }
    this.#session?.close();
  }

  /**
   * Cuts the connection without waiting for a closing handshake (dead peer, or a peer that did not
   * answer one in time). With `code`, a close frame is written first, best effort: a peer whose
   * network still works learns why (4408 for a missed pong); otherwise it sees 1006.
   */
  terminate(code?: number, reason = ''): void {
    this.#flags |= CLOSING;
    this.#drop();
    if (code !== undefined && this.#ws.readyState === OPEN) {
      try {
        this.#ws.close(code, reason);
      } catch {
        // the socket is going away anyway
      }
    }
    this.#ws.terminate();
  }

  /** Sends a protocol ping. */
  ping(now: number, heartbeatIntervalMs: number): void {
    this.pingSentAt = now;
    this.nextPingAt = now + heartbeatIntervalMs;
    try {
      this.#ws.ping();
    } catch {
      // not open any more: the close handler cleans up
    }
  }

  /** Writes everything pending, unless the socket is backed up (then it waits for `drain`). */
  flush(cycle: FlushCycle | null): void {
    this.dirty = false;
    let queue: readonly Entry[] = this.#queue;
    if (queue.length === 0) return;
    if (this.#ws.readyState !== OPEN) {
      this.#drop();
      return;
    }
    const socket = this.#socket;
    if (socket.writableNeedDrain && (this.#flags & CLOSING) === 0) {
      if ((this.#flags & WAITING_DRAIN) === 0) {
        this.#flags |= WAITING_DRAIN;
        // Listened to only while backed up, so idle connections carry no drain listener.
        socket.once('drain', () => this.#onDrain());
      }
      this.#mount.shared.onBackpressure(this.#queuedBytes + socket.writableLength);
      return;
    }
    this.#queue = NO_ENTRIES;
    this.#queuedBytes = 0;
    this.#stateSlots?.clear();
    if ((this.#flags & CRITICAL) !== 0) {
      // Seed 003's priority: critical publications go ahead of other channels' backlog.
      this.#flags &= ~CRITICAL;
      queue = promoteCritical(queue);
    }
    this.#mount.counter.pending += this.#queuedPublications;
    this.#queuedPublications = 0;
    if (queue.length === 1) {
      // The common case at low rates: one frame, one write, nothing to cork.
      const entry = queue[0] as Entry;
      if (typeof entry === 'string') this.#writeText(entry);
      else if (entry !== null) this.#writePublication(entry);
      return;
    }
    socket.cork();
    try {
      const run = scratchRun;
      for (let i = 0; i < queue.length; i++) {
        const entry = queue[i];
        if (entry === null || entry === undefined) continue;
        if (typeof entry === 'string') {
          if (run.length > 0) this.#writeRun(run, cycle);
          this.#writeText(entry);
        } else {
          run.push(entry);
        }
      }
      if (run.length > 0) this.#writeRun(run, cycle);
    } finally {
      scratchRun.length = 0;
      socket.uncork();
    }
  }

  #enqueue(entry: SerializedPublication | string): void {
    // A one-slot array for the first entry of a turn (the common case): an empty array would grow
    // to 17 slots on its first push, once per delivery.
    if (this.#queue === NO_ENTRIES) this.#queue = [entry];
    else this.#queue.push(entry);
    this.#queuedBytes += entrySize(entry);
    if ((this.#flags & WAITING_DRAIN) !== 0) {
      // The socket is backed up: nothing is written until it drains, so the backlog only grows.
      const held = this.#queuedBytes + this.#socket.writableLength;
      const { shared } = this.#mount;
      shared.onBackpressure(held);
      if (held > shared.maxBufferedBytes) this.#slowConsumer();
      return;
    }
    this.#mount.shared.scheduler.schedule(this);
  }

  /**
   * Drops the pending publication of a state channel when a newer one comes: only the newest
   * value matters. Values pending together are those of one event-loop turn for a client that
   * keeps up (rarely more than one), and everything since the socket backed up for a slow one.
   * Critical (priority 1) publications are never dropped: they take no slot.
   */
  #conflate(channel: string, critical: boolean): void {
    let slots = this.#stateSlots;
    if (slots === undefined) {
      slots = new Map();
      this.#stateSlots = slots;
    }
    const index = slots.get(channel);
    if (index !== undefined) {
      const old = this.#queue[index];
      if (old !== null && old !== undefined) {
        this.#queuedBytes -= entrySize(old);
        this.#queuedPublications--;
        this.#queue[index] = null;
      }
    }
    if (critical) slots.delete(channel);
    else slots.set(channel, this.#queue.length);
  }

  #writeRun(run: SerializedPublication[], cycle: FlushCycle | null): void {
    if (run.length === 1) {
      this.#writePublication(run[0] as SerializedPublication);
    } else {
      // Split very long runs (a large recovery) into several batch frames of bounded size.
      const max = this.#mount.shared.maxBatchBytes;
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < run.length; i++) {
        const size = (run[i] as SerializedPublication).json.length;
        if (i > start && bytes + size > max) {
          this.#writeBatch(run, start, i, cycle);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      this.#writeBatch(run, start, run.length, cycle);
    }
    run.length = 0;
  }

  #writeBatch(run: SerializedPublication[], from: number, to: number, cycle: FlushCycle | null): void {
    if (to - from === 1) {
      this.#writePublication(run[from] as SerializedPublication);
      return;
    }
    const fast = (this.#flags & FAST) !== 0;
    if (cycle !== null) {
      if (fast) this.#socket.write(cycle.batchBytes(run, from, to));
      else this.#ws.send(cycle.batch(run, from, to).text);
      return;
    }
    const text = batchFrame(run.slice(from, to));
    if (fast) this.#socket.write(frameText(text));
    else this.#ws.send(text);
  }

  #writePublication(p: SerializedPublication): void {
    if ((this.#flags & FAST) !== 0) this.#socket.write(framedPublication(p));
    else this.#ws.send(p.frame);
  }

  #writeText(text: string): void {
    if ((this.#flags & FAST) !== 0) this.#socket.write(frameText(text));
    else this.#ws.send(text);
  }

  #slowConsumer(): void {
    this.#mount.shared.onSlowConsumer();
    this.#mount.shared.logger.warn('slow consumer disconnected', {
      clientId: this.#session?.id,
      queuedBytes: this.#queuedBytes,
      socketBufferedBytes: this.#socket.writableLength,
    });
    this.close(CloseCode.SlowConsumer, 'slow consumer');
  }

  #drop(): void {
    this.#flags &= ~CRITICAL;
    this.#queue = NO_ENTRIES;
    this.#queuedBytes = 0;
    this.#queuedPublications = 0;
    this.#stateSlots?.clear();
  }

  #onDrain(): void {
    if ((this.#flags & WAITING_DRAIN) === 0) return;
    this.#flags &= ~WAITING_DRAIN;
    if (this.#queue.length > 0) this.#mount.shared.scheduler.schedule(this);
  }

  /** @internal A message from the client (`binary`: a binary frame, not a text one). */
  receive(data: Buffer | ArrayBuffer | Buffer[], binary = false): void {
    this.pingSentAt = 0;
    if ((this.#flags & CLOSING) !== 0) return;
    if (binary && this.#codec === undefined) {
      // The native protocol is JSON text frames only (docs/protocol.md): a binary frame is an
      // invalid frame — answered with `bad_frame` and counted toward the 4400 close.
      const session = this.#session;
      if (session?.admitFrame()) {
        session.sendError('bad_frame', 'binary frames are not part of the protocol: send JSON text frames');
        session.reportInvalidFrame();
      }
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    try {
      if (this.#codec === undefined) this.#session?.handleText(text);
      else this.#codec.onText(text);
    } catch (error) {
      // Codecs never throw by contract; a bug in one must still not take the process down.
      this.#mount.shared.logger.error('codec failed on a client frame', { error: String(error) });
    }
  }

  /** @internal The socket closed. */
  closed(): void {
    this.#flags |= CLOSING;
    this.#drop();
    this.#session?.close();
    try {
      this.#codec?.onClose?.();
    } catch (error) {
      this.#mount.shared.logger.error('codec failed on close', { error: String(error) });
    }
    this.#mount.shared.onClosed(this);
  }

  /** @internal A socket error (the socket closes by itself afterwards). */
  failed(error: Error): void {
    // ws emits errors for protocol violations (oversize frame → 1009, invalid UTF-8 → 1007) and
    // closes the socket itself; an unhandled 'error' would crash the process.
    this.#mount.shared.logger.debug?.('websocket error', { clientId: this.#session?.id, error: error.message });
  }
}
