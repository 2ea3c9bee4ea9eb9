/**
 * One Socket.IO connection as a hub session transport: `room:join` / `room:leave` become
 * subscriptions, publications are emitted as `socket.emit(event, envelope)`.
 * @module
 */
import type { ChannelKind, ErrorCode, ServerFrame, TaskpulseLogger } from '@taskpulse/protocol';
import { CloseCode, TaskpulseError } from '@taskpulse/protocol';
import type { TestQueueEnvelope } from '@taskpulse/protocol/payloads';
import type { SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';
import { toSeedEnvelope } from './envelope';
import type { SocketIoSocketLike } from './types';

/** Why a room request failed. */
export interface RoomError {
  /** The error code (`too_many_channels`, `forbidden`, `bad_channel`…). */
  code: ErrorCode;
  /** A human-readable reason. */
  message: string;
}

/** What one answer to `room:join` / `room:leave` carries (also the ack payload). */
export interface RoomReply {
  /** Whether it worked. */
  ok: boolean;
  /** The room name as the client wrote it. */
  room: string;
  /** The taskpulse channel (when the room name was valid). */
  channel?: string;
  /** Why it failed. */
  error?: RoomError;
}

type Ack = (reply: RoomReply) => void;

/** Per-user room bookkeeping shared by a user's connections (rooms-per-user limit). @internal */
export interface RoomLedger {
  /** Reserves `room` for the connection's user; returns false at the limit. */
  reserve(room: string): boolean;
  /** Releases one reservation of `room`. */
  release(room: string): void;
}

interface Pending {
  room: string;
  channel: string;
  kind: 'join' | 'leave';
  ack: Ack | undefined;
}

/** Socket.IO events that `socket.emit` refuses (reserved by Socket.IO). */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** The last envelope built, with what it was built from. */
let lastEnvelope:
  | { publication: SerializedPublication; channelToRoom: (channel: string) => string; envelope: TestQueueEnvelope }
  | undefined;

/**
 * A publication's envelope. A fan-out delivers one publication to every socket in a row: it is
 * built once per publication, not once per socket.
 */
function envelopeOf(publication: SerializedPublication, channelToRoom: (channel: string) => string): TestQueueEnvelope {
  const last = lastEnvelope;
  if (last !== undefined && last.publication === publication && last.channelToRoom === channelToRoom) {
    return last.envelope;
  }
  const envelope = toSeedEnvelope(publication.pub, channelToRoom);
  lastEnvelope = { publication, channelToRoom, envelope };
  return envelope;
}

/** @internal A Socket.IO socket bound to a hub session. */
export class SocketIoConnection implements SessionTransport {
  /** Transport name in stats and metrics. */
  readonly name = 'socket.io';
  /** Last time the client sent an event (ms). */
  lastActivityAt = Date.now();
  session: Session | undefined;
  readonly #socket: SocketIoSocketLike;
  readonly #rooms: RoomLedger;
  readonly #roomToChannel: (room: string) => string;
  readonly #channelToRoom: (channel: string) => string;
  readonly #logger: TaskpulseLogger;
  readonly #maxBufferedPackets: number;
  readonly #onSlowConsumer: () => void;
  /** Joined rooms → channels. */
  readonly #joined = new Map<string, string>();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  /** Packets Engine.IO queued since its last flush to the transport. */
  #unflushed = 0;

  constructor(
    socket: SocketIoSocketLike,
    rooms: RoomLedger,
    mapping: { roomToChannel: (room: string) => string; channelToRoom: (channel: string) => string },
    logger: TaskpulseLogger,
    slowConsumer: { maxBufferedPackets: number; onSlowConsumer: () => void } = {
      maxBufferedPackets: Number.POSITIVE_INFINITY,
      onSlowConsumer: () => {},
    },
  ) {
    this.#maxBufferedPackets = slowConsumer.maxBufferedPackets;
    this.#onSlowConsumer = slowConsumer.onSlowConsumer;
    this.#socket = socket;
    socket.conn?.on('packetCreate', () => {
      this.#unflushed++;
    });
    socket.conn?.on('flush', () => {
      this.#unflushed = 0;
    });
    this.#rooms = rooms;
    this.#roomToChannel = mapping.roomToChannel;
    this.#channelToRoom = mapping.channelToRoom;
    this.#logger = logger;
  }

  /** Rooms joined. */
  get rooms(): string[] {
    return [...this.#joined.keys()];
  }

  /** Handles `room:join`. */
  join(room: unknown, ack: Ack | undefined): void {
    const session = this.session;
    if (!session || !this.#admit(session, room, ack)) return;
    if (typeof room !== 'string' || room.length === 0) {
      this.#fail(ack, String(room), 'bad_request', 'room:join expects a room name (a non-empty string)');
      return;
    }
    let channel: string;
    try {
      channel = this.#roomToChannel(room);
    } catch (error) {
      const e = TaskpulseError.from(error, 'bad_channel');
      this.#fail(ack, room, e.code, e.message);
      return;
    }
    // Joining a room twice is not an error in Socket.IO.
    if (this.#joined.has(room)) {
      this.#reply('room:joined', ack, { ok: true, room, channel });
      return;
    }
    for (const p of this.#pending.values()) {
      if (p.room === room && p.kind === 'join') {
        this.#fail(ack, room, 'already_subscribed', `already joining ${room}`);
        return;
      }
    }
    if (!this.#rooms.reserve(room)) {
      this.#fail(ack, room, 'too_many_channels', 'too many rooms for this user');
      return;
    }
    const id = this.#nextId++;
    this.#pending.set(id, { room, channel, kind: 'join', ack });
    void session.subscribe(channel, undefined, id);
  }

  /** Handles `room:leave`. */
  leave(room: unknown, ack: Ack | undefined): void {
    const session = this.session;
    if (!session || !this.#admit(session, room, ack)) return;
    const channel = typeof room === 'string' ? this.#joined.get(room) : undefined;
    if (typeof room !== 'string' || channel === undefined) {
      this.#fail(ack, String(room), 'not_subscribed', `not in room ${String(room)}`);
      return;
    }
    this.#joined.delete(room);
    this.#rooms.release(room);
    const id = this.#nextId++;
    this.#pending.set(id, { room, channel, kind: 'leave', ack });
    session.unsubscribe(channel, id);
  }

  /** {@inheritDoc SessionTransport.deliver} */
  deliver(publication: SerializedPublication, _kind: ChannelKind): void {
    if (this.#closed) return;
    const { pub } = publication;
    if (RESERVED.has(pub.event)) {
      this.#logger.warn('publication not emitted: its event name is reserved by Socket.IO', {
        channel: pub.channel,
        event: pub.event,
      });
      return;
    }
    this.#socket.emit(pub.event, envelopeOf(publication, this.#channelToRoom));
    // Socket.IO buffers without a bound for a client that does not read: cut it instead.
    const buffered = this.#unflushed;
    if (buffered > this.#maxBufferedPackets) {
      this.#onSlowConsumer();
      this.#logger.warn('slow Socket.IO consumer disconnected', {
        clientId: this.session?.id,
        bufferedPackets: buffered,
      });
      this.close(CloseCode.SlowConsumer, 'slow consumer');
    }
  }

  /** {@inheritDoc SessionTransport.sendControl} */
  sendControl(frame: string, value?: ServerFrame): void {
    if (this.#closed) return;
    const v = value ?? (JSON.parse(frame) as ServerFrame);
    const id = 'id' in v && typeof v.id === 'number' ? v.id : undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (pending && id !== undefined) this.#pending.delete(id);
    switch (v.type) {
      case 'subscribed':
        if (!pending) return; // a reset after recovery: Socket.IO clients keep no positions
        this.#joined.set(pending.room, pending.channel);
        this.#reply('room:joined', pending.ack, { ok: true, room: pending.room, channel: pending.channel });
        return;
      case 'unsubscribed':
        if (pending) this.#reply('room:left', pending.ack, { ok: true, room: pending.room, channel: pending.channel });
        return;
      case 'error':
        if (pending) {
          if (pending.kind === 'join') this.#rooms.release(pending.room);
          this.#fail(pending.ack, pending.room, v.code, v.message, pending.channel);
        } else {
          this.#socket.emit('connection:error', { code: v.code, message: v.message });
        }
        return;
      case 'live':
        // Broker down / back: the same news as the native `live` frame.
        this.#socket.emit('connection:live', v);
        return;
      default:
        return;
    }
  }

  /** {@inheritDoc SessionTransport.close} */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#socket.emit('connection:error', {
      code: code === 1001 ? 'shutting_down' : code === CloseCode.SlowConsumer ? 'slow_consumer' : 'closed',
      closeCode: code,
      message: reason,
    });
    this.#socket.disconnect(true);
    this.closed();
  }

  /** Disconnects for inactivity with `idle_timeout`. */
  idle(idleTimeoutMs: number): void {
    if (this.#closed) return;
    this.#socket.emit('connection:error', {
      code: 'idle_timeout',
      message: `no event for ${idleTimeoutMs} ms`,
    });
    this.#socket.disconnect(true);
    this.closed();
  }

  /** The socket disconnected: releases the session and the rooms. Idempotent. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of this.#joined.keys()) this.#rooms.release(room);
    for (const p of this.#pending.values()) if (p.kind === 'join') this.#rooms.release(p.room);
    this.#joined.clear();
    this.#pending.clear();
    this.session?.close();
  }

  /** Marks activity and takes the event from the session's rate budget (over it: `rate_limited`). */
  #admit(session: Session, room: unknown, ack: Ack | undefined): boolean {
    this.lastActivityAt = Date.now();
    if (session.admitFrame()) return true;
    if (ack)
      ack({ ok: false, room: String(room), error: { code: 'rate_limited', message: 'too many events; slow down' } });
    return false;
  }

  #reply(event: string, ack: Ack | undefined, reply: RoomReply): void {
    if (ack) ack(reply);
    else this.#socket.emit(event, reply);
  }

  #fail(ack: Ack | undefined, room: string, code: ErrorCode, message: string, channel?: string): void {
    // Malformed requests count towards the invalid-frame limit (then the connection is closed).
    if (code === 'bad_request' || code === 'bad_channel') this.session?.reportInvalidFrame();
    this.#reply('room:error', ack, {
      ok: false,
      room,
      ...(channel !== undefined ? { channel } : {}),
      error: { code, message },
    });
  }
}
