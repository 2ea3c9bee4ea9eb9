/**
 * HMAC-SHA1 of a live message, in JavaScript, over the bytes Redis delivered.
 *
 * A hub checks the MAC of every live publication once. Through `node:crypto` that took two
 * one-shot digests (OpenSSL's provider lookup, a `Buffer` made in C++ for each result) and the
 * text encoded back to bytes; in the fan-out benchmark's perf profile (`npm run bench -- --perf`),
 * at 200 publications a second with code and data evicted between them, the check was 3.5 % of
 * the hub's samples. This is SHA-1's compression function over the message's own bytes from the
 * precomputed states of the two padded key blocks (the usual HMAC shortcut), with no allocation
 * and no call out of JavaScript: about 1 % of the samples (docs/benchmarks.md, ninth session).
 *
 * Not a general-purpose hash: only what verifying a MAC needs.
 * @module
 * @internal
 */

import { createHash } from 'node:crypto';

/** The state of SHA-1 after the key block: five 32-bit words. */
export type Sha1State = Int32Array;

const BLOCK = 64;
const IV = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];

// Scratch space, reused by every call (the checks never nest).
const w = new Int32Array(80);
const state = new Int32Array(5);
const tail = new Uint8Array(2 * BLOCK);
const innerDigest = new Uint8Array(20);

/** SHA-1's compression function: folds the 64-byte block at `bytes[at…]` into `s`. */
function compress(s: Int32Array, bytes: Uint8Array, at: number): void {
  for (let i = 0, o = at; i < 16; i++, o += 4) {
    w[i] =
      ((bytes[o] as number) << 24) |
      ((bytes[o + 1] as number) << 16) |
      ((bytes[o + 2] as number) << 8) |
      (bytes[o + 3] as number);
  }
  for (let i = 16; i < 80; i++) {
    const x = (w[i - 3] as number) ^ (w[i - 8] as number) ^ (w[i - 14] as number) ^ (w[i - 16] as number);
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  let d = s[3] as number;
  let e = s[4] as number;
  for (let i = 0; i < 80; i++) {
    let f: number;
    let k: number;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const t = (((a << 5) | (a >>> 27)) + f + e + k + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  s[0] = ((s[0] as number) + a) | 0;
  s[1] = ((s[1] as number) + b) | 0;
  s[2] = ((s[2] as number) + c) | 0;
  s[3] = ((s[3] as number) + d) | 0;
  s[4] = ((s[4] as number) + e) | 0;
}

/** The SHA-1 state after one 64-byte block. */
function blockState(block: Uint8Array): Sha1State {
  const s = Int32Array.from(IV);
  compress(s, block, 0);
  return s;
}

/**
 * The states after a key's two padded blocks (key XOR ipad, key XOR opad), what
 * {@link hmacSha1Matches} starts from; a key longer than a block is hashed first, as HMAC does.
 */
export function hmacSha1Key(key: Uint8Array): { inner: Sha1State; outer: Sha1State } {
  const block = key.length > BLOCK ? createHash('sha1').update(key).digest() : key;
  const inner = new Uint8Array(BLOCK).fill(0x36);
  const outer = new Uint8Array(BLOCK).fill(0x5c);
  for (let i = 0; i < block.length; i++) {
    inner[i] = (inner[i] as number) ^ (block[i] as number);
    outer[i] = (outer[i] as number) ^ (block[i] as number);
  }
  return { inner: blockState(inner), outer: blockState(outer) };
}

/**
 * Continues `s` (one block already absorbed) over `bytes[0…length)` and pads: `s` then holds
 * SHA1(block ‖ bytes[0…length)).
 */
function finish(s: Int32Array, bytes: Uint8Array, length: number): void {
  let at = 0;
  for (; at + BLOCK <= length; at += BLOCK) compress(s, bytes, at);
  const rest = length - at;
  const blocks = rest + 9 <= BLOCK ? 1 : 2;
  const end = blocks * BLOCK;
  tail.fill(0, 0, end);
  for (let i = 0; i < rest; i++) tail[i] = bytes[at + i] as number;
  tail[rest] = 0x80;
  // the length in bits, the key block included, as a 64-bit big-endian number
  const bits = (length + BLOCK) * 8;
  const high = Math.floor(bits / 2 ** 32);
  tail[end - 8] = high >>> 24;
  tail[end - 7] = high >>> 16;
  tail[end - 6] = high >>> 8;
  tail[end - 5] = high;
  tail[end - 4] = bits >>> 24;
  tail[end - 3] = bits >>> 16;
  tail[end - 2] = bits >>> 8;
  tail[end - 1] = bits;
  compress(s, tail, 0);
  if (blocks === 2) compress(s, tail, BLOCK);
}

/** The value of a hex digit's byte (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Whether the 40 hex digits at `bytes[macAt…macAt+40)` are HMAC-SHA1 of `bytes[0…length)` under the
 * key whose padded blocks gave `inner` and `outer` ({@link hmacSha1Key}). The digest is compared
 * in full whatever differs (no early exit); a byte that is not a hex digit refuses at once (it
 * says nothing about the expected MAC).
 */
export function hmacSha1Matches(
  inner: Sha1State,
  outer: Sha1State,
  bytes: Uint8Array,
  length: number,
  macAt: number,
): boolean {
  if (length < 0 || length > bytes.length || macAt < 0 || macAt + 40 > bytes.length) return false;
  state.set(inner);
  finish(state, bytes, length);
  for (let i = 0; i < 5; i++) {
    const word = state[i] as number;
    innerDigest[4 * i] = word >>> 24;
    innerDigest[4 * i + 1] = word >>> 16;
    innerDigest[4 * i + 2] = word >>> 8;
    innerDigest[4 * i + 3] = word;
  }
  state.set(outer);
  finish(state, innerDigest, 20);
  let diff = 0;
  for (let i = 0; i < 5; i++) {
    let given = 0;
    for (let j = 0; j < 8; j++) {
      const v = hexValue(bytes[macAt + 8 * i + j] as number);
      if (v < 0) return false;
      given = (given << 4) | v;
    }
    diff |= given ^ (state[i] as number);
  }
  return diff === 0;
}
