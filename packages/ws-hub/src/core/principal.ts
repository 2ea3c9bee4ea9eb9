/**
 * Who is connected, and what they may do.
 * @module
 */
import { type NamespaceOptions, parseChannel } from '@taskpulse/protocol';

/** The authenticated identity behind a connection or request. */
export interface Principal {
  /** The user id (seed 001 `user_id`); absent for anonymous connections. */
  userId?: string;
  /** Projects the principal belongs to (seed 001 `project_id`). */
  projectIds?: string[];
  /** Raw claims (for example the JWT payload), for custom authorization. */
  claims?: Record<string, unknown>;
  /**
   * When the credentials expire, in ms since the Unix epoch. A live connection is closed with
   * 4401 at that time unless its client refreshed them in place (see the hub's `verifyToken`).
   * Absent: the connection does not expire. The JWT authenticator sets it from `exp`.
   */
  expiresAt?: number;
}

/** What a principal wants to do with a channel. */
export type ChannelAction = 'subscribe' | 'publish' | 'read';

/** Decides whether a principal may act on a channel. May be async. */
export type AuthorizeFn = (
  principal: Principal,
  channel: string,
  action: ChannelAction,
  namespace: NamespaceOptions,
) => boolean | Promise<boolean>;

/**
 * The default authorization, deny-by-default for per-user and per-project namespaces:
 * - `access: 'user'` — only when `principal.userId` equals the channel key (user 42 never reads `user:43`);
 * - `access: 'project'` — only when `principal.projectIds` contains the channel key;
 * - `access: 'none'` — never;
 * - `access: 'public'` — always;
 * - `publish` additionally needs `clientPublish: true` on the namespace.
 */
export function defaultAuthorize(
  principal: Principal,
  channel: string,
  action: ChannelAction,
  namespace: NamespaceOptions,
): boolean {
  if (action === 'publish' && !namespace.clientPublish) return false;
  const { key } = parseChannel(channel);
  switch (namespace.access) {
    case 'public':
      return true;
    case 'user':
      return principal.userId !== undefined && key === principal.userId;
    case 'project':
      return principal.projectIds?.includes(key) ?? false;
    default:
      return false;
  }
}
