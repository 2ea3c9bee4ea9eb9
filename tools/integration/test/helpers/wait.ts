/**
 * Waiting helpers for tests: conditions, not durations.
 *
 * Copied from packages/ws-hub/test (importing ws-hub by its package name): the testkit cannot
 * hold it, because ws-hub's own tests import the testkit and the testkit would import ws-hub.
 */

/** Resolves once `condition()` is truthy (polled every `intervalMs`); rejects after `timeoutMs`. */
export async function waitUntil(
  condition: () => unknown | Promise<unknown>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Yields to the event loop once (lets setImmediate work such as the hub's write flush run). */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
