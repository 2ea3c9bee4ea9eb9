/**
 * One WebSocket connection: the {@link SessionTransport} of a session, with the outbound queue
 * (coalescing, batching, conflation, backpressure) and the heartbeat state.
 * @module
 */
import { type ChannelKind, CloseCode, type ServerFrame } from '@taskpulse/protocol';
import { WebSocket } from 'ws';
import type { CodecConnection } from '../core/codec';
import type { HubLogger } from '../core/options';
import { batchFrame, type SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';
import { framedPublication, frameText } from './frame';
import type { DeliveryCounter, FlushCycle, OutboundScheduler } from './outbound-scheduler';

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
 * The server-side socket class: a `ws` WebSocket with an in-object slot for its connection, so
 * that one shared listener per event finds the connection through the emitter (`this`) instead
 * of five closures per connection — idle memory per connection matters at 10k connections.
 */
export class HubWebSocket extends WebSocket {
  /** The connection this socket carries. */
  connection: WsConnection | undefined = undefined;
}

const connectionOf = (ws: WebSocket): WsConnection => (ws as HubWebSocket).connection as WsConnection;

function onSocketMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[]): void {
  connectionOf(this).receive(data);
}
function onSocketPong(this: WebSocket): void {
  connectionOf(this).pingSentAt = 0;
}
function onSocketClose(this: WebSocket): void {
  connectionOf(this).closed();
}
function onSocketError(this: WebSocket, error: Error): void {
  connectionOf(this).failed(error);
}

/** A publication whose frame is the native one (batchable), an encoded string, or a conflated hole. */
type Entry = SerializedPublication | string | null;

const OPEN = 1;

/** What every connection of one binding shares. */
export interface WsConnectionShared {
  readonly scheduler: OutboundScheduler;
  readonly logger: HubLogger;
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
  /** Transport name (the codec's name). */
  readonly name: string;
  /** Whether the scheduler holds this connection in its dirty list. */
  dirty = false;
  /** When to send the next protocol ping (ms). */
  nextPingAt: number;
  /** When the unanswered protocol ping was sent (ms), 0 when none is outstanding. */
  pingSentAt = 0;
  readonly #ws: WebSocket;
  readonly #socket: RawSocket;
  /** Whether frames are written pre-framed straight to the socket (no per-message compression). */
  readonly #fast: boolean;
  readonly #shared: WsConnectionShared;
  readonly #counter: DeliveryCounter;
  #session: Session | undefined;
  #codec: CodecConnection | undefined;
  #batchable = false;
  #queue: Entry[] = NO_ENTRIES;
  #queuedBytes = 0;
  #queuedPublications = 0;
  /** Index in the queue of the pending publication of each state channel (for conflation). */
  #stateSlots: Map<string, number> | undefined;
  #waitingDrain = false;
  #closing = false;

