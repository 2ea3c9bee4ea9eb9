/**
 * Refresh in place (docs/hub.md "Credential expiry and refresh"): when the hub's `welcome` carries
 * `expiresAt` and the application gave `getToken`, a fresh token is sent as
 * `{"type":"refresh","id":…,"token":…}` shortly before expiry; `refreshed` carries the new expiry.
 * A hub without `verifyToken` answers `bad_request`: the client then stops trying and relies on
 * the 4401 close → `getToken()` → reconnect path (which resumes every channel, nothing lost).
 * @module
 */
import type { TransportHost } from './transport';

/** Refresh this long before expiry at most (and at 4/5 of a shorter lifetime). @internal */
export const REFRESH_LEAD_MAX_MS = 30_000;

/** @internal */
export class CredentialRefresher {
  readonly #host: TransportHost;
  readonly #send: (text: string) => void;
  #token: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pendingId: string | null = null;
  #serial = 0;
  #disabled = false;
  #stopped = false;

  constructor(host: TransportHost, send: (text: string) => void) {
    this.#host = host;
    this.#send = send;
  }

  /** Arms the refresh for credentials expiring at `expiresAt` (ms since the epoch), if any. */
  schedule(expiresAt: number | undefined, token: string | null): void {
    clearTimeout(this.#timer);
    if (token !== null) this.#token = token;
    if (this.#stopped || this.#disabled || expiresAt === undefined || !this.#host.canRefreshToken) return;
    const leftMs = expiresAt - Date.now();
    const delayMs = Math.max(0, leftMs - Math.min(REFRESH_LEAD_MAX_MS, leftMs / 5));
    this.#timer = setTimeout(() => void this.#refresh(), delayMs);
  }

  async #refresh(): Promise<void> {
    let token: string | null;
    try {
      token = await this.#host.token();
    } catch {
      return; // the 4401 close will retry getToken()
    }
    // Nothing new to offer: let the hub close with 4401 and reconnect with getToken().
    if (this.#stopped || token === null || token === this.#token) return;
    this.#token = token;
    this.#pendingId = `refresh-${++this.#serial}`;
    this.#send(JSON.stringify({ type: 'refresh', id: this.#pendingId, token }));
  }

  /** An error frame with this id: true when it answered our refresh (it is then handled here). */
  answered(id: string | number | undefined, code: string): boolean {
    if (id === undefined || id !== this.#pendingId) return false;
    this.#pendingId = null;
    if (code === 'bad_request') this.#disabled = true; // the hub cannot refresh in place
    return true;
  }

  /** `refreshed`: the connection now lasts until the new expiry. */
  refreshed(expiresAt: number | undefined): void {
    this.#pendingId = null;
    this.schedule(expiresAt, null);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
