/**
 * A publication serialized once per hub process and shared by every subscriber.
 * @module
 */
import type { Publication } from '@taskpulse/protocol';

/**
 * A publication with its JSON, computed once. `frame` is the native `publication` frame; `json`
 * is the bare publication (as carried inside a `batch` frame). Both are built lazily and cached,
 * so a broadcast to N sockets costs one serialization.
 */
export class SerializedPublication {
  /** The publication. */
  readonly pub: Publication;
  /**
   * A slot where a transport binding caches its own encoding of {@link SerializedPublication.frame}
   * (the WebSocket binding keeps the framed bytes here), so that a broadcast to N sockets encodes
   * once. Declared on the class, not added later, so every instance keeps one shape.
   * @internal
   */
  wireBytes: Uint8Array | undefined = undefined;
  #json: string | undefined;
  #frame: string | undefined;

  /** @param pub - the publication; `json` may be passed when the text is already known */
  constructor(pub: Publication, json?: string) {
    this.pub = pub;
    this.#json = json;
  }

  /** The publication as JSON: `{"channel":…,"offset":…,…}`. */
  get json(): string {
    if (this.#json === undefined) this.#json = JSON.stringify(this.pub);
    return this.#json;
  }

  /** The `publication` frame: `{"type":"publication","channel":…}`. */
  get frame(): string {
    if (this.#frame === undefined) this.#frame = `{"type":"publication",${this.json.slice(1)}`;
    return this.#frame;
  }
}

/** Builds a `batch` frame from serialized publications without re-serializing them. */
export function batchFrame(items: readonly SerializedPublication[]): string {
  let out = '{"type":"batch","publications":[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += (items[i] as SerializedPublication).json;
  }
  return `${out}]}`;
}
