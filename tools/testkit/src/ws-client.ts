/**
 * A small Node WebSocket client speaking the native taskpulse protocol, for tests.
 *
 * It records every frame, flattens `publication` and `batch` frames into one ordered list,
 * keeps the last position of every channel (as a real client would, to resume), and checks the
 * no-gap / no-duplicate guarantee of events channels as publications arrive.
 *
 * @example
 * ```ts
 * const c = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`, { token });
 * await c.subscribe('task:1');
 * await c.waitForPublications('task:1', 3);
 * await c.close();
 * ```
 */
import type {
  ChannelKind,
  ErrorFrame,
  Publication,
  ServerFrame,
  StreamPosition,
  SubscribedFrame,
  WelcomeFrame,
} from '@taskpulse/protocol';
import WebSocket from 'ws';

/** Options of {@link TestClient.connect}. */
export interface TestClientOptions {
  /** Extra request headers (e.g. `authorization`). */
  headers?: Record<string, string>;
  /** The `Origin` header. */
  origin?: string;
  /** Appended as the `token` query parameter. */
  token?: string;
  /** Answer protocol pings (false simulates a dead peer). @default true */
  autoPong?: boolean;
  /** How long to wait for the welcome frame. @default 5000 */
  timeoutMs?: number;
  /** Largest frame the client accepts. @default 100 MiB */
  maxPayload?: number;
}

/** How the server closed the connection. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A refused upgrade: the HTTP status and the parsed JSON body. */
export interface Rejection {
  status: number;
  body: { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null;
}

function withToken(url: string, token: string | undefined): string {
  if (token === undefined) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

/** A test client over a real WebSocket. */
export class TestClient {
  /** The underlying socket. */
  readonly ws: WebSocket;
  /** Every frame received, in order (batch frames as they came). */
  readonly frames: ServerFrame[] = [];
  /** Every publication received (batch frames flattened), in order. */
  readonly publications: Publication[] = [];
  /** Last position per channel (resume from here). */
  readonly positions = new Map<string, StreamPosition>();
  /** Kind per subscribed channel. */
  readonly kinds = new Map<string, ChannelKind>();
  /** Gaps or duplicates seen on events channels (must stay empty). */
  readonly violations: string[] = [];
  /** Raw text frames that were not valid JSON (must stay empty). */
  readonly garbage: string[] = [];
  /** Resolves when the connection closes. */
  readonly closed: Promise<CloseInfo>;
  /** Set once closed. */
  closeInfo: CloseInfo | undefined;
  /** Number of protocol pings received. */
  pings = 0;
  #welcome: WelcomeFrame | undefined;
  #nextId = 1;
  readonly #listeners = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.#notify();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {
      // surfaced through `closed` / connect rejection
    });
    ws.on('ping', () => {
      this.pings++;
      this.#notify();
    });
    ws.on('message', (data) => this.#onText(data.toString()));
  }

