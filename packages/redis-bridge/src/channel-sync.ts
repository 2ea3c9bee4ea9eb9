/**
 * Ordered, gap-free delivery for one subscribed channel: live publications pass straight through
 * while they follow the last delivered position; a jump, an unknown epoch or a reconnect starts a
 * synchronization from history (live ones are buffered meanwhile), and a position history cannot
 * serve any more becomes a reset.
 * @module
 */
import {
  continuesGeneration,
  type Publication,
  type PublicationMessage,
  type ResetEvent,
  type StreamPosition,
} from '@taskpulse/protocol';
import type { RawEntry, RawRead, ReadRequest } from './history-reader';
import { hmacSha1Key, hmacSha1Matches, type Sha1State } from './hmac-sha1';

/** What a channel synchronizer needs from its subscriber. @internal */
export interface ChannelSyncDeps {
  channel: string;
  read(request: ReadRequest): Promise<RawRead>;
  /** Delivers a publication (its text and header; parsed only if a handler needs the object). */
  deliver(message: PublicationMessage): void;
  /** The parsed publication of a stored entry (for a reset's `latest`), or null. */
  latest(entry: RawEntry | null): Publication | null;
  reset(event: ResetEvent): void;
  /** A live publication that cannot be genuine (ahead of the channel, stale epoch) or an invalid stored entry. */
  invalid(reason: string): void;
  /** A background synchronization failed (it is retried). */
  failed(error: unknown): void;
  duplicate(): void;
  recovered(count: number): void;
  /**
   * Whether a live message with a valid MAC counts as verified (else every message is read back).
   * @default true
   */
  acceptMac?: boolean;
  /** A live message delivered on the strength of its MAC (without a read-back). */
  macVerified?(): void;
  batchSize: number;
  retryDelayMs: number;
  maxBuffered: number;
  /**
   * Verify live messages against the stored history before delivering them (a forged pub/sub
   * message is never delivered); false trusts pub/sub messages that follow the position.
   */
  verify: boolean;
  /**
   * Resolves true once every pub/sub message published before the call has been received, on a
   * connection that has not reconnected since this channel subscribed (so no genuine message of
   * the channel was missed); false when that cannot be known (Redis Cluster, a reconnect). Lets a
   * verified channel deliver live publications that history trimmed before they were read back.
   */
  barrier?: () => Promise<boolean>;
}

/** The synchronizer of one channel. @internal */
export interface ChannelSync {
  /** Resolves once the channel's starting position is known (the first read). */
  start(): Promise<void>;
  /**
   * Whether the MAC a pub/sub message carried (40 hex digits at `bytes[macAt…]`) proves that the
   * publish script sent the text `bytes[0…length)` (the message without its MAC): the channel is
   * verified, MACs are accepted and the channel's key is known and checks. Such a text is also one
   * the script checked in full (`lua/publish.lua` attaches a MAC only then). Never throws.
   */
  authentic(bytes: Uint8Array, length: number, macAt: number): boolean;
  /**
   * A live publication for this channel (its header checked on arrival); `authentic` when its
   * MAC checked ({@link ChannelSync.authentic}): it is then delivered without a read-back.
   * Never throws.
   */
  receive(message: PublicationMessage, authentic?: boolean): void;
  /** Reads history since the last delivered position (after a reconnect); resolves when caught up. */
  resync(): Promise<void>;
  position(): StreamPosition | null;
  close(): void;
}

interface Buffered {
  /** The message; its text is compared with the stored publication of the same offset. */
  message: PublicationMessage;
  /** Receipt sequence, compared with the sequence at the time a read was sent. */
  seq: number;
  /** Its MAC checked under the channel's key: genuine, delivered without a read-back. */
  verified: boolean;
}

/**
 * A channel's MAC key as `lua/publish.lua` stores it (40 hex characters), with the two HMAC-SHA1
 * key blocks worked out once. @internal
 */
export interface MacKey {
  hex: string;
  /** SHA-1's state after the block key XOR ipad */
  inner: Sha1State;
  /** SHA-1's state after the block key XOR opad */
  outer: Sha1State;
}

