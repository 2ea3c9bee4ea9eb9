/**
 * A publication serialized once per hub process and shared by every subscriber.
 * @module
 */
import type { Publication, PublicationMessage } from '@taskpulse/protocol';

/** The start of a `publication` frame; the publication's text follows without its `{`. */
export const FRAME_OPEN = '{"type":"publication",';

/**
 * A publication with its JSON, shared by every subscriber of a hub process. Built from a broker
 * message, `json` is the text the publisher wrote (passed through, never re-serialized) and `pub`
 * is parsed only when something asks for it (a dialect or encoder that needs `data`); the routing
 * fields (`channel`, `epoch`, `offset`, `priority`) cost nothing. `frame` is the native
 * `publication` frame, derived from `json` by a string splice. Both are built once and cached, so
 * a broadcast to N sockets costs at most one serialization.
 */
export class SerializedPublication {
  /** The channel. */
  readonly channel: string;
  /** The publication's epoch. */
  readonly epoch: string;
  /** The publication's offset. */
  readonly offset: number;
  /** The priority 1–4, or undefined. */
  readonly priority: number | undefined;
  /**
   * A slot where a transport binding caches its own encoding of {@link SerializedPublication.frame}
   * (the WebSocket binding keeps the framed bytes here), so that a broadcast to N sockets encodes
   * once. Declared on the class, not added later, so every instance keeps one shape.
   * @internal
   */
  wireBytes: Uint8Array | undefined = undefined;
  #pub: Publication | undefined;
  #message: PublicationMessage | undefined;
  #json: string | undefined;
  #frame: string | undefined;
  #jsonBytes = -1;

  /**
   * @param source - a broker message (its text becomes `json`), or a publication object
   * @param json - with a publication object: its JSON text when already known
   */
  constructor(source: Publication | PublicationMessage, json?: string) {
    this.channel = source.channel;
    this.epoch = source.epoch;
    this.offset = source.offset;
    this.priority = source.priority;
    if (isMessage(source)) {
      this.#message = source;
      this.#json = source.text;
    } else {
      this.#pub = source;
      this.#json = json;
    }
  }

  /**
   * The publication, parsed from the message text on first use (then cached).
   * @throws TaskpulseError `bad_frame` when the text is not a publication (only for text that
   * bypassed the broker's checks)
   */
  get pub(): Publication {
    if (this.#pub === undefined) this.#pub = (this.#message as PublicationMessage).publication();
    return this.#pub;
  }

  /** The publication as JSON: `{"channel":…,"offset":…,…}`. */
  get json(): string {
    if (this.#json === undefined) this.#json = JSON.stringify(this.#pub);
    return this.#json;
  }

  /** The `publication` frame: `{"type":"publication","channel":…}`. */
  get frame(): string {
    if (this.#frame === undefined) this.#frame = `${FRAME_OPEN}${this.json.slice(1)}`;
    return this.#frame;
  }

  /**
   * The UTF-8 size of {@link SerializedPublication.frame} in bytes, shared by every connection
   * that queues it (the outbound queue's byte accounting): the text's size plus the ASCII
   * `"type"` member, without building the frame (a batched publication never needs it).
   */
  get frameBytes(): number {
    return this.jsonBytes + FRAME_OPEN.length - 1;
  }

  /**
   * The UTF-8 size of {@link SerializedPublication.json} in bytes, computed once (a framed
   * `batch` is written piece by piece from the publications' texts, see `frameBatch`).
   * @internal
   */
  get jsonBytes(): number {
    if (this.#jsonBytes < 0) this.#jsonBytes = Buffer.byteLength(this.json);
    return this.#jsonBytes;
  }
}

function isMessage(source: Publication | PublicationMessage): source is PublicationMessage {
  return (
    typeof (source as PublicationMessage).text === 'string' &&
    typeof (source as { publication?: unknown }).publication === 'function'
  );
}

/** The start of a `batch` frame (the publications' texts follow, separated by commas, then `]}`). */
export const BATCH_OPEN = '{"type":"batch","publications":[';

/** Builds a `batch` frame from serialized publications without re-serializing them. */
export function batchFrame(items: readonly SerializedPublication[]): string {
  let out = BATCH_OPEN;
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += (items[i] as SerializedPublication).json;
  }
  return `${out}]}`;
}
