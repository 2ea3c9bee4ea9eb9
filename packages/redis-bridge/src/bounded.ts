/**
 * Bounded commands: every Redis call waits for a connection in progress and for its reply within
 * `commandTimeoutMs`, fails at once while Redis is known to be down, and rejects with a
 * {@link TaskpulseError} — never hangs.
 * @module
 */
import { TaskpulseError } from '@taskpulse/protocol';
import type { Connection, RedisClient } from './connection';

const UNAVAILABLE_REPLIES = /^(CLUSTERDOWN|LOADING|TRYAGAIN|MASTERDOWN|READONLY|BUSY)/;

/** Maps anything ioredis throws to a {@link TaskpulseError}. @internal */
export function toTaskpulseError(error: unknown, what: string): TaskpulseError {
  if (error instanceof TaskpulseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const isReply = error instanceof Error && error.name === 'ReplyError';
  if (isReply && !UNAVAILABLE_REPLIES.test(message)) {
    return new TaskpulseError('internal', `${what} failed: ${message}`, { cause: error });
  }
  // Connection closed, stream not writeable, max retries, cluster all failed, timeouts…
  return new TaskpulseError('unavailable', `${what} failed: Redis is unavailable (${message})`, { cause: error });
}

function unavailable(what: string, reason: string): TaskpulseError {
  return new TaskpulseError('unavailable', `${what} failed: Redis is unavailable (${reason})`, {
    details: { reason },
  });
}

/**
 * One pending "wait for ready" per client, shared by every caller, so that a burst of commands
 * during a connect adds three listeners, not three per command.
 */
const readyWaits = new WeakMap<RedisClient, Promise<void>>();

function sharedReadyWait(client: RedisClient): Promise<void> {
  let wait = readyWaits.get(client);
  if (!wait) {
    wait = new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        client.off('ready', onReady);
        client.off('close', onClose);
        client.off('end', onClose);
        readyWaits.delete(client);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onClose = () => settle(new Error('connection closed'));
      client.on('ready', onReady);
      client.on('close', onClose);
      client.on('end', onClose);
    });
    wait.catch(() => {});
    readyWaits.set(client, wait);
  }
  return wait;
}

/**
 * Waits until `client` is ready, at most until `deadline` (ms since epoch). Rejects at once
 * with `unavailable` when the client is known to be disconnected (reconnecting, closed), so a
 * call never waits for a Redis that is down. @internal
 */
export function ensureReady(client: RedisClient, deadline: number, what: string): Promise<void> {
  const status = client.status;
  if (status === 'ready') return Promise.resolve();
  if (status === 'end' || status === 'close' || status === 'reconnecting' || status === 'disconnecting') {
    return Promise.reject(unavailable(what, `connection ${status}`));
  }
  if (status === 'wait') client.connect().catch(() => {});
  const wait = sharedReadyWait(client);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(unavailable(what, 'not connected in time')),
      Math.max(0, deadline - Date.now()),
    );
    timer.unref?.();
    wait.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: Error) => {
        clearTimeout(timer);
        reject(unavailable(what, error.message));
      },
    );
  });
}

/** Settles with `operation`'s outcome, or rejects with `unavailable` at `deadline`. */
function withDeadline<T>(operation: Promise<T>, deadline: number, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(unavailable(what, `no reply within ${timeoutMs} ms`)),
      Math.max(0, deadline - Date.now()),
    );
    timer.unref?.();
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(toTaskpulseError(error, what));
      },
    );
  });
}

/**
 * Runs one Redis operation with a bounded wait: waits for the connection (bounded), then for the
 * reply, both within `commandTimeoutMs`. Errors become {@link TaskpulseError}s. @internal
 */
export function bounded<T>(
  connection: Pick<Connection, 'commandTimeoutMs'>,
  client: RedisClient,
  what: string,
  operation: () => Promise<T>,
): Promise<T> {
  const timeoutMs = connection.commandTimeoutMs;
  const deadline = Date.now() + timeoutMs;
  // Fast path (the common case): no extra promise hop before the command is written.
  if (client.status === 'ready') return withDeadline(invoke(operation), deadline, timeoutMs, what);
  return ensureReady(client, deadline, what).then(() => withDeadline(invoke(operation), deadline, timeoutMs, what));
}

/** Calls `operation`, turning a synchronous throw into a rejection. */
function invoke<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}
