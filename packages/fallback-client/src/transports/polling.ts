/**
 * The polling transport (seed 004): one batched `GET {base}/poll` for every channel that is due,
 * from the client's own positions (`since=` cursor), with ETag/304, optional long-poll, per-channel
 * intervals that stretch while nothing changes, and slower (or paused) polling on hidden pages.
 * @module
 */

import { backoffDelayMs } from '../backoff';
import type { ChannelEntry } from '../channels/registry';
import { encodeCursor } from '../cursor';
import { clientError, type TransportFailure } from '../errors';
import type { ChannelPosition } from '../types';
import { diagnoseResponse, getInit } from './diagnose';
import { applyChannelResult, validChannelResult } from './poll-results';
import { PollSchedule } from './poll-schedule';
import type { Transport, TransportHost } from './transport';

/** Longer poll URLs are sent as POST bodies instead (the hub's `maxUrlBytes` defaults to 8 KiB). */
const MAX_GET_URL_LENGTH = 6000;

/** @internal */
export class PollingTransport implements Transport {
  readonly name = 'polling' as const;
  readonly #host: TransportHost;
  readonly #schedule: PollSchedule;
  #token: string | null = null;
  #opened = false;
  #stopped = false;
  #started = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Aborts the request in flight after `connectTimeoutMs` (+ `waitMs`). */
  #requestTimer: ReturnType<typeof setTimeout> | undefined;
  #inflight: AbortController | null = null;
  /** `registry.wantedKey()` when the request in flight was sent. */
  #inflightKey = '';
  /** Entries answered at least once by this transport (later answers are plain continuations). */
  readonly #answered = new WeakSet<ChannelEntry>();
  /** No request before this time (`Retry-After` of a 429). */
  #holdUntil = 0;
  /** 429/503 answers in a row (for the backoff delay). */
  #held = 0;
  /** A 503 said the broker is down; the next answer says it is back. */
  #liveDown = false;
  #etagUrl = '';
  #etag = '';

  constructor(host: TransportHost) {
    this.#host = host;
    this.#schedule = new PollSchedule(host.options.polling);
  }

  start(token: string | null): void {
    this.#started = true;
    this.#token = token;
    this.#schedule.sync(this.#host.registry.wantedNames(), Date.now());
    this.#tick();
  }

