/**
 * The WebSocket binding of the hub core: upgrade pipeline (origin, authentication, admission),
 * one `ws` server in `noServer` mode for every mounted path (native protocol and dialects),
 * coalesced writes, heartbeats and idle timeouts on one shared timer.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TaskpulseError } from '@taskpulse/protocol';
import { type PerMessageDeflateOptions, type WebSocket, WebSocketServer } from 'ws';
import { type CodecContext, nativeCodec, type WireCodec } from '../core/codec';
import type { HubCore } from '../core/hub-core';
import type { OutboundSettings } from '../core/outbound-queue';
import type { Principal } from '../core/principal';
import { connectionRequest } from '../http/connection-request';
import { parseRequestUrl } from '../request-url';
import { HeartbeatMonitor } from './heartbeat';
import { rejectUpgrade } from './reject-upgrade';
import { isUnsupportedVersion, offeredSubprotocols, refuseVersion, selectSubprotocol } from './subprotocol';
import { HubWebSocket, WsConnection, type WsConnectionShared, type WsMountState } from './ws-connection';

/** A wire codec mounted on a WebSocket path. */
export interface WsMount {
  /** The request path (without query string), e.g. `/taskpulse/ws`. */
  path: string;
  /** How clients on this path speak. */
  codec: WireCodec;
}

/** Options of {@link createWsBinding}. */
export interface WsBindingOptions {
  /** The paths served and their codecs. */
  mounts: readonly WsMount[];
  /**
   * Per-message compression. Off by default: it costs CPU per message and per socket, and the
   * pre-framed fast path (one encoding per publication for all sockets) needs it off.
   * @default false
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Live numbers of the WebSocket binding. */
export interface WsStats {
  /** Open WebSocket connections. */
  connections: number;
  /** Bytes queued by the hub for all connections (not yet written to their sockets). */
  queuedBytes: number;
  /** Bytes written to sockets but not yet taken by the kernel. */
  socketBufferedBytes: number;
  /** The largest backlog (queue + socket buffer) seen for one backed-up connection since start. */
  peakBacklogBytes: number;
  /** Connections cut for reading too slowly since start. */
  slowConsumerDisconnects: number;
}

/** The WebSocket side of a hub. */
export interface WsBinding {
  /** The mounted paths. */
  readonly paths: readonly string[];
  /**
   * Takes an upgrade request when its path is mounted (returns true; the socket is the binding's
   * from then on), or returns false and leaves the socket alone.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Live numbers. */
  stats(): WsStats;
  /**
   * Refuses new upgrades (503 `shutting_down`), closes every connection with `code` after
   * writing what is pending, waits up to `timeoutMs` for the closing handshakes, then cuts the
   * rest. Idempotent.
   */
  close(code?: number, reason?: string, timeoutMs?: number): Promise<void>;
}

/** ws closes frames above `maxPayload` itself (1009); the session answers those in between. */
function maxPayloadFor(maxFrameBytes: number): number {
  return maxFrameBytes + Math.max(1024, Math.ceil(maxFrameBytes / 4));
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function requestUrl(request: IncomingMessage): URL {
  // An unparsable target still gets a connection (its path already matched); the codec sees `/`.
  return parseRequestUrl(request.url) ?? new URL('http://localhost/');
}

function swallow(): void {
  // A client may reset its socket while it is being authenticated; that is not our error.
}

/** Creates the WebSocket binding of a hub core. */
export function createWsBinding(core: HubCore, options: WsBindingOptions): WsBinding {
  const codecs = new Map<string, WireCodec>();
  for (const mount of options.mounts) {
    if (codecs.has(mount.path)) {
      throw new TaskpulseError('bad_request', `two WebSocket codecs are mounted on ${mount.path}`);
    }
    codecs.set(mount.path, mount.codec);
  }
  const { logger, metrics, limits } = core;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: options.perMessageDeflate ?? false,
    maxPayload: maxPayloadFor(limits.maxFrameBytes),
    WebSocket: HubWebSocket,
    // Version negotiation: `taskpulse.v1` on the native path (see ./subprotocol).
    handleProtocols: (offered, request) =>
      selectSubprotocol(offered, mounts.get(pathOf(request.url))?.state.native ?? false),
  });
  const connections = new Set<WsConnection>();
  const scheduler = core.outbound;
  let peakBacklogBytes = 0;
  let slowConsumers = 0;
  let closing: Promise<void> | undefined;
  const closeWaiters = new Set<() => void>();

  const shared: WsConnectionShared = {
    logger,
    onClosed(connection) {
      connections.delete(connection);
      heartbeat.remove(connection);
      if (connections.size === 0) for (const wake of closeWaiters) wake();
    },
  };

  const heartbeat = new HeartbeatMonitor({
    heartbeatIntervalMs: core.heartbeatIntervalMs,
    pongTimeoutMs: core.pongTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    onDeadPeer: () => metrics.rejections.inc({ reason: 'heartbeat_timeout' }),
    onIdle: () => metrics.rejections.inc({ reason: 'idle_timeout' }),
  });

