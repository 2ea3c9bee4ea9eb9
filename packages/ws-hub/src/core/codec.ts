/**
 * Wire codecs: how one kind of WebSocket client speaks. The native protocol is one codec; each
 * seed "dialect" (legacy front-ends on their own paths) is another. A transport binding owns the
 * socket; the codec translates between the socket's text and the hub's {@link Session}.
 * @module
 */
// Header names and value types only (the shape every Node server library shares), no Node request.
import type { IncomingHttpHeaders } from 'node:http';
import type { ChannelKind, ServerFrame } from '@taskpulse/protocol';
import type { HubCore } from './hub-core';
import type { Principal } from './principal';
import type { SerializedPublication } from './serialized';
import type { Session } from './session';

/**
 * The request that opened a connection, as the transport-neutral core sees it: built by the
 * binding from its own request object (Node's `IncomingMessage` for this package's WebSocket, SSE,
 * HTTP and Socket.IO bindings), so codecs, the `authenticate` hook and the core do not depend on
 * one server library.
 */
export interface ConnectionRequest {
  /** The request target as sent: path and query string (`/` when absent). */
  readonly url: string;
  /** The request headers, with lower-case names. */
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** The peer's address, when known. */
  readonly remoteAddress: string | undefined;
}

/** What a codec gets when a connection opens. */
export interface CodecContext {
  /** The hub core. */
  readonly core: HubCore;
  /** The request that opened the connection (the upgrade request, for WebSocket). */
  readonly request: ConnectionRequest;
  /** The parsed request URL (query parameters of legacy clients live here). */
  readonly url: URL;
  /** The authenticated principal. */
  readonly principal: Principal;
}

/** One open connection as seen by a codec. */
export interface CodecConnection {
  /**
   * Text to send right after the connection opens (the native `welcome`, seed 001's
   * `connected`), or null for nothing.
   */
  greeting(): string | null;
  /** Handles one text frame from the client (decode, then drive the session). Never throws. */
  onText(text: string): void;
  /** Encodes a publication for this client; null drops it (not for this client). */
  encodePublication(publication: SerializedPublication, kind: ChannelKind): string | null;
  /**
   * Encodes a control frame (subscribed, error, pong…) for this client; null drops it.
   * `text` is the native serialization of `frame`.
   */
  encodeControl(frame: ServerFrame, text: string): string | null;
  /** Whether publications of this codec may be merged into one native `batch` frame. */
  readonly batchable: boolean;
  /** Called once when the connection ends. */
  onClose?(): void;
}

/**
 * A wire codec mounted on a WebSocket path.
 *
 * @example a codec that only forwards bare publication data
 * ```ts
 * const bare: WireCodec = {
 *   name: 'bare',
 *   open: (ctx, session) => ({
 *     batchable: false,
 *     greeting: () => null,
 *     onText: () => {},
 *     encodePublication: (p) => JSON.stringify(p.pub.data),
 *     encodeControl: () => null,
 *   }),
 * };
 * ```
 */
export interface WireCodec {
  /** Transport name in stats and metrics, e.g. `websocket` or `processor-status`. */
  readonly name: string;
  /**
   * Returns the client id to use for the session (seed 001's `old_client_id` reuse), or undefined
   * for a fresh one.
   */
  clientIdFor?(context: CodecContext): string | undefined;
  /** Opens the codec side of a connection whose session was just created. */
  open(context: CodecContext, session: Session): CodecConnection;
}

// One small object per connection with its methods on the prototype (closures would cost a
// function and a context each per connection).
class NativeConnection implements CodecConnection {
  readonly #session: Session;
  constructor(session: Session) {
    this.#session = session;
  }
  get batchable(): boolean {
    return true;
  }
  greeting(): string {
    return this.#session.welcomeFrame();
  }
  onText(text: string): void {
    this.#session.handleText(text);
  }
  encodePublication(publication: SerializedPublication): string {
    return publication.frame;
  }
  encodeControl(_frame: ServerFrame, text: string): string {
    return text;
  }
}

/** The native taskpulse protocol codec: frames pass through unchanged; publications batch. */
export const nativeCodec: WireCodec = {
  name: 'websocket',
  open: (_context, session) => new NativeConnection(session),
};
