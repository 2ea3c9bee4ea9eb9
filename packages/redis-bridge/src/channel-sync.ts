/**
 * Ordered, gap-free delivery for one subscribed channel: live publications pass straight through
 * while they follow the last delivered position; a jump, an unknown epoch or a reconnect starts a
 * synchronization from history (live ones are buffered meanwhile), and a position history cannot
 * serve any more becomes a reset.
 * @module
 */
import type { Publication, ResetEvent, StreamPosition } from '@taskpulse/protocol';
import type { RawRead, ReadRequest } from './history-reader';

/** What a channel synchronizer needs from its subscriber. @internal */
export interface ChannelSyncDeps {
  channel: string;
  read(request: ReadRequest): Promise<RawRead>;
  deliver(publication: Publication): void;
  reset(event: ResetEvent): void;
  /** A live publication that cannot be genuine (ahead of the channel, stale epoch) or an invalid stored entry. */
  invalid(reason: string): void;
  /** A background synchronization failed (it is retried). */
  failed(error: unknown): void;
  duplicate(): void;
  recovered(count: number): void;
  batchSize: number;
  retryDelayMs: number;
  maxBuffered: number;
}

/** The synchronizer of one channel. @internal */
export interface ChannelSync {
  /** Resolves once the channel's starting position is known (the first read). */
  start(): Promise<void>;
  /** A live publication for this channel. Never throws. */
  receive(publication: Publication): void;
  /** Reads history since the last delivered position (after a reconnect). */
  resync(): void;
  position(): StreamPosition | null;
  close(): void;
}

interface Buffered {
  publication: Publication;
  /** Receipt sequence, compared with the sequence at the time a read was sent. */
  seq: number;
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

  function deliverNext(p: Publication): void {
    if (!position) return;
    position = { epoch: position.epoch, offset: p.offset };
    deps.deliver(p);
  }

  /**
   * Delivers buffered publications that continue the position. Those received before the last
   * read was sent and not covered by it cannot be genuine (the script appends to history before it
   * publishes), so they are dropped as invalid; later ones with a gap wait for another read.
   */
  function drain(readSeq: number, head: { epoch: string; offset: number }, previousEpoch?: string): void {
    const pending = buffer.sort((a, b) => a.publication.offset - b.publication.offset || a.seq - b.seq);
    buffer = [];
    for (const item of pending) {
      const p = item.publication;
      if (!position) break;
      if (p.epoch === position.epoch) {
        if (p.offset <= position.offset) {
          deps.duplicate();
        } else if (p.offset === position.offset + 1) {
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

  async function syncOnce(): Promise<void> {
    if (!position) {
      const readSeq = seq;
      const head = await deps.read({ mode: 'head' });
      position = { epoch: head.epoch, offset: head.offset };
      drain(readSeq, head);
      return;
    }
    for (;;) {
      const from: StreamPosition = position;
      const readSeq = seq;
      const page = await deps.read({ mode: 'since', since: from, limit: deps.batchSize });
      if (closed || position !== from) return; // closed, or moved on meanwhile: read again
      const first = page.entries[0];
      const continuous =
        page.epoch === from.epoch &&
        from.offset <= page.offset &&
        (from.offset === page.offset || first?.offset === from.offset + 1);
      if (!continuous) {
        position = { epoch: page.epoch, offset: page.offset };
        deps.reset({
          channel: deps.channel,
          reason: page.epoch === from.epoch ? 'history_too_short' : 'epoch_changed',
          epoch: page.epoch,
          offset: page.offset,
          latest: page.newest,
        });
        drain(readSeq, page, from.epoch);
        return;
      }
      let count = 0;
      for (const entry of page.entries) {
        if (entry.offset !== position.offset + 1) continue;
        if (entry.publication) {
          deliverNext(entry.publication);
          count++;
        } else {
          // Skip an unreadable stored entry (already reported by the reader) to keep going.
          position = { epoch: position.epoch, offset: entry.offset };
        }
      }
      if (count > 0) deps.recovered(count);
      if (position.offset >= page.offset || page.entries.length === 0) {
        drain(readSeq, page);
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
    receive(p) {
      if (closed) return;
      if (!syncing && position && p.epoch === position.epoch) {
        if (p.offset <= position.offset) {
          deps.duplicate();
          return;
        }
        if (p.offset === position.offset + 1) {
          deliverNext(p);
          return;
        }
      }
      buffer.push({ publication: p, seq: ++seq });
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
      if (closed || !position) return;
      sync().catch(() => {});
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
