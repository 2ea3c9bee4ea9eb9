/**
 * The positions a client has once it has read what was written to it — the other half of a
 * session's positions. A subscription's position (see `ChannelSubscription.position`) moves when
 * a publication is handed to the outbound queue (the gap and duplicate logic works on it); the
 * written position moves when the queue actually writes the publication. Transports whose frames
 * carry a resumable cursor (SSE's event id: "every channel position the client has once it has
 * read this event") need the written one: a publication still queued, or conflated away, is not
 * something the client has.
 * @module
 */
import type { ServerFrame, StreamPosition } from '@taskpulse/protocol';
import type { SerializedPublication } from './serialized';

/** Where the written positions read a channel's delivered position (the session). */
export interface DeliveredPositions {
  /** The delivered position of a subscribed channel, undefined when there is none. */
  positionOf(channel: string): StreamPosition | undefined;
}

/**
 * A control frame that moves the written positions when it is written: a `subscribed` frame adds
 * its channel (at the session's delivered position when it was queued: after a recovered
 * subscribe that is the requested position, the missed publications follow), an `unsubscribed`
 * frame removes it. @internal
 */
export class PositionedControl {
  /** The frame's text. */
  readonly text: string;
  /** The channel. */
  readonly channel: string;
  /** The epoch to set, or undefined to remove the channel. */
  readonly epoch: string | undefined;
  /** The offset to set. */
  readonly offset: number;

  /** @internal */
  constructor(text: string, channel: string, epoch: string | undefined, offset: number) {
    this.text = text;
    this.channel = channel;
    this.epoch = epoch;
    this.offset = offset;
  }
}

/** A mutable position (updated in place on every write: no object per publication). */
interface Slot {
  epoch: string;
  offset: number;
}

/**
 * A session's written positions and their cursor, cached until they change. Created by
 * `Session.trackWrittenPositions` and advanced by the session's outbound queue.
 */
export class WrittenPositions {
  readonly #delivered: DeliveredPositions;
  readonly #slots = new Map<string, Slot>();
  /** The cursor of `#slots`; null: to build. */
  #cursor: string | null = null;
  /** The publication that moved the positions last (undefined: a control frame did). */
  #last: SerializedPublication | undefined;

  /** @internal */
  constructor(delivered: DeliveredPositions, seed?: ReadonlyMap<string, StreamPosition>) {
    this.#delivered = delivered;
    if (seed) for (const [channel, p] of seed) this.#slots.set(channel, { epoch: p.epoch, offset: p.offset });
  }

  /**
   * Every written position as a cursor (base64url of `{"channel":[epoch,offset],…}`, the format of
   * `encodePositionsCursor`), or undefined while there is none. Built once per change.
   */
  get cursor(): string | undefined {
    if (this.#cursor !== null) return this.#cursor;
    const size = this.#slots.size;
    if (size === 0) return undefined;
    const last = this.#last;
    if (size === 1 && last !== undefined) {
      // One channel, last moved by a publication: the cursor is the same for every stream that
      // writes this publication (a fan-out writes it to all of them in one flush), built once.
      if (shared.publication !== last) {
        shared.publication = last;
        shared.cursor = encodeSlots(this.#slots);
      }
      this.#cursor = shared.cursor;
    } else this.#cursor = encodeSlots(this.#slots);
    return this.#cursor;
  }

  /** The written positions, as plain objects. */
  toRecord(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const [channel, slot] of this.#slots) out[channel] = { epoch: slot.epoch, offset: slot.offset };
    return out;
  }

  /** A publication was written. */
  wrote(p: SerializedPublication): void {
    const { channel, epoch, offset } = p;
    const slot = this.#slots.get(channel);
    if (slot === undefined) this.#slots.set(channel, { epoch, offset });
    else {
      slot.epoch = epoch;
      slot.offset = offset;
    }
    this.#cursor = null;
    this.#last = p;
  }

  /** A positioned control frame was written. */
  apply(control: PositionedControl): void {
    this.#last = undefined;
    if (control.epoch === undefined) {
      if (this.#slots.delete(control.channel)) this.#cursor = null;
      return;
    }
    const slot = this.#slots.get(control.channel);
    if (slot === undefined) this.#slots.set(control.channel, { epoch: control.epoch, offset: control.offset });
    else {
      slot.epoch = control.epoch;
      slot.offset = control.offset;
    }
    this.#cursor = null;
  }

  /**
   * The queue entry of a control frame: a {@link PositionedControl} for `subscribed` and
   * `unsubscribed`, undefined for the others (queued as plain text).
   */
  controlEntry(text: string, frame: ServerFrame | undefined): PositionedControl | undefined {
    let value = frame;
    if (value === undefined) {
      if (!text.startsWith('{"type":"subscribed"') && !text.startsWith('{"type":"unsubscribed"')) return undefined;
      try {
        value = JSON.parse(text) as ServerFrame;
      } catch {
        return undefined;
      }
    }
    if (value.type === 'unsubscribed') return new PositionedControl(text, value.channel, undefined, 0);
    if (value.type !== 'subscribed') return undefined;
    // The session's position, not the frame's: after a recovered subscribe the frame carries the
    // channel's top while the client is still at the requested position until the missed
    // publications that follow are written.
    const p = this.#delivered.positionOf(value.channel) ?? value;
    return new PositionedControl(text, value.channel, p.epoch, p.offset);
  }
}

/** The single-channel cursor built last, shared by every stream (see `WrittenPositions.cursor`). */
const shared: { publication: SerializedPublication | undefined; cursor: string } = {
  publication: undefined,
  cursor: '',
};

function encodeSlots(slots: ReadonlyMap<string, Slot>): string {
  let json = '{';
  let first = true;
  for (const [channel, slot] of slots) {
    if (!first) json += ',';
    first = false;
    json += `${JSON.stringify(channel)}:[${JSON.stringify(slot.epoch)},${slot.offset}]`;
  }
  return Buffer.from(`${json}}`, 'utf8').toString('base64url');
}