  // One state per path, and one delivery counter per transport name (label lookups happen here,
  // never per delivery).
  const outbound = new Map<string, OutboundSettings>();
  const mounts = new Map<string, { codec: WireCodec; state: WsMountState }>();
  for (const [path, codec] of codecs) {
    let settings = outbound.get(codec.name);
    if (!settings) {
      settings = {
        scheduler,
        counter: scheduler.counter(metrics.deliveries.labels({ transport: codec.name })),
        maxBufferedBytes: limits.maxBufferedBytes,
        maxBatchBytes: 256 * 1024,
        onSlowConsumer() {
          slowConsumers++;
          metrics.slowConsumerDisconnects.inc();
          metrics.rejections.inc({ reason: 'slow_consumer' });
        },
        onBackpressure(bytes) {
          if (bytes > peakBacklogBytes) peakBacklogBytes = bytes;
        },
      };
      outbound.set(codec.name, settings);
    }
    mounts.set(path, {
      codec,
      state: { name: codec.name, native: codec === nativeCodec, outbound: settings, shared },
    });
  }

  function open(
    ws: WebSocket,
    request: IncomingMessage,
    mount: { codec: WireCodec; state: WsMountState },
    principal: Principal,
  ): void {
    const { codec, state } = mount;
    if (state.native && isUnsupportedVersion(request)) {
      metrics.rejections.inc({ reason: 'unsupported_version' });
      metrics.errors.inc({ code: 'unsupported_version' });
      refuseVersion(ws, offeredSubprotocols(request));
      return;
    }
    if (state.native) {
      // The native codec is driven by the connection itself: no context, no codec object.
      const connection = new WsConnection(ws, state, core.heartbeatIntervalMs);
      connections.add(connection);
      connection.attach(core.openSession(principal, connection), undefined);
      heartbeat.add(connection);
      return;
    }
    const context: CodecContext = { core, request: connectionRequest(request), url: requestUrl(request), principal };
    let clientId: string | undefined;
    try {
      clientId = codec.clientIdFor?.(context);
    } catch (error) {
      logger.warn('codec could not derive a client id', { error: String(error) });
    }
    const connection = new WsConnection(ws, state, core.heartbeatIntervalMs);
    const session = core.openSession(principal, connection, clientId);
    connections.add(connection);
    try {
      connection.attach(session, codec.open(context, session));
      heartbeat.add(connection);
    } catch (error) {
      logger.error('codec failed to open a connection', { codec: codec.name, error: String(error) });
      session.close();
      connection.terminate();
    }
  }

  async function upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    mount: { codec: WireCodec; state: WsMountState },
  ): Promise<void> {
    socket.on('error', swallow);
    let principal: Principal;
    try {
      if (closing) throw new TaskpulseError('shutting_down', 'the hub is shutting down');
      const origin = request.headers.origin;
      try {
        core.checkOrigin(origin);
      } catch (error) {
        metrics.rejections.inc({ reason: 'origin' });
        throw error;
      }
      try {
        principal = await core.authenticate(connectionRequest(request));
      } catch (error) {
        metrics.rejections.inc({ reason: 'unauthorized' });
        throw error;
      }
      if (closing) throw new TaskpulseError('shutting_down', 'the hub is shutting down');
      // While the broker is down a connection could deliver nothing: 503 + Retry-After, so a page
      // backs off instead of reconnecting every second (its onopen would reset its backoff).
      core.assertBrokerReady();
      // Admission and session creation happen in the same synchronous block (ws calls back
      // synchronously), so two concurrent upgrades cannot both take the last slot.
      core.admit(principal);
    } catch (error) {
      const e = TaskpulseError.from(error, 'internal');
      metrics.errors.inc({ code: e.code });
      logger.debug?.('upgrade refused', { code: e.code, message: e.message, path: pathOf(request.url) });
      rejectUpgrade(socket, e);
      return;
    }
    socket.off('error', swallow);
    wss.handleUpgrade(request, socket, head, (ws) => open(ws, request, mount, principal));
  }

  return {
    paths: [...mounts.keys()],

    handleUpgrade(request, socket, head) {
      const mount = mounts.get(pathOf(request.url));
      if (!mount) return false;
      upgrade(request, socket, head, mount).catch((error) => {
        logger.error('upgrade failed', { error: String(error) });
        socket.destroy();
      });
      return true;
    },

    stats() {
      let queuedBytes = 0;
      let socketBufferedBytes = 0;
      for (const c of connections) {
        queuedBytes += c.queuedBytes;
        socketBufferedBytes += c.socketBufferedBytes;
      }
      return {
        connections: connections.size,
        queuedBytes,
        socketBufferedBytes,
        peakBacklogBytes,
        slowConsumerDisconnects: slowConsumers,
      };
    },

    close(code = 1001, reason = 'server shutting down', timeoutMs = 3000) {
      if (closing) return closing;
      closing = (async () => {
        heartbeat.stop();
        for (const c of [...connections]) c.close(code, reason);
        if (connections.size > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            const wake = () => {
              clearTimeout(timer);
              resolve();
            };
            closeWaiters.add(wake);
          });
          closeWaiters.clear();
        }
        // Peers that did not answer the closing handshake in time are cut.
        for (const c of [...connections]) c.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}
