import type { HubCore } from '../../src/core/hub-core';

/**
 * Router listeners of a channel other than the hub's watched-channel cache (the one listener a
 * polled channel keeps for a while after its last poll): sessions, SSE streams, waiting polls.
 */
export function activeListeners(core: HubCore, channel: string): number {
  return core.router.listenerCount(channel) - (core.watched.has(channel) ? 1 : 0);
}
