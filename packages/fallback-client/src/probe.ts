/**
 * Going back up: while the client works over a lower transport, try the better ones in the
 * background (best first) on a schedule and on demand. A probe is a full transport session; the
 * connection manager promotes it when it says `welcome` and keeps the current transport until then.
 * @module
 */
import type { Transport } from './transports/transport';
import type { TransportName } from './types';

/** What the prober needs from the connection manager. @internal */
export interface ProbeHost {
  /** The transport order. */
  order(): readonly TransportName[];
  /** Index of the working transport in the order, or -1 when none is working (no probing then). */
  workingIndex(): number;
  /** A fresh transport session. */
  create(name: TransportName): Transport;
  /** The token for the probe (falls back to the last one). */
  token(): Promise<string | null>;
  log(message: string): void;
}

/** Probes better transports. @internal */
export class Prober {
  readonly #host: ProbeHost;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #probe: Transport | null = null;
  #index = -1;
  #stopped = false;

  constructor(host: ProbeHost, intervalMs: number) {
    this.#host = host;
    this.#intervalMs = intervalMs;
  }

  /** The probe in flight, if any. */
  get transport(): Transport | null {
    return this.#probe;
  }

  /** The order index of the probe in flight. */
  get index(): number {
    return this.#index;
  }

  /** Probes again after `probeIntervalMs` (0: never by itself). */
  schedule(): void {
    clearTimeout(this.#timer);
    if (this.#intervalMs <= 0 || this.#stopped) return;
    this.#timer = setTimeout(() => void this.start(0), this.#intervalMs);
  }

  /** Probes the transport at `index` of the order now (only if it is better than the working one). */
  async start(index: number): Promise<void> {
    if (this.#stopped || index >= this.#host.workingIndex()) return;
    this.cancel();
    const token = await this.#host.token();
    if (this.#stopped || this.#probe || index >= this.#host.workingIndex()) return;
    const name = this.#host.order()[index];
    if (!name) return;
    const probe = this.#host.create(name);
    this.#probe = probe;
    this.#index = index;
    this.#host.log(`probing ${name}`);
    probe.start(token);
  }

  /** The probe failed: try the next better transport, or wait for the next round. */
  failed(): void {
    this.#probe = null;
    if (this.#index + 1 < this.#host.workingIndex()) void this.start(this.#index + 1);
    else this.schedule();
  }

  /** The probe works: hand it over (the caller makes it the active transport). */
  take(): { transport: Transport; index: number } | null {
    const probe = this.#probe;
    if (!probe) return null;
    this.#probe = null;
    return { transport: probe, index: this.#index };
  }

  /** Stops the probe in flight and the schedule. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#probe?.stop();
    this.#probe = null;
  }

  /** For good (client closed). */
  close(): void {
    this.#stopped = true;
    this.cancel();
  }
}
