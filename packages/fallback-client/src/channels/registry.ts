/**
 * The channels the application wants, with the client's own position on each: reference-counted
 * handles, duplicate filtering, recovery signals. Every transport feeds this one registry, so a
 * switch between transports (or two transports overlapping during a switch) delivers each
 * publication exactly once, in order.
 * @module
 */
import { clientError } from '../errors';
import type { SubscribedLike } from '../frame';
import type { ChannelPosition, ClientError, ClientPublication, SubscribeOptions, Subscription } from '../types';
import { channelProblem } from './channel-name';
import { type HandleOwner, SubscriptionHandle } from './handle';

/** What the registry tells the client. @internal */
export interface RegistryHost {
  /** The set of wanted channels changed (a channel added, removed or refused). */
  changed(): void;
  /** An error for the client's `onError` and logger. */
  report(error: ClientError): void;
  /** Reads a channel's state over HTTP. */
  readState(channel: string): Promise<ClientPublication | null>;
  /** A publication broke the offset sequence (logged; the hub should never do this). */
  gap(channel: string, expected: number, got: number): void;
}

/** One channel: its handles, kind and position. @internal */
export class ChannelEntry implements HandleOwner {
  readonly channel: string;
  readonly handles = new Set<SubscriptionHandle<unknown>>();
  kind: 'events' | 'state' | null = null;
  /** Position as two fields: no allocation per publication. */
  epoch: string | null = null;
  offset = 0;
  latest: ClientPublication | null = null;
  /** Set when the hub refused the channel (forbidden, unknown): it is no longer sent. */
  refused: ClientError | null = null;
  /** True once a `subscribed` answer (or first poll) arrived. */
  answered = false;
  /**
   * Unique per entry: a channel unsubscribed and subscribed again gets a new entry (and must be
   * subscribed again on the wire, for its `subscribed` answer and state), even within one tick.
   */
  readonly serial: number;
  readonly #registry: ChannelRegistry;

  constructor(channel: string, registry: ChannelRegistry, serial: number, since?: ChannelPosition) {
    this.channel = channel;
    this.#registry = registry;
    this.serial = serial;
    if (since) {
      this.epoch = since.epoch;
      this.offset = since.offset;
    }
  }

  get position(): ChannelPosition | null {
    return this.epoch === null ? null : { epoch: this.epoch, offset: this.offset };
  }

  remove(handle: SubscriptionHandle<unknown>): void {
    this.#registry.remove(this, handle);
  }

  refresh(): Promise<ClientPublication | null> {
    return this.#registry.host.readState(this.channel);
  }

  report(error: ClientError): void {
    this.#registry.host.report(error);
  }
}

/** @internal */
export class ChannelRegistry {
  readonly entries = new Map<string, ChannelEntry>();
  readonly host: RegistryHost;
  #serial = 0;

  constructor(host: RegistryHost) {
    this.host = host;
  }