  sync(): void {
    if (this.#stopped) return;
    const inflight = this.#inflight;
    if (inflight && this.#longPolling() && this.#host.registry.wantedKey() !== this.#inflightKey) {
      // A long poll is waiting for the old channel set: a new channel must not wait up to `waitMs`
      // for its first answer. Abandon it and ask again for the new set.
      this.#inflight = null;
      inflight.abort();
    }
    this.#schedule.sync(this.#host.registry.wantedNames(), Date.now());
    this.#report();
    this.#tick();
  }

  /**
   * Long-polling (`waitMs > 0`) only while visible (or with `whenHidden: 'none'`): a hidden page
   * polls at the slowed interval of its schedule (`slow`), or not at all (`pause`).
   */
  #longPolling(): boolean {
    const polling = this.#host.options.polling;
    return polling.waitMs > 0 && !(this.#schedule.hidden && polling.whenHidden !== 'none');
  }

  setHidden(hidden: boolean): void {
    if (this.#stopped || this.#schedule.hidden === hidden) return;
    const wasLong = this.#longPolling();
    this.#schedule.hidden = hidden;
    if (!this.#started) return; // before start(): only remember it
    const inflight = this.#inflight;
    if (inflight && wasLong && !this.#longPolling()) {
      // A long poll held open by the hub would keep a hidden page polling: abandon it.
      this.#inflight = null;
      inflight.abort();
    }
    if (!hidden) this.#schedule.dueNow(Date.now()); // catch up at once when visible
    this.#report();
    clearTimeout(this.#timer);
    this.#tick();
  }

  #report(): void {
    const long = this.#longPolling();
    this.#host.pollingInterval(this, this.#schedule.paused ? null : long ? 0 : this.#schedule.intervalMs());
  }

  #tick(): void {
    if (this.#stopped || this.#inflight !== null || this.#schedule.paused) return;
    clearTimeout(this.#timer);
    const wanted = this.#host.registry.wantedNames();
    if (wanted.length === 0) {
      this.#markOpen();
      this.#report();
      return;
    }
    const now = Date.now();
    if (now < this.#holdUntil) {
      this.#timer = setTimeout(() => this.#tick(), this.#holdUntil - now);
      return;
    }
    const channels = this.#longPolling() ? wanted : this.#schedule.due(now);
    if (channels.length > 0) {
      void this.#poll(channels);
      return;
    }
    const next = this.#schedule.nextDueAt();
    if (next !== undefined) this.#timer = setTimeout(() => this.#tick(), Math.max(0, next - now));
  }

  async #poll(channels: string[]): Promise<void> {
    const { options, platform, registry } = this.#host;
    const sent = new Map<string, ChannelPosition | null>();
    const sentEntries = new Map<string, ChannelEntry | undefined>();
    for (const c of channels) {
      const entry = registry.entries.get(c);
      sent.set(c, entry?.position ?? null);
      sentEntries.set(c, entry);
    }
    const params = new URLSearchParams();
    for (const c of channels) params.append('channel', c);
    const cursor = encodeCursor(sent);
    if (cursor) params.set('since', cursor);
    params.set('limit', String(options.polling.limit));
    const waitMs = this.#longPolling() ? options.polling.waitMs : 0;
    if (waitMs > 0) params.set('wait', String(waitMs));
    const url = `${options.httpBase}/poll?${params}`;
    const headers: Record<string, string> = {};
    // A channel without a position needs its first answer (state, position) whatever the ETag
    // says: a channel subscribed again after an unsubscribe sends the very URL of its first poll.
    let firstRead = false;
    for (const p of sent.values()) if (p === null) firstRead = true;
    if (url === this.#etagUrl && this.#etag && !firstRead) headers['if-none-match'] = this.#etag;
    const controller = new AbortController();
    this.#inflight = controller;
    this.#inflightKey = registry.wantedKey();
    let response: Response;
    let body: unknown;
    // A request nobody answers (a black-holing proxy) must not leave the poller waiting forever.
    const timeoutMs = options.connectTimeoutMs + waitMs;
    let timedOut = false;
    clearTimeout(this.#requestTimer);
    this.#requestTimer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const init = getInit(this.#token, options.withCredentials, { headers, signal: controller.signal });
      if (url.length > MAX_GET_URL_LENGTH) {
        // Too many channels for a URL (the hub refuses URLs over 8 KiB): the same poll as a POST body.
        const positions: Record<string, ChannelPosition | null> = {};
        for (const [c, p] of sent) positions[c] = p;
        const wait = waitMs;
        init.method = 'POST';
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
        init.body = JSON.stringify({
          channels: positions,
          limit: options.polling.limit,
          ...(wait > 0 ? { wait } : {}),
        });
        response = await platform.fetch(`${options.httpBase}/poll`, init);
      } else response = await platform.fetch(url, init);
      if (response.status === 200) body = await response.json();
    } catch (error) {
      if (this.#stopped || this.#inflight !== controller) return; // stopped, or abandoned by sync()
      clearTimeout(this.#requestTimer);
      this.#inflight = null;
      this.#fail({
        kind: this.#opened ? 'dropped' : 'network',
        error: timedOut
          ? clientError('timeout', `no poll answer within ${timeoutMs} ms`)
          : clientError('network', 'poll request failed', error),
      });
      return;
    }
    clearTimeout(this.#requestTimer);
    if (this.#stopped || this.#inflight !== controller) return;
    this.#inflight = null;
    const now = Date.now();
    if (response.status === 304) {
      for (const c of channels) this.#schedule.polled(c, false, now);
      this.#ok();
      return;
    }
    if (response.status !== 200) {
      const diagnosis = await diagnoseResponse(this.#host, response);
      if (this.#stopped) return;
      if (diagnosis?.channel !== undefined) {
        this.#host.refuse(diagnosis.channel, clientError(diagnosis.code, diagnosis.message));
        this.#tick();
      } else if (
        this.#opened &&
        (diagnosis?.failure?.kind === 'rate_limited' || diagnosis?.failure?.kind === 'unavailable')
      ) {
        // 429 (reads rate limited) or 503 (broker down): a working poller keeps its status and
        // answers and waits — `Retry-After`, or the backoff delay if longer — instead of tearing the
        // transport down and reconnecting. A 503 is polling's `live: false` frame.
        const { kind, error } = diagnosis.failure;
        const seconds = Number(response.headers.get('retry-after'));
        const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) * 1000 : 0;
        this.#holdUntil = now + Math.max(retryAfterMs, backoffDelayMs(this.#held++, options.backoff), 100);
        if (kind === 'unavailable') {
          this.#liveDown = true;
          this.#host.live(this, false, error);
        } else this.#host.report(error);
        this.#tick();
      } else if (diagnosis?.failure) this.#fail(diagnosis.failure);
      return;
    }
    const results = (body as { channels?: Record<string, unknown> } | null)?.channels;
    if (typeof results !== 'object' || results === null) {
      this.#host.report(clientError('bad_frame', 'poll response without channels'));
      this.#fail({ kind: 'network', error: clientError('bad_frame', 'poll response without channels') });
      return;
    }
    this.#etagUrl = url;
    this.#etag = response.headers.get('etag') ?? '';
    this.#apply(channels, sent, sentEntries, results, now);
    this.#ok();
  }

  #apply(
    channels: string[],
    sent: Map<string, ChannelPosition | null>,
    sentEntries: Map<string, ChannelEntry | undefined>,
    results: Record<string, unknown>,
    now: number,
  ): void {
    const registry = this.#host.registry;
    for (const channel of channels) {
      const r = results[channel];
      const entry = registry.entries.get(channel);
      // Unsubscribed (and maybe subscribed again) while the request was out: the answer was for
      // the old subscription; a new one is polled from its own position (its slot is due now).
      if (!entry || entry.refused || entry !== sentEntries.get(channel)) continue;
      if (!validChannelResult(r)) {
        this.#host.report(clientError('bad_frame', `poll response: invalid result for ${channel}`));
        this.#schedule.polled(channel, false, now);
        continue;
      }
      const changed = applyChannelResult(registry, entry, sent.get(channel) ?? null, r, this.#answered.has(entry));
      this.#answered.add(entry);
      this.#schedule.polled(channel, changed, now, r.more === true);
    }
  }

  #markOpen(): void {
    if (this.#opened || this.#stopped) return;
    this.#opened = true;
    this.#host.opened(this);
  }

  #ok(): void {
    this.#markOpen();
    if (this.#stopped) return;
    this.#held = 0;
    if (this.#liveDown) {
      this.#liveDown = false;
      this.#host.live(this, true);
    }
    this.#host.activity(this);
    this.#report();
    this.#tick();
  }

  #fail(failure: TransportFailure): void {
    if (this.#stopped) return;
    this.stop();
    this.#host.failed(this, failure);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#requestTimer);
    this.#inflight?.abort();
    this.#inflight = null;
  }
}
