/**
 * The published payload and how a client finds it in whatever frame carries it.
 *
 * Clock: `process.hrtime` reads CLOCK_MONOTONIC, which is one clock for every process on the
 * machine, so the publisher's timestamp and the client's receive time are directly comparable
 * (no per-process `timeOrigin` skew).
 */

/** Microseconds on the machine-wide monotonic clock. */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1_000_000 + Math.floor(ns / 1000);
}

/** The key that carries the publisher's timestamp; the only place this byte sequence occurs in a frame. */
export const TIMESTAMP_KEY = 'bt';
const MARKER = Buffer.from(`"${TIMESTAMP_KEY}":`);
const MARKER_TEXT = `"${TIMESTAMP_KEY}":`;

/** The benchmark's published object (~200 bytes as JSON), shaped like a task-progress update. */
export interface BenchPayload {
  /** Publisher's clock at publish time, µs ({@link nowUs}). */
  bt: number;
  /** Sequence number within one publisher run. */
  seq: number;
  task: string;
  status: string;
  progress: number;
  message: string;
}

const MESSAGE = 'processing batch of rows; writing results to the warehouse staging table';

/** Builds a payload stamped with the current time. */
export function makePayload(seq: number): BenchPayload {
  return {
    bt: nowUs(),
    seq,
    task: `task-${(seq % 100_000).toString().padStart(5, '0')}`,
    status: 'running',
    progress: seq % 100,
    message: MESSAGE,
  };
}

/**
 * Calls `onTimestamp` for every payload timestamp found in `frame` (one for a single publication,
 * several for a batch frame) and returns how many were found. Works on raw bytes: no UTF-8 decode,
 * no JSON.parse, so the load generator spends as little as possible per delivery, equally for
 * every server.
 */
export function scanTimestamps(frame: Buffer, onTimestamp: (us: number) => void): number {
  let count = 0;
  let at = frame.indexOf(MARKER);
  while (at !== -1) {
    let i = at + MARKER.length;
    let value = 0;
    for (; i < frame.length; i++) {
      const c = frame[i] as number;
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
    }
    onTimestamp(value);
    count++;
    at = frame.indexOf(MARKER, i);
  }
  return count;
}

/** {@link scanTimestamps} over a frame's (latin1) text. */
export function scanTimestampsText(frame: string, onTimestamp: (us: number) => void): number {
  let count = 0;
  let at = frame.indexOf(MARKER_TEXT);
  while (at !== -1) {
    let i = at + MARKER_TEXT.length;
    let value = 0;
    for (; i < frame.length; i++) {
      const c = frame.charCodeAt(i);
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
    }
    onTimestamp(value);
    count++;
    at = frame.indexOf(MARKER_TEXT, i);
  }
  return count;
}
