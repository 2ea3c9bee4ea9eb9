/** Polls `condition` until it holds (or fails after `timeoutMs` with `message`). */
export async function waitUntil(condition: () => boolean, message: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