  /**
   * @param ws - the upgraded socket
   * @param name - transport name for stats and metrics
   * @param shared - what all connections of the binding share
   * @param counter - the delivery counter of this transport
   * @param heartbeatIntervalMs - protocol ping interval
   */
  constructor(
    ws: WebSocket,
    name: string,
    shared: WsConnectionShared,
    counter: DeliveryCounter,
    heartbeatIntervalMs: number,
  ) {
    this.#ws = ws;
    this.name = name;
    this.#shared = shared;
    this.#counter = counter;
    this.nextPingAt = Date.now() + heartbeatIntervalMs;
    this.#socket = (ws as unknown as { _socket: RawSocket })._socket;
    // Pre-framed writes bypass ws's Sender; they are only safe when no extension transforms
    // frames (per-message deflate queues compressed frames inside the Sender).
    this.#fast = ws.extensions === '' && typeof this.#socket?.cork === 'function';
    (ws as HubWebSocket).connection = this;
    ws.on('message', onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('close', onSocketClose);
    ws.on('error', onSocketError);
  }

  /** The session (set right after the connection opens). */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Whether the connection is closing or closed. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Bytes queued by the hub for this connection. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes buffered in the socket (written by the hub, not yet taken by the kernel). */
  get socketBufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Binds the session and its codec connection; sends the codec's greeting. */
  attach(session: Session, codec: CodecConnection): void {
    this.#session = session;
    this.#codec = codec;
    this.#batchable = codec.batchable;
    const greeting = codec.greeting();
    if (greeting !== null) this.#enqueue(greeting);
  }

  /** {@inheritDoc SessionTransport.deliver} */
  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    if (this.#closing) return;
    const text = (this.#codec as CodecConnection).encodePublication(publication, kind);
    if (text === null) return;
    // Batchable codecs send native frames: keep the shared object so the frame bytes (and the
    // batch frame) are built once per publication, not once per socket.
    const entry: SerializedPublication | string = this.#batchable && text === publication.frame ? publication : text;
    if (kind === 'state') this.#conflate(publication.pub.channel);
    this.#queuedPublications++;
    this.#enqueue(entry);
  }

  /** {@inheritDoc SessionTransport.sendControl} */
  sendControl(frame: string, value?: ServerFrame): void {
    if (this.#closing) return;
    const codec = this.#codec as CodecConnection;
    let text: string | null;
    try {
      text = codec.encodeControl(value ?? (JSON.parse(frame) as ServerFrame), frame);
    } catch (error) {
      this.#shared.logger.error('codec failed to encode a control frame', { error: String(error) });
      return;
    }
    if (text !== null) this.#enqueue(text);
  }

  /** {@inheritDoc SessionTransport.close} */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    if (code === CloseCode.SlowConsumer) {
      this.#drop();
      this.#closing = true;
    } else {
      // Write what is pending first: the error frame that explains the close must arrive.
      this.#closing = true;
      this.flush(null);
    }
    try {
      this.#ws.close(code, reason.slice(0, 120));
    } catch {
      this.#ws.terminate();
    }
    this.#session?.close();
  }

  /** Cuts the connection without a closing handshake (dead peer). */
  terminate(): void {
    this.#closing = true;
    this.#drop();
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
    const queue = this.#queue;
    if (queue.length === 0) return;
    if (this.#ws.readyState !== OPEN) {
      this.#drop();
      return;
    }
    const socket = this.#socket;
    if (socket.writableNeedDrain && !this.#closing) {
      if (!this.#waitingDrain) {
        this.#waitingDrain = true;
        // Listened to only while backed up, so idle connections carry no drain listener.
        socket.once('drain', () => this.#onDrain());
      }
      this.#shared.onBackpressure(this.#queuedBytes + socket.writableLength);
      return;
    }
    this.#queue = NO_ENTRIES;
    this.#queuedBytes = 0;
    this.#stateSlots?.clear();
    this.#counter.pending += this.#queuedPublications;
    this.#queuedPublications = 0;
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
    if (this.#queue === NO_ENTRIES) this.#queue = [];
    this.#queue.push(entry);
    this.#queuedBytes += entrySize(entry);
    if (this.#waitingDrain) {
      // The socket is backed up: nothing is written until it drains, so the backlog only grows.
      const held = this.#queuedBytes + this.#socket.writableLength;
      this.#shared.onBackpressure(held);
      if (held > this.#shared.maxBufferedBytes) this.#slowConsumer();
      return;
    }
    this.#shared.scheduler.schedule(this);
  }

  /** Drops the pending publication of a state channel: only the newest value matters. */
  #conflate(channel: string): void {
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
    slots.set(channel, this.#queue.length);
  }

  #writeRun(run: SerializedPublication[], cycle: FlushCycle | null): void {
    if (run.length === 1) {
      this.#writePublication(run[0] as SerializedPublication);
    } else {
      // Split very long runs (a large recovery) into several batch frames of bounded size.
      const max = this.#shared.maxBatchBytes;
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
    if (cycle !== null) {
      if (this.#fast) this.#socket.write(cycle.batchBytes(run, from, to));
      else this.#ws.send(cycle.batch(run, from, to).text);
      return;
    }
    const text = batchFrame(run.slice(from, to));
    if (this.#fast) this.#socket.write(frameText(text));
    else this.#ws.send(text);
  }

  #writePublication(p: SerializedPublication): void {
    if (this.#fast) this.#socket.write(framedPublication(p));
    else this.#ws.send(p.frame);
  }

  #writeText(text: string): void {
    if (this.#fast) this.#socket.write(frameText(text));
    else this.#ws.send(text);
  }

  #slowConsumer(): void {
    this.#shared.onSlowConsumer();
    this.#shared.logger.warn('slow consumer disconnected', {
      clientId: this.#session?.id,
      queuedBytes: this.#queuedBytes,
      socketBufferedBytes: this.#socket.writableLength,
    });
    this.close(CloseCode.SlowConsumer, 'slow consumer');
  }

  #drop(): void {
    this.#queue = NO_ENTRIES;
    this.#queuedBytes = 0;
    this.#queuedPublications = 0;
    this.#stateSlots?.clear();
  }

  #onDrain(): void {
    if (!this.#waitingDrain) return;
    this.#waitingDrain = false;
    if (this.#queue.length > 0) this.#shared.scheduler.schedule(this);
  }

  /** @internal A message from the client. */
  receive(data: Buffer | ArrayBuffer | Buffer[]): void {
    this.pingSentAt = 0;
    if (this.#closing) return;
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    try {
      (this.#codec as CodecConnection).onText(text);
    } catch (error) {
      // Codecs never throw by contract; a bug in one must still not take the process down.
      this.#shared.logger.error('codec failed on a client frame', { error: String(error) });
    }
  }

  /** @internal The socket closed. */
  closed(): void {
    this.#closing = true;
    this.#drop();
    this.#session?.close();
    try {
      this.#codec?.onClose?.();
    } catch (error) {
      this.#shared.logger.error('codec failed on close', { error: String(error) });
    }
    this.#shared.onClosed(this);
  }

  /** @internal A socket error (the socket closes by itself afterwards). */
  failed(error: Error): void {
    // ws emits errors for protocol violations (oversize frame → 1009, invalid UTF-8 → 1007) and
    // closes the socket itself; an unhandled 'error' would crash the process.
    this.#shared.logger.debug?.('websocket error', { clientId: this.#session?.id, error: error.message });
  }
}
