/**
 * The channel grammar of the protocol, checked before a name goes on the wire (kept here rather
 * than imported so the browser bundle does not pull the protocol's schemas).
 * @module
 */

const CHANNEL = /^[a-z][a-z0-9_-]{0,63}(?::[A-Za-z0-9\-_.:@/=+~]+)?$/;

/** Why `name` is not a valid channel name, or null when it is. @internal */
export function channelProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'channel must be a string';
  if (name.length === 0 || name.length > 200) return 'channel must have 1 to 200 characters';
  return CHANNEL.test(name) ? null : `"${name}" breaks the channel grammar (namespace[:key])`;
}

/** The namespace of a channel: the part before the first `:`. @internal */
export function namespaceOf(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? channel : channel.slice(0, i);
}
