/**
 * Who may touch the system channels: the hub checks this before any authorization hook, so no
 * hook (and no namespace table) can open them to anyone else.
 * @module
 */

import { isSystemChannel, TaskpulseError } from '@taskpulse/protocol';
import type { TokenRequest } from '../auth/token';
import type { ChannelAction, Principal } from '../core/principal';
import { isOpsPrincipal } from './ops-credential';

/** The source name of the hub's own publications into the system channels. */
export const SYSTEM_SOURCE = 'system';

/**
 * The hooks the operations dashboard installs on a hub core (`core.ops`).
 * @internal
 */
export interface OpsHooks {
  /** The operations principal for a request that carries the credential, else null. */
  principalFor(request: TokenRequest): Principal | null;
  /** Called once per publication fanned out on this node, with its number of local listeners. */
  onFanout(publication: { readonly channel: string }, listeners: number): void;
  /** Called on every broker status check of the core (every `brokerCheckIntervalMs`). */
  onBrokerCheck(): void;
}

/**
 * Decides the system part of an authorization:
 * - a system channel: the operations principal may subscribe and read; everyone else, and every
 *   publish, is refused with `forbidden`;
 * - another channel: the operations principal is refused (it is a credential for the dashboard,
 *   not a user); anyone else goes on to the hub's authorization.
 * @returns true when the action is allowed here (skip the hook), false when the hook decides
 * @throws TaskpulseError `forbidden`
 * @internal
 */
export function authorizeSystem(principal: Principal, channel: string, action: ChannelAction): boolean {
  const ops = isOpsPrincipal(principal);
  if (isSystemChannel(channel)) {
    if (ops && action !== 'publish') return true;
    throw new TaskpulseError(
      'forbidden',
      action === 'publish'
        ? 'system channels are written by the hubs only'
        : 'system channels need the operations credential',
      { details: { channel } },
    );
  }
  if (ops) {
    throw new TaskpulseError('forbidden', 'the operations credential reads system channels only', {
      details: { channel },
    });
  }
  return false;
}

/**
 * Refuses server-side publishes into the system channels (`POST /publish` with a publish key,
 * `hub.core.publish`) unless they come from the hub's own figures publisher.
 * @throws TaskpulseError `forbidden`
 * @internal
 */
export function guardSystemPublish(channel: string, source: string): void {
  if (source !== SYSTEM_SOURCE && isSystemChannel(channel)) {
    throw new TaskpulseError('forbidden', 'system channels are written by the hubs only', { details: { channel } });
  }
}
