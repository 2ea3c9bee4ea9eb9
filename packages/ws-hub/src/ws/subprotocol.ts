/**
 * Protocol version negotiation on the native endpoint, through `Sec-WebSocket-Protocol` (as
 * graphql-ws does): a client offers `taskpulse.v1`; the server selects it, or — when the client
 * offers only versions it does not speak — completes the upgrade (echoing the first protocol
 * offered: browsers fail a handshake that answers none) and closes at once with 4426
 * `unsupported_version`, a code browsers can read (an HTTP refusal they cannot). A client that
 * offers nothing speaks version 1.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode, type ErrorFrame, WS_SUBPROTOCOL } from '@taskpulse/protocol';
import type { WebSocket } from 'ws';

/** The subprotocols a request offers (`Sec-WebSocket-Protocol`, comma-separated). */
export function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/**
 * The subprotocol the server answers with: `taskpulse.v1` on the native endpoint when offered;
 * otherwise the first one offered (on the native endpoint the connection is then closed with
 * 4426 right away; dialects' seed clients choose their own).
 */
export function selectSubprotocol(offered: ReadonlySet<string>, native: boolean): string | false {
  if (native && offered.has(WS_SUBPROTOCOL)) return WS_SUBPROTOCOL;
  const first = offered.values().next();
  return first.done ? false : first.value;
}

/** Whether a native client offered subprotocols but not one this server speaks. */
export function isUnsupportedVersion(request: IncomingMessage): boolean {
  const offered = offeredSubprotocols(request);
  return offered.length > 0 && !offered.includes(WS_SUBPROTOCOL);
}

/** Tells the client why with an error frame, then closes with 4426. */
export function refuseVersion(ws: WebSocket, offered: readonly string[]): void {
  ws.on('error', () => {
    // the peer may be gone already; the close handshake is best effort
  });
  const frame: ErrorFrame = {
    type: 'error',
    code: 'unsupported_version',
    message: `unsupported protocol version (offered ${offered.join(', ')}): this server speaks ${WS_SUBPROTOCOL}`,
  };
  ws.send(JSON.stringify(frame));
  ws.close(CloseCode.UnsupportedVersion, `unsupported protocol version; use ${WS_SUBPROTOCOL}`);
}
