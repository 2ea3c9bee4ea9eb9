/**
 * One WebSocket connection: the {@link SessionTransport} of a session and the
 * {@link OutboundSink} of its core {@link OutboundQueue} (which does the queueing, conflation,
 * batching, priority and slow-consumer cuts), plus the heartbeat state.
 * @module
 */
import { type ChannelKind, CloseCode, type ServerFrame, type TaskpulseLogger } from '@taskpulse/protocol';
import { WebSocket } from 'ws';
import type { DeliverySink } from '../core/channel-subscription';
import type { CodecConnection } from '../core/codec';
import { OutboundQueue, type OutboundSettings, type OutboundSink } from '../core/outbound-queue';
import type { SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';
import { framedEncoder, textEncoder } from './frame';
import { firstPingDelay } from './heartbeat';

/** An empty protocol ping as a server writes it (FIN + opcode 9, unmasked, no payload). */
const PING_FRAME = Buffer.from([0x89, 0x00]);

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

const OPEN = 1;

/** What the connections of one mounted codec share. */
export interface WsMountState {
  /** Transport name (the codec's name) for stats and metrics. */
  readonly name: string;
  /**
   * The native codec: the connection drives the session itself (no codec object per connection,
   * no codec call per delivery).
   */
  readonly native: boolean;
  /** What the outbound queues of this mount share (scheduler, delivery counter, limits). */
  readonly outbound: OutboundSettings;
  /** What every connection of the binding shares. */
  readonly shared: WsConnectionShared;
}

/** What every connection of one binding shares. */
export interface WsConnectionShared {
  readonly logger: TaskpulseLogger;
  /** The connection ended (socket closed). */
  onClosed(connection: WsConnection): void;
}

/**
 * A WebSocket connection as a session transport: deliveries and control frames go to the core's
 * outbound queue; the connection is its sink (the raw socket on the fast path, `ws.send` when an
 * extension transforms frames).
 */
export class WsConnection implements SessionTransport, OutboundSink {
  /** When to send the next protocol ping (ms). */
  nextPingAt: number;
  /** When the unanswered protocol ping was sent (ms), 0 when none is outstanding. */
  pingSentAt = 0;
  /** @internal The heartbeat wheel's slot holding this connection, -1 when in none. */
  heartbeatSlot = -1;
  readonly #ws: WebSocket;
  readonly #socket: RawSocket;
  readonly #mount: WsMountState;
  readonly #queue: OutboundQueue;
  /** Pre-framed writes straight to the socket (no extension transforms frames). */
  readonly #fast: boolean;
  #session: Session | undefined;
  /** The codec's side of the connection; undefined for the native codec. */
  #codec: CodecConnection | undefined;

  /**
   * @param ws - the upgraded socket
   * @param mount - what the connections of this codec share
   * @param heartbeatIntervalMs - protocol ping interval (the first ping comes after half to all
   * of it, at random, so that connections opened together are not pinged together)
   */
  constructor(ws: WebSocket, mount: WsMountState, heartbeatIntervalMs: number) {
    this.#ws = ws;
    this.#mount = mount;
    this.nextPingAt = Date.now() + firstPingDelay(heartbeatIntervalMs);
    this.#socket = (ws as unknown as { _socket: RawSocket })._socket;
    // Pre-framed writes bypass ws's Sender; they are only safe when no extension transforms
    // frames (per-message deflate queues compressed frames inside the Sender).
    this.#fast = ws.extensions === '' && typeof this.#socket?.cork === 'function';
    this.#queue = new OutboundQueue(this, this.#fast ? framedEncoder : textEncoder, mount.outbound);
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
    return this.#queue.closing;
  }

  /** Bytes queued by the hub for this connection. */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
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
    this.#queue.batchable = codec === undefined || codec.batchable;
    const greeting = codec === undefined ? session.welcomeFrame() : codec.greeting();
    if (greeting !== null) this.#queue.control(greeting);
  }

  /** {@inheritDoc SessionTransport.deliverySink} */
  get deliverySink(): DeliverySink | undefined {
    // the native codec queues every publication as it is (see deliver)
    return this.#codec === undefined ? this.#queue : undefined;
  }

  /** {@inheritDoc SessionTransport.deliver} */
  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    const codec = this.#codec;
    if (codec === undefined) {
      this.#queue.publication(publication, kind);
      return;
    }
    if (this.#queue.closing) return;
    let text: string | null;
    try {
      text = codec.encodePublication(publication, kind);
    } catch (error) {
      // A throwing codec must not take recovery or the connection down; the publication is
      // dropped for this client (its position already advanced) and the failure is logged.
      this.#mount.shared.logger.error('codec failed to encode a publication', {
        channel: publication.channel,
        offset: publication.offset,
        error: String(error),
      });
      return;
    }
    // Batchable codecs that send native frames keep the shared object (the queue sees the text is
    // the native frame), so the frame bytes and the batch frame are built once, not per socket.
    if (text !== null) this.#queue.publication(publication, kind, text);
  }

  /** {@inheritDoc SessionTransport.sendControl} */
  sendControl(frame: string, value?: ServerFrame): void {
    const codec = this.#codec;
    if (codec === undefined) {
      this.#queue.control(frame);
      return;
    }
    if (this.#queue.closing) return;
    let text: string | null;
    try {
      text = codec.encodeControl(value ?? (JSON.parse(frame) as ServerFrame), frame);
    } catch (error) {
      this.#mount.shared.logger.error('codec failed to encode a control frame', { error: String(error) });
      return;
    }
    if (text !== null) this.#queue.control(text);
  }

  /** {@inheritDoc SessionTransport.close} */
  close(code: number, reason: string): void {
    if (this.#queue.closing) return;
    // Write what is pending first (the error frame that explains the close must arrive), except
    // for a slow consumer: its backlog is what is being given up.
    const slow = code === CloseCode.SlowConsumer;
    if (slow) {
      this.#mount.shared.logger.warn('slow consumer disconnected', {
        clientId: this.#session?.id,
        socketBufferedBytes: this.#socket.writableLength,
      });
    }
    this.#queue.end(!slow);
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
    this.#queue.end(false);
    if (code !== undefined && this.#ws.readyState === OPEN) {
      try {
        this.#ws.close(code, reason);
      } catch {
        // the socket is going away anyway
      }
    }
    this.#ws.terminate();
  }

  /** @internal {@inheritDoc OutboundSink.write} */
  write(chunk: string | Uint8Array): void {
    if (this.#fast) this.#socket.write(chunk);
    else this.#ws.send(chunk);
  }

  /** @internal {@inheritDoc OutboundSink.needsDrain} */
  get needsDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  /** @internal {@inheritDoc OutboundSink.onDrain} */
  onDrain(callback: () => void): void {
    this.#socket.once('drain', callback);
  }

  /** @internal {@inheritDoc OutboundSink.bufferedBytes} */
  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** @internal {@inheritDoc OutboundSink.writable} */
  get writable(): boolean {
    return this.#ws.readyState === OPEN;
  }

  /** @internal {@inheritDoc OutboundSink.cork} */
  cork(): void {
    this.#socket.cork();
  }

  /** @internal {@inheritDoc OutboundSink.uncork} */
  uncork(): void {
    this.#socket.uncork();
  }

  /** Sends a protocol ping. */
  ping(now: number, heartbeatIntervalMs: number): void {
    this.pingSentAt = now;
    this.nextPingAt = now + heartbeatIntervalMs;
    // not open any more: the close handler cleans up
    if (this.#ws.readyState !== OPEN) return;
    // On the fast path the 2-byte frame goes straight to the socket (ws's ping builds the frame
    // and writes a header and an empty payload), like the publications beside it.
    if (this.#fast) this.#socket.write(PING_FRAME);
    else this.#ws.ping();
  }

  /** @internal A message from the client (`binary`: a binary frame, not a text one). */
  receive(data: Buffer | ArrayBuffer | Buffer[], binary = false): void {
    this.pingSentAt = 0;
    if (this.#queue.closing) return;
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
    this.#queue.end(false);
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
