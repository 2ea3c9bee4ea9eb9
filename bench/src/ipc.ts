/**
 * A tiny request/response layer over Node's child-process IPC channel, used between the
 * orchestrator (`run.ts`) and its children (servers, publisher, load generators).
 *
 * Parent → child: `{ id, cmd, args }`. Child → parent: `{ id, ok, result }` / `{ id, ok: false, error }`,
 * plus unsolicited `{ event, data }` messages (progress reports).
 */
import type { ChildProcess } from 'node:child_process';

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

interface Response {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

interface EventMessage {
  event: string;
  data: unknown;
}

/** Handlers a child serves, by command name. */
export type Handlers = Record<string, (args: never) => unknown>;

/**
 * Serves `handlers` over this process's IPC channel. The child exits when the parent goes away
 * (IPC disconnect), so an orchestrator killed with SIGKILL never leaves servers behind.
 */
export function serveIpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this script is a benchmark child: run it through `npm run bench`');
  process.on('message', async (raw: unknown) => {
    const req = raw as Request;
    if (typeof req?.id !== 'number' || typeof req.cmd !== 'string') return;
    const handler = handlers[req.cmd] as ((args: unknown) => unknown) | undefined;
    if (req.id === 0) {
      // a notification (see ChildHandle.notify): no reply
      handler?.(req.args);
      return;
    }
    let reply: Response;
    try {
      if (!handler) throw new Error(`unknown command ${req.cmd}`);
      reply = { id: req.id, ok: true, result: await handler(req.args) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    if (process.connected) process.send?.(reply);
  });
  process.on('disconnect', () => process.exit(0));
}

/** Sends an unsolicited event to the parent (dropped when the parent is gone). */
export function emitToParent(event: string, data: unknown): void {
  if (process.connected) process.send?.({ event, data } satisfies EventMessage);
}

/** The parent's view of one child: typed calls with timeouts, events, and a hard kill. */
export class ChildHandle {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly listeners = new Map<string, Set<(data: unknown) => void>>();
  private exited = false;
  /** Resolves when the process has exited. */
  readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (raw: unknown) => {
      const msg = raw as Response & EventMessage;
      if (typeof msg?.event === 'string') {
        for (const l of this.listeners.get(msg.event) ?? []) l(msg.data);
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.name}: ${msg.error ?? 'failed'}`));
    });
    this.exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = true;
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) during a call`));
        }
        this.pending.clear();
        resolve();
      });
    });
  }

  /** The child's pid. */
  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Calls a command in the child; rejects after `timeoutMs`. */
  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Sends a fire-and-forget command (no reply expected; used for high-rate progress relays). */
  notify(cmd: string, args: unknown): void {
    if (!this.exited && this.proc.connected) this.proc.send({ id: 0, cmd, args } satisfies Request);
  }

  /** Subscribes to an event the child emits. Returns an unsubscribe function. */
  on(event: string, listener: (data: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Kills the child with SIGKILL and waits for it to exit. */
  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Asks the child to stop (`close` command), then kills it if it does not exit in time. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    try {
      await this.call('close', {}, timeoutMs);
    } catch {
      // a child that cannot close cleanly is killed below
    }
    this.proc.disconnect?.();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}