  subscribe<T>(channel: string, options: SubscribeOptions<T>): Subscription<T> {
    let entry = this.entries.get(channel);
    const isNew = entry === undefined;
    if (!entry) {
      entry = new ChannelEntry(channel, this, ++this.#serial, options.since);
      this.entries.set(channel, entry);
    }
    const handle = new SubscriptionHandle<T>(channel, options, entry);
    entry.handles.add(handle as SubscriptionHandle<unknown>);
    const problem = channelProblem(channel);
    if (problem !== null) {
      entry.refused = clientError('bad_channel', problem);
    }
    const e = entry;
    if (e.refused) {
      const refused = e.refused;
      queueMicrotask(() => handle.error(refused));
      if (isNew) this.host.report(refused);
    } else if (isNew) {
      this.host.changed();
    } else if (e.answered && e.kind === 'state') {
      // A later subscriber of a shared state channel gets the cached value at once.
      queueMicrotask(() => handle.state(e.latest, {}));
    }
    return handle;
  }

  remove(entry: ChannelEntry, handle: SubscriptionHandle<unknown>): void {
    entry.handles.delete(handle);
    if (entry.handles.size > 0 || this.entries.get(entry.channel) !== entry) return;
    this.entries.delete(entry.channel);
    if (!entry.refused) this.host.changed();
  }

  /** The channels to have on the wire, with the position to resume from. */
  *wanted(): IterableIterator<ChannelEntry> {
    for (const entry of this.entries.values()) if (!entry.refused) yield entry;
  }

  /** Wanted channel names. */
  wantedNames(): string[] {
    const names: string[] = [];
    for (const entry of this.wanted()) names.push(entry.channel);
    return names;
  }

  /** Identifies the wanted set, entry by entry (changes when a channel is re-subscribed). */
  wantedKey(): string {
    let key = '';
    for (const entry of this.wanted()) key += `${entry.channel}#${entry.serial}\n`;
    return key;
  }

  /** `[channel, position]` of every wanted channel. */
  *positions(): IterableIterator<[string, ChannelPosition | null]> {
    for (const entry of this.wanted()) yield [entry.channel, entry.position];
  }

  /** A `subscribed` answer (or an unsolicited reset, or a first poll result). */
  subscribed(frame: SubscribedLike): void {
    const entry = this.entries.get(frame.channel);
    if (!entry || entry.refused) return;
    entry.kind = frame.kind;
    const hadPosition = entry.epoch !== null;
    const info = {
      kind: frame.kind,
      epoch: frame.epoch,
      offset: frame.offset,
      ...(frame.recovered === undefined ? {} : { recovered: frame.recovered }),
    };
    if (frame.recovered === true && hadPosition) {
      // The missed publications follow; the view is unchanged until they arrive. (The frame's
      // position is the channel's current one, which already counts them; its epoch may differ
      // from ours when we resumed from an empty channel's placeholder epoch.)
      entry.answered = true;
      for (const h of entry.handles) h.subscribed(info);
      if (frame.kind !== 'state') return;
      // A recovered answer carries no state: resumed from a saved position (`since`), the client
      // does not know the value yet, so it reads it rather than reporting null.
      if (entry.latest === null && entry.offset > 0) void this.#fillState(entry);
      else for (const h of entry.handles) h.state(entry.latest, { recovered: true });
      return;
    }
    entry.epoch = frame.epoch;
    entry.offset = frame.offset;
    if (frame.kind === 'state') entry.latest = frame.state ?? null;
    else if (frame.recovered === false) entry.latest = null;
    entry.answered = true;
    for (const h of entry.handles) h.subscribed(info);
    if (frame.recovered === false || (hadPosition && frame.recovered === undefined)) {
      const state = frame.kind === 'state' ? entry.latest : null;
      const failed = { channel: entry.channel, epoch: frame.epoch, offset: frame.offset, state };
      for (const h of entry.handles) h.recoveryFailed(failed);
      if (frame.kind === 'state') for (const h of entry.handles) h.state(entry.latest, { recovered: false });
    } else if (frame.kind === 'state') {
      for (const h of entry.handles) h.state(entry.latest, {});
    }
  }

  async #fillState(entry: ChannelEntry): Promise<void> {
    let latest: ClientPublication | null;
    try {
      latest = await this.host.readState(entry.channel);
    } catch (cause) {
      const c = cause as Partial<ClientError> | null;
      const error =
        typeof c?.code === 'string' && typeof c.message === 'string'
          ? (cause as ClientError)
          : clientError('network', `reading the state of ${entry.channel} failed`, cause);
      this.host.report(error);
      for (const h of entry.handles) h.error(error);
      return;
    }
    if (this.entries.get(entry.channel) !== entry) return;
    // A publication that arrived meanwhile is newer than (or the same as) what was read.
    if (entry.latest === null && latest !== null && latest.epoch === entry.epoch && latest.offset === entry.offset) {
      entry.latest = latest;
    }
    for (const h of entry.handles) h.state(entry.latest ?? latest, { recovered: true });
  }

  /** One publication: dropped when already seen, else delivered to every handle. */
  publication(p: ClientPublication): void {
    const entry = this.entries.get(p.channel);
    if (!entry || entry.refused) return;
    if (entry.epoch === p.epoch) {
      if (p.offset <= entry.offset) return; // a duplicate (overlapping transports, resend)
      if (p.offset !== entry.offset + 1) this.host.gap(p.channel, entry.offset + 1, p.offset);
    }
    entry.epoch = p.epoch;
    entry.offset = p.offset;
    entry.latest = p;
    for (const h of entry.handles) h.publication(p);
  }

  /** The hub refused a channel: tell its handles, stop asking for it. */
  refuse(channel: string, error: ClientError): void {
    const entry = this.entries.get(channel);
    if (!entry || entry.refused) return;
    entry.refused = error;
    this.host.report(error);
    for (const h of entry.handles) h.error(error);
    this.host.changed();
  }

  /** Finds a wanted channel named in an error message (when the hub gave no `details.channel`). */
  channelIn(text: string): string | undefined {
    for (const entry of this.wanted()) if (text.includes(entry.channel)) return entry.channel;
    return undefined;
  }

  clear(): void {
    this.entries.clear();
  }
}