  /** Connects and waits for the welcome frame. Rejects with a {@link Rejection}-carrying error when refused. */
  static async connect(url: string, options: TestClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(withToken(url, options.token), {
      headers: options.headers ?? {},
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
      autoPong: options.autoPong ?? true,
      perMessageDeflate: false,
      maxPayload: options.maxPayload ?? 100 * 1024 * 1024,
    });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          let parsed: Rejection['body'] = null;
          try {
            parsed = JSON.parse(body);
          } catch {
            parsed = null;
          }
          reject(
            Object.assign(new Error(`upgrade refused with ${res.statusCode}`), {
              rejection: { status: res.statusCode ?? 0, body: parsed } satisfies Rejection,
            }),
          );
          ws.terminate();
        });
      });
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.waitUntil(() => client.#welcome !== undefined, 'welcome frame', options.timeoutMs ?? 5000);
    return client;
  }

  /** Tries to connect and returns the HTTP refusal (throws when the upgrade succeeds). */
  static async expectRejected(url: string, options: TestClientOptions = {}): Promise<Rejection> {
    try {
      const client = await TestClient.connect(url, options);
      await client.close();
    } catch (error) {
      const rejection = (error as { rejection?: Rejection }).rejection;
      if (rejection) return rejection;
      throw error;
    }
    throw new Error('expected the upgrade to be refused, but it succeeded');
  }

  /** The welcome frame. */
  get welcome(): WelcomeFrame {
    if (!this.#welcome) throw new Error('no welcome frame yet');
    return this.#welcome;
  }

  /** Sends a frame (an object is serialized; a string is sent as is). */
  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh request id and resolves with the first frame carrying that id. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<ServerFrame> {
    const id = `r${this.#nextId++}`;
    this.send({ ...frame, id });
    return this.waitForFrame((f) => 'id' in f && f.id === id, `answer to ${JSON.stringify(frame)}`, timeoutMs);
  }

  /** Subscribes and resolves with the `subscribed` frame; throws with the error frame's code otherwise. */
  async subscribe(channel: string, since?: StreamPosition): Promise<SubscribedFrame> {
    if (since) this.positions.set(channel, { ...since });
    const answer = await this.request({ type: 'subscribe', channel, ...(since ? { since } : {}) });
    if (answer.type !== 'subscribed') {
      throw Object.assign(new Error(`subscribe ${channel} failed: ${JSON.stringify(answer)}`), { frame: answer });
    }
    return answer;
  }

  /** Subscribes and resolves with the answer, whatever it is (an error frame included). */
  subscribeRaw(channel: string, since?: StreamPosition): Promise<ServerFrame> {
    if (since) this.positions.set(channel, { ...since });
    return this.request({ type: 'subscribe', channel, ...(since ? { since } : {}) });
  }

  /** Error frames received. */
  errors(): ErrorFrame[] {
    return this.frames.filter((f): f is ErrorFrame => f.type === 'error');
  }

  /** Publications of one channel, in order. */
  publicationsOf(channel: string): Publication[] {
    return this.publications.filter((p) => p.channel === channel);
  }

  /** Resolves when `count` publications of `channel` arrived. */
  async waitForPublications(channel: string, count: number, timeoutMs = 10_000): Promise<Publication[]> {
    await this.waitUntil(
      () => this.publicationsOf(channel).length >= count,
      `${count} publications on ${channel} (have ${this.publicationsOf(channel).length})`,
      timeoutMs,
    );
    return this.publicationsOf(channel);
  }

  /** Resolves with the first frame (from `fromIndex`) matching `predicate`. */
  async waitForFrame(
    predicate: (frame: ServerFrame) => boolean,
    what: string,
    timeoutMs = 5000,
    fromIndex = 0,
  ): Promise<ServerFrame> {
    let found: ServerFrame | undefined;
    await this.waitUntil(
      () => {
        found = this.frames.slice(fromIndex).find(predicate);
        return found !== undefined;
      },
      what,
      timeoutMs,
    );
    return found as ServerFrame;
  }

  /** Resolves once `condition()` holds, re-checked on every frame, ping and close. */
  waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok = false;
        try {
          ok = condition();
        } catch (error) {
          done();
          reject(error);
          return;
        }
        if (ok) {
          done();
          resolve();
        } else if (this.closeInfo && !condition()) {
          // Closed and still not there: fail now with the close code instead of timing out.
          done();
          reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last frames: ${this.#tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
    });
  }

  /** Stops reading from the socket (the kernel buffers fill up and the server sees backpressure). */
  pauseReading(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  /** Reads again after {@link TestClient.pauseReading}. */
  resumeReading(): void {
    (this.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  /** Closes (normal closure) and waits for the close to complete. */
  async close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }

  #onText(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      this.garbage.push(text.slice(0, 200));
      this.#notify();
      return;
    }
    this.frames.push(frame);
    switch (frame.type) {
      case 'welcome':
        this.#welcome = frame;
        break;
      case 'subscribed':
        this.kinds.set(frame.channel, frame.kind);
        // With recovered: true the missed publications follow: the position stays where it was.
        if (frame.recovered !== true) this.positions.set(frame.channel, { epoch: frame.epoch, offset: frame.offset });
        break;
      case 'publication': {
        const { type: _type, ...pub } = frame;
        this.#onPublication(pub as Publication);
        break;
      }
      case 'batch':
        for (const p of frame.publications) this.#onPublication(p as Publication);
        break;
      default:
        break;
    }
    this.#notify();
  }

  #onPublication(p: Publication): void {
    const last = this.positions.get(p.channel);
    if (last && this.kinds.get(p.channel) !== 'state' && last.epoch === p.epoch && p.offset !== last.offset + 1) {
      this.violations.push(`${p.channel}: offset ${p.offset} after ${last.offset}`);
    }
    this.positions.set(p.channel, { epoch: p.epoch, offset: p.offset });
    this.publications.push(p);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #tail(): string {
    return JSON.stringify(this.frames.slice(-3)).slice(0, 500);
  }
}

/** Connects a client (shorthand for {@link TestClient.connect}). */
export function connectClient(url: string, options?: TestClientOptions): Promise<TestClient> {
  return TestClient.connect(url, options);
}