/** The {@link MacKey} of a key in hex. @internal */
export function macKeyOf(hex: string): MacKey {
  return { hex, ...hmacSha1Key(Buffer.from(hex, 'hex')) };
}

/**
 * Whether the 40 hex digits at `bytes[macAt…]` are HMAC-SHA1(key, bytes[0…length)), the MAC
 * `lua/publish.lua` appends to the pub/sub message of a channel with a key. Checked once per live
 * message, over the bytes Redis delivered (nothing is encoded back from text), in JavaScript
 * from the key's precomputed pad states: through `node:crypto` the check was OpenSSL and `Buffer`
 * setup more than hashing, and that code is cold at low publication rates (`hmac-sha1.ts`). The
 * digest is compared in full whatever differs.
 * @internal
 */
export function macMatches(key: MacKey, bytes: Uint8Array, length: number, macAt: number): boolean {
  return hmacSha1Matches(key.inner, key.outer, bytes, length, macAt);
}

/** Creates the synchronizer of one channel. @internal */
export function createChannelSync(deps: ChannelSyncDeps): ChannelSync {
  let position: StreamPosition | null = null;
  let buffer: Buffered[] = [];
  let seq = 0;
  let syncing: Promise<void> | null = null;
  let again = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  // The channel's MAC key as of the last read (null: none, live messages are read back).
  let macKey: MacKey | null = null;

  /** Every read refreshes the key: a new epoch has a new one (or none). */
  function learn(read: RawRead): RawRead {
    const hex = read.macKey ?? null;
    if (hex !== (macKey?.hex ?? null)) macKey = hex ? macKeyOf(hex) : null;
    return read;
  }

  function deliverNext(p: PublicationMessage): void {
    if (!position) return;
    // The publication's epoch: the same one, or the first epoch after the empty position.
    position = { epoch: p.epoch, offset: p.offset };
    deps.deliver(p);
  }

  /**
   * Delivers buffered publications that continue the position. Those received before the last
   * read was sent and not covered by it cannot be genuine (the script appends to history before it
   * publishes), so they are dropped as invalid; later ones with a gap wait for another read.
   */
  function drain(
    readSeq: number,
    head: { epoch: string; offset: number },
    previousEpoch?: string,
    stored?: ReadonlyMap<number, string>,
  ): void {
    const pending = buffer.sort((a, b) => a.message.offset - b.message.offset || a.seq - b.seq);
    buffer = [];
    const claimed = new Set<number>();
    for (const item of pending) {
      const p = item.message;
      if (!position) break;
      if (continuesGeneration(position, p.epoch)) {
        if (p.offset <= position.offset) {
          const genuine = stored?.get(p.offset);
          // Delivered from history already: a message that differs from what is stored is forged;
          // the first identical one is the live message this read verified (not a duplicate).
          if (genuine !== undefined && genuine !== p.text) {
            deps.invalid(`offset ${p.offset} does not match the stored publication`);
          } else if (genuine !== undefined && !claimed.has(p.offset)) {
            claimed.add(p.offset);
          } else deps.duplicate();
        } else if (p.offset === position.offset + 1 && (!deps.verify || item.verified)) {
          if (deps.verify) deps.macVerified?.();
          deliverNext(p);
        } else if (item.seq <= readSeq && p.offset > head.offset) {
          deps.invalid(`offset ${p.offset} is ahead of the channel (${head.offset})`);
        } else {
          buffer.push(item);
        }
      } else if (p.epoch === previousEpoch) {
        deps.duplicate(); // from the generation a reset just left behind
      } else if (item.seq <= readSeq) {
        deps.invalid(`epoch ${p.epoch} is not the channel's epoch (${head.epoch})`);
      } else {
        buffer.push(item);
      }
    }
    if (buffer.length > 0) again = true;
  }

  /**
   * A verified channel whose next publications were trimmed from history before they could be
   * read back (a burst larger than the history within one read) delivers them from the buffer
   * when it can tell the genuine texts:
   *
   * - a text whose MAC was checked under the channel's key is genuine by itself: when such texts
   *   cover every trimmed offset they are delivered, with no barrier (a Redis Cluster has none);
   * - otherwise, once a barrier shows that every genuine message up to the read has arrived, a
   *   trimmed offset for which exactly one text arrived is the genuine one (a forgery would be a
   *   second, different text).
   *
   * Returns false (the caller resets) when neither can be shown.
   */
  async function deliverTrimmed(from: StreamPosition, page: RawRead): Promise<boolean> {
    if (!deps.verify || !continuesGeneration(from, page.epoch) || page.offset <= from.offset) return false;
    // The first offset history still serves (past the channel's offset: none).
    const firstStored =
      page.entries[0]?.offset ?? (page.newestEntry?.offset === page.offset ? page.offset : page.offset + 1);
    if (firstStored <= from.offset + 1) return false;
    let texts = trimmedTexts(from.offset, firstStored, page.epoch, true);
    if (texts === null && deps.barrier && (await deps.barrier()) && !closed && position === from) {
      texts = trimmedTexts(from.offset, firstStored, page.epoch, false);
    }
    if (texts === null) return false;
    dropOthers(texts, page.epoch);
    for (let o = from.offset + 1; o < firstStored; o++) deliverNext((texts.get(o) as Buffered).message);
    return true;
  }

  /**
   * Takes the chosen texts of trimmed offsets out of the buffer, with the other texts of those
   * offsets: copies of the chosen one, or forgeries (the chosen one is genuine, by its MAC or by
   * the barrier).
   */
  function dropOthers(chosen: ReadonlyMap<number, Buffered>, epoch: string): void {
    buffer = buffer.filter((item) => {
      const { offset, text } = item.message;
      const kept = chosen.get(offset);
      if (kept === undefined || item.message.epoch !== epoch) return true;
      if (kept !== item) {
        if (kept.message.text !== text) deps.invalid(`offset ${offset} does not match its MAC-verified text`);
        else deps.duplicate();
      }
      return false;
    });
  }

  /**
   * The buffered text of each offset in (`after`, `before`) of `epoch` (MAC-verified ones only, when
   * `verifiedOnly`), or null when an offset has none, or two different texts.
   */
  function trimmedTexts(
    after: number,
    before: number,
    epoch: string,
    verifiedOnly: boolean,
  ): Map<number, Buffered> | null {
    const texts = new Map<number, Buffered>();
    for (const item of buffer) {
      const o = item.message.offset;
      if (o <= after || o >= before || item.message.epoch !== epoch || (verifiedOnly && !item.verified)) continue;
      const seen = texts.get(o);
      if (seen && seen.message.text !== item.message.text) return null; // two different texts: one is forged
      texts.set(o, seen ?? item);
    }
    for (let o = after + 1; o < before; o++) if (!texts.has(o)) return null;
    return texts;
  }

  async function syncOnce(): Promise<void> {
    if (!position) {
      const readSeq = seq;
      const head = learn(await deps.read({ mode: 'head' }));
      position = { epoch: head.epoch, offset: head.offset };
      drain(readSeq, head);
      return;
    }
    // Stored texts seen by this synchronization, to tell forged messages from duplicates.
    const stored = new Map<number, string>();
    for (;;) {
      const from: StreamPosition = position;
      const readSeq = seq;
      // Live messages awaiting verification were checked on arrival: their stored copies (the same
      // text) are not checked again, and deliver the same message.
      const known = new Map<string, PublicationMessage>();
      if (deps.verify) for (const item of buffer) known.set(item.message.text, item.message);
      const page = learn(await deps.read({ mode: 'since', since: from, limit: deps.batchSize, known }));
      if (closed || position !== from) return; // closed, or moved on meanwhile: read again
      // A channel without history keeps only its latest publication: it continues the position
      // when it is the very next one.
      if (page.entries.length === 0 && page.newestEntry && page.newestEntry.offset === from.offset + 1) {
        page.entries = [page.newestEntry];
      }
      const first = page.entries[0];
      const continuous =
        continuesGeneration(from, page.epoch) &&
        from.offset <= page.offset &&
        (from.offset === page.offset || first?.offset === from.offset + 1);
      if (!continuous && (await deliverTrimmed(from, page))) {
        if (closed) return;
        continue; // read on from the new position
      }
      if (closed || position !== from) return;
      if (!continuous) {
        position = { epoch: page.epoch, offset: page.offset };
        deps.reset({
          channel: deps.channel,
          // From the empty position the channel's first epoch is not a change of generation.
          reason: continuesGeneration(from, page.epoch) ? 'history_too_short' : 'epoch_changed',
          epoch: page.epoch,
          offset: page.offset,
          latest: deps.latest(page.newestEntry),
        });
        drain(readSeq, page, from.epoch);
        return;
      }
      let count = 0;
      // Offsets that arrived live: reading them back verifies them, it does not recover them.
      const live = new Set<number>();
      for (const item of buffer) live.add(item.message.offset);
      for (const entry of page.entries) {
        stored.set(entry.offset, entry.text);
        if (entry.offset !== position.offset + 1) continue;
        if (entry.message) {
          deliverNext(entry.message);
          if (!live.has(entry.offset)) count++;
        } else {
          // Skip an unreadable stored entry (already reported by the reader) to keep going.
          position = { epoch: page.epoch, offset: entry.offset };
        }
      }
      if (count > 0) deps.recovered(count);
      if (position.offset >= page.offset || page.entries.length === 0) {
        drain(readSeq, page, undefined, stored);
        return;
      }
    }
  }

  function sync(): Promise<void> {
    if (syncing) {
      again = true;
      return syncing;
    }
    syncing = (async () => {
      do {
        again = false;
        try {
          await syncOnce();
        } catch (error) {
          if (closed) break;
          if (!position) throw error; // the first read fails the subscribe call
          deps.failed(error);
          // Retry later; a reconnect also calls resync().
          await new Promise<void>((resolve) => {
            wake = resolve;
            retryTimer = setTimeout(resolve, deps.retryDelayMs);
            retryTimer.unref?.();
          });
          wake = undefined;
          again = true;
        }
      } while (again && !closed);
    })().finally(() => {
      syncing = null;
    });
    return syncing;
  }

  return {
    start: () => sync(),
    authentic(bytes, length, macAt) {
      return deps.verify && deps.acceptMac !== false && macKey !== null && macMatches(macKey, bytes, length, macAt);
    },
    // `verified`: authentic() held, which it does only on a verified channel
    receive(p, verified = false) {
      if (closed) return;
      // A valid MAC under the channel's key proves the publish script sent this text (the text
      // holds the channel, epoch and offset): it is delivered like a trusted message. Anything
      // else (no MAC, no key known, a wrong MAC) is read back from history first.
      if (!syncing && position && continuesGeneration(position, p.epoch)) {
        if (p.offset <= position.offset) {
          deps.duplicate();
          return;
        }
        // Trusted mode, or authenticated: otherwise verified delivery reads it back first.
        if (p.offset === position.offset + 1 && (!deps.verify || verified)) {
          if (verified) deps.macVerified?.();
          deliverNext(p);
          return;
        }
      }
      buffer.push({ message: p, seq: ++seq, verified });
      if (buffer.length > deps.maxBuffered) {
        // Everything buffered is in history too: drop the buffer and read it back in order.
        buffer = [];
        again = true;
      }
      // A running recovery drains the buffer when its read completes (and reads again if a gap
      // remains), so a message arriving meanwhile must not force another read: on a busy channel
      // that would keep the recovery going forever.
      if (position && !syncing) sync().catch(() => {});
    },
    resync() {
      if (closed || !position) return Promise.resolve();
      return sync().catch(() => {});
    },
    position: () => position,
    close() {
      closed = true;
      buffer = [];
      clearTimeout(retryTimer);
      wake?.();
    },
  };
}
