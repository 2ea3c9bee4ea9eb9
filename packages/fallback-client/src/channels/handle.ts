/**
 * One `subscribe()` handle: validates data with its own schema and calls its own callbacks, so
 * several handles with different schemas can share one wire subscription.
 * @module
 */
import { clientError } from '../errors';
import type { ChannelPosition, ClientError, ClientPublication, SubscribeOptions, Subscription } from '../types';

/** What a handle needs from its channel entry. @internal */
export interface HandleOwner {
  readonly kind: 'events' | 'state' | null;
  readonly position: ChannelPosition | null;
  remove(handle: SubscriptionHandle<unknown>): void;
  refresh(): Promise<ClientPublication | null>;
  /** Reports an error to the client's `onError`/logger (callback exceptions, bad data). */
  report(error: ClientError): void;
}

/** @internal */
export class SubscriptionHandle<T> implements Subscription<T> {
  readonly channel: string;
  #latest: ClientPublication<T> | null = null;
  #active = true;
  readonly #options: SubscribeOptions<T>;
  readonly #owner: HandleOwner;

  constructor(channel: string, options: SubscribeOptions<T>, owner: HandleOwner) {
    this.channel = channel;
    this.#options = options;
    this.#owner = owner;
  }

  get kind(): 'events' | 'state' | null {
    return this.#owner.kind;
  }

  get position(): ChannelPosition | null {
    return this.#owner.position;
  }

  get latest(): ClientPublication<T> | null {
    return this.#latest;
  }

  get active(): boolean {
    return this.#active;
  }

  async refresh(): Promise<ClientPublication<T> | null> {
    let raw: ClientPublication | null;
    try {
      raw = await this.#owner.refresh();
    } catch (cause) {
      const c = cause as Partial<ClientError> | null;
      const error =
        typeof c?.code === 'string' && typeof c.message === 'string'
          ? (cause as ClientError)
          : clientError('network', `reading the state of ${this.channel} failed`, cause);
      this.error(error);
      this.#owner.report(error);
      return null;
    }
    if (!this.#active) return null;
    const known = this.#latest;
    // A publication delivered while the read was in flight is newer: never go back to an older state.
    if (known !== null && (raw === null || (raw.epoch === known.epoch && raw.offset < known.offset))) {
      this.#call(() => this.#options.onState?.(known, {}));
      return known;
    }
    const value = raw === null ? null : this.#validate(raw);
    if (raw !== null && value === undefined) return null;
    this.#latest = value ?? null;
    this.#call(() => this.#options.onState?.(value ?? null, {}));
    return value ?? null;
  }

  unsubscribe(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#owner.remove(this as SubscriptionHandle<unknown>);
  }

  /** Validates with the schema: the publication (possibly with transformed data), or undefined. */
  #validate(p: ClientPublication): ClientPublication<T> | undefined {
    const schema = this.#options.schema;
    if (!schema) return p as ClientPublication<T>;
    const result = schema.safeParse(p.data);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      const error = clientError(
        'bad_data',
        `${p.channel}@${p.offset}: data does not match the schema (${where}${issue?.message ?? 'invalid'})`,
        result.error,
      );
      this.error(error);
      this.#owner.report(error);
      return undefined;
    }
    return result.data === p.data ? (p as ClientPublication<T>) : { ...p, data: result.data };
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#owner.report(clientError('callback_error', `a callback of ${this.channel} threw`, error));
    }
  }

  publication(p: ClientPublication): void {
    if (!this.#active) return;
    const value = this.#validate(p);
    if (value === undefined) return;
    this.#latest = value;
    const on = this.#options.onPublication;
    if (!on) return;
    try {
      on(value); // hot path: no closure per publication
    } catch (error) {
      this.#owner.report(clientError('callback_error', `onPublication of ${this.channel} threw`, error));
    }
  }

  state(latest: ClientPublication | null, info: { recovered?: boolean }): void {
    if (!this.#active) return;
    let value: ClientPublication<T> | null = null;
    if (latest !== null) {
      const v = this.#validate(latest);
      if (v === undefined) return;
      value = v;
    }
    this.#latest = value;
    const on = this.#options.onState;
    if (on) this.#call(() => on(value, info));
  }

  subscribed(info: { kind: 'events' | 'state'; epoch: string; offset: number; recovered?: boolean }): void {
    if (this.#active && this.#options.onSubscribed) this.#call(() => this.#options.onSubscribed?.(info));
  }

  recoveryFailed(info: { channel: string; epoch: string; offset: number; state: ClientPublication | null }): void {
    if (!this.#active || !this.#options.onRecoveryFailed) return;
    const state = info.state === null ? null : (this.#validate(info.state) ?? null);
    this.#call(() => this.#options.onRecoveryFailed?.({ ...info, state }));
  }

  error(error: ClientError): void {
    if (!this.#active) return;
    const on = this.#options.onError;
    if (on) this.#call(() => on(error));
  }
}
