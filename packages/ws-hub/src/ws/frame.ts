/**
 * WebSocket framing done once per payload instead of once per socket.
 *
 * `ws` frames every `send()` separately: a header buffer per call and, for string data, a UTF-8
 * encoding per socket. A broadcast of one publication to N sockets would pay that N times. The
 * binding frames the native frame once (server frames are never masked, so the bytes are the
 * same for every recipient) and writes the same buffer to every socket.
 * @module
 */
import type { OutboundEncoder } from '../core/outbound-queue';
import type { OutboundBatch } from '../core/outbound-scheduler';
import { BATCH_OPEN, batchFrame, FRAME_OPEN, type SerializedPublication } from '../core/serialized';

const FIN_TEXT = 0x81;

function headerLength(payloadBytes: number): number {
  return payloadBytes < 126 ? 2 : payloadBytes < 65_536 ? 4 : 10;
}

function writeHeader(out: Buffer, payloadBytes: number): void {
  out[0] = FIN_TEXT;
  if (payloadBytes < 126) {
    out[1] = payloadBytes;
  } else if (payloadBytes < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(payloadBytes, 2);
  } else {
    out[1] = 127;
    // 64-bit length: the high 32 bits stay 0 (no frame reaches 4 GiB).
    out.writeUInt32BE(Math.floor(payloadBytes / 2 ** 32), 2);
    out.writeUInt32BE(payloadBytes >>> 0, 6);
  }
}

/** Frames `text` as one unmasked, final WebSocket text frame: header and UTF-8 payload in one buffer. */
export function frameText(text: string): Buffer {
  const payloadBytes = Buffer.byteLength(text, 'utf8');
  const header = headerLength(payloadBytes);
  const out = Buffer.allocUnsafe(header + payloadBytes);
  writeHeader(out, payloadBytes);
  out.write(text, header, 'utf8');
  return out;
}

/**
 * The framed bytes of a publication's native `publication` frame, computed once per publication,
 * straight from the publication's text: the frame is `{"type":"publication",` followed by the text
 * without its `{`, so the text is encoded one byte early and the frame's opening written over its
 * `{`. Building the frame's string first made a rope that encoding had to flatten: two strings
 * and a copy of the text per publication.
 */
export function framedPublication(p: SerializedPublication): Uint8Array {
  let bytes = p.wireBytes;
  if (bytes === undefined) {
    const payloadBytes = p.frameBytes;
    const header = headerLength(payloadBytes);
    const out = Buffer.allocUnsafe(header + payloadBytes);
    writeHeader(out, payloadBytes);
    const textAt = header + FRAME_OPEN.length - 1;
    const written = out.write(p.json, textAt, 'utf8');
    out.write(FRAME_OPEN, header, 'latin1');
    // Sizes and writes agree for any JavaScript string; should they ever not, the plain way.
    bytes = textAt + written === out.length ? out : frameText(p.frame);
    p.wireBytes = bytes;
  }
  return bytes;
}

/**
 * Frames a `batch` of publications straight from their texts: the payload's size is the sum of
 * theirs (each computed once per publication), and each text is encoded into the frame in place.
 * Joining a recovery's 1,000 texts into one string first and encoding that cost about ten times
 * as much (flattening a 300 KB rope, then encoding it).
 */
export function frameBatch(items: readonly SerializedPublication[]): Buffer {
  let payloadBytes = BATCH_OPEN.length + items.length + 1; // the commas, `]` and `}`
  for (let i = 0; i < items.length; i++) payloadBytes += (items[i] as SerializedPublication).jsonBytes;
  const header = headerLength(payloadBytes);
  const out = Buffer.allocUnsafe(header + payloadBytes);
  writeHeader(out, payloadBytes);
  let at = header + out.write(BATCH_OPEN, header, 'latin1');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    at += out.write((items[i] as SerializedPublication).json, at, 'utf8');
  }
  out[at++] = 0x5d; // ]
  out[at++] = 0x7d; // }
  // Sizes and writes agree for any JavaScript string (both count a lone surrogate as U+FFFD);
  // should they ever not, the frame is built the plain way.
  return at === out.length ? out : frameText(batchFrame(items));
}

/**
 * The WebSocket encoder of the fast path: every entry as one pre-framed text frame, written raw to
 * the socket. Publication and batch bytes are built once and shared by every socket.
 */
export const framedEncoder: OutboundEncoder = {
  control: (text) => frameText(text),
  publication: (p) => framedPublication(p),
  batch: (batch: OutboundBatch) => {
    let bytes = batch.wire;
    if (bytes === undefined) {
      bytes = frameBatch(batch.items);
      batch.wire = bytes;
    }
    return bytes;
  },
};

/**
 * The WebSocket encoder when an extension transforms frames (per-message deflate): entries stay
 * text and the connection hands them to `ws`, which frames (and compresses) them per socket.
 */
export const textEncoder: OutboundEncoder = {
  control: (text) => text,
  publication: (p) => p.frame,
  batch: (batch: OutboundBatch) => batch.text,
};
