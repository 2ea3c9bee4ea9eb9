/**
 * The Socket.IO endpoint: the real `socket.io` server attached beside the hub's native endpoints,
 * speaking seed 003's room protocol over hub sessions (same authentication, authorization,
 * limits and broker fan-out; no Socket.IO adapter).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TaskpulseError } from '@taskpulse/protocol';
import { channelForLegacyRoom, legacyRoomForChannel } from '@taskpulse/protocol/payloads';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';
import { connectionRequest } from '../http/connection-request';
import type { Hub } from '../hub';
import { SocketIoConnection } from './connection';
import { DEFAULT_SOCKETIO_LIMITS, type SocketIoEndpointOptions, type SocketIoLimits } from './options';
import type { SocketIoConnectError, SocketIoServerClass, SocketIoServerLike, SocketIoSocketLike } from './types';

/** A Socket.IO endpoint attached to a hub. */
export interface SocketIoEndpoint {
  /** The Socket.IO server (for your own event handlers and middlewares). */
  readonly io: SocketIoServerLike;
  /** Effective limits. */
  readonly limits: Readonly<SocketIoLimits>;
  /** Open Socket.IO connections. */
  connectionCount(): number;
  /** Disconnects every Socket.IO client and detaches from the HTTP server. Call before `hub.close()`. Idempotent. */
  close(): Promise<void>;
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

function connectError(error: TaskpulseError): SocketIoConnectError {
  const e: SocketIoConnectError = new Error(error.message);
  const status = (error.details as { status?: number } | undefined)?.status;
  e.data = { code: error.code, message: error.message, ...(status !== undefined ? { status } : {}) };
  return e;
}

async function loadServerClass(): Promise<SocketIoServerClass> {
  try {
    const module = (await import('socket.io')) as unknown as { Server: SocketIoServerClass };
    return module.Server;
  } catch (cause) {
    throw new TaskpulseError('internal', 'the Socket.IO endpoint needs the socket.io package: npm install socket.io', {
      cause,
    });
  }
}

/** Copies a Socket.IO `auth: {token}` into the request's Authorization header for the hub's authenticate hook. */
function withAuthToken(socket: SocketIoSocketLike): IncomingMessage {
  const request = socket.request;
  const token = socket.handshake.auth?.token;
  if (typeof token === 'string' && token.length > 0 && request.headers.authorization === undefined) {
    request.headers.authorization = `Bearer ${token}`;
  }
  return request;
}

/**
 * Attaches a Socket.IO endpoint to a hub's HTTP server. Clients keep their Socket.IO code:
 * `socket.emit('room:join', 'test-progress-stress_123')` subscribes (answered with `room:joined`,
 * or `room:error` `{ok: false, room, error: {code, message}}`; an ack callback gets the same
 * object instead), `room:leave` unsubscribes (`room:left`), and every publication of a joined
 * room arrives as `socket.emit(event, envelope)` in seed 003's envelope. Connections refused at
 * the handshake get `connect_error` with `err.data = {code, message, status}`; a connection cut
 * for inactivity first gets `connection:error` `{code: 'idle_timeout'}`. Several hub nodes on one
 * Redis broker serve the same rooms without the Socket.IO Redis adapter.
 *
 * @example
 * ```ts
 * import { Server } from 'socket.io';
 * const hub = createHub({ server, broker, namespaces: SEED_NAMESPACES });
 * const sio = await attachSocketIo(hub, { Server });
 * ```
 */
export async function attachSocketIo(hub: Hub, options: SocketIoEndpointOptions = {}): Promise<SocketIoEndpoint> {
  const server = options.server ?? hub.server;
  if (!server) throw new TypeError('attachSocketIo: the hub has no HTTP server; pass options.server');
  const core: HubCore = hub.core;
  const { logger } = core;
  const limits: Readonly<SocketIoLimits> = Object.freeze({ ...DEFAULT_SOCKETIO_LIMITS, ...options.limits });
  const path = options.path ?? '/socket.io';
  const roomToChannel = options.roomToChannel ?? channelForLegacyRoom;
  const channelToRoom = options.channelToRoom ?? legacyRoomForChannel;
  const Server = options.Server ?? (await loadServerClass());

  const io = new Server({
    ...options.serverOptions,
    path,
    serveClient: false,
    pingInterval: limits.heartbeatIntervalMs,
    pingTimeout: limits.heartbeatTimeoutMs,
    // The hub's own upgrade listener answers other paths; Engine.IO must not end them.
    destroyUpgrade: false,
  });

  const connections = new Set<SocketIoConnection>();
  const perUser = new Map<string, number>();
  const roomsByUser = new Map<string, Map<string, number>>();
  const admitted = new WeakMap<SocketIoSocketLike, SocketIoConnection>();

  /**
   * Takes the connection's slots and opens its hub session, in the same synchronous block as the
   * limit checks (Socket.IO fires `connection` a tick later: counting only then would let
   * concurrent handshakes past the limits). Released once, on whichever comes first: the socket's
   * disconnect or its Engine.IO connection closing (a client gone before `connection`).
   */
  const open = (socket: SocketIoSocketLike, principal: Principal): SocketIoConnection => {
    const user = principal.userId;
    // Anonymous connections get a ledger of their own (the limit is then per connection).
    const own = new Map<string, number>();
    const rooms = user === undefined ? own : (roomsByUser.get(user) ?? own);
    if (user !== undefined) {
      roomsByUser.set(user, rooms);
      perUser.set(user, (perUser.get(user) ?? 0) + 1);
    }
    const connection = new SocketIoConnection(
      socket,
      {
        reserve(room) {
          const n = rooms.get(room) ?? 0;
          if (n === 0 && rooms.size >= limits.maxRoomsPerUser) return false;
          rooms.set(room, n + 1);
          return true;
        },
        release(room) {
          const n = (rooms.get(room) ?? 1) - 1;
          if (n <= 0) rooms.delete(room);
          else rooms.set(room, n);
        },
      },
      { roomToChannel, channelToRoom },
      logger,
      {
        maxBufferedPackets: limits.maxBufferedPackets,
        onSlowConsumer: () => core.metrics.rejections.inc({ reason: 'slow_consumer' }),
      },
    );
    connection.session = core.openSession(principal, connection);
    connections.add(connection);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      connection.closed();
      connections.delete(connection);
      if (user !== undefined) {
        const n = (perUser.get(user) ?? 1) - 1;
        if (n <= 0) perUser.delete(user);
        else perUser.set(user, n);
        if (rooms.size === 0 && !perUser.has(user)) roomsByUser.delete(user);
      }
    };
    socket.conn?.once('close', release);
    socket.on('disconnect', release);
    return connection;
  };

  io.use((socket, next) => {
    void (async () => {
      try {
        core.checkOrigin(socket.request.headers.origin);
        const principal = await core.authenticate(connectionRequest(withAuthToken(socket)));
        core.assertBrokerReady();
        if (connections.size >= limits.maxConnections) {
          core.metrics.rejections.inc({ reason: 'max_connections' });
          throw new TaskpulseError('too_many_connections', 'the Socket.IO endpoint is at its connection limit', {
            details: { status: 503, limit: limits.maxConnections },
          });
        }
        const user = principal.userId;
        if (user !== undefined && (perUser.get(user) ?? 0) >= limits.maxConnectionsPerUser) {
          core.metrics.rejections.inc({ reason: 'max_connections_per_user' });
          throw new TaskpulseError('too_many_connections', `user ${user} has too many connections`, {
            details: { status: 429, limit: limits.maxConnectionsPerUser },
          });
        }
        // Gone while the authentication was pending: its `close` has fired already, so a session
        // opened now would never be released (and would hold one of the user's slots forever).
        const state = socket.conn?.readyState;
        if (state !== undefined && state !== 'open') {
          throw new TaskpulseError('bad_request', 'the client went away during the handshake');
        }
        core.admit(principal);
        admitted.set(socket, open(socket, principal));
        next();
      } catch (error) {
        const e = TaskpulseError.from(error, 'unauthorized');
        core.metrics.errors.inc({ code: e.code });
        logger.debug?.('socket.io connection refused', { code: e.code, message: e.message });
        next(connectError(e));
      }
    })();
  });

  io.on('connection', (socket) => {
    const connection = admitted.get(socket);
    if (!connection) {
      socket.disconnect(true);
      return;
    }
    socket.on('room:join', (room, ack) =>
      connection.join(room, typeof ack === 'function' ? (ack as never) : undefined),
    );
    socket.on('room:leave', (room, ack) =>
      connection.leave(room, typeof ack === 'function' ? (ack as never) : undefined),
    );
    // Seed 003's application-level heartbeat (Engine.IO's ping/pong runs underneath anyway).
    socket.on('heartbeat:ping', () => {
      connection.lastActivityAt = Date.now();
      socket.emit('heartbeat:pong', { timestamp: Date.now() });
    });
    socket.onAny(() => {
      connection.lastActivityAt = Date.now();
    });
  });

  // Idle sweep: a few times per idle period, so a connection goes within ~1.25 × idleTimeoutMs.
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const c of connections) {
        if (now - c.lastActivityAt >= limits.idleTimeoutMs) {
          core.metrics.rejections.inc({ reason: 'idle' });
          c.idle(limits.idleTimeoutMs);
        }
      }
    },
    Math.max(10, Math.min(30_000, Math.floor(limits.idleTimeoutMs / 4))),
  );
  sweep.unref?.();

  // Upgrade listeners already on the server (the hub's) would refuse the Socket.IO path with a
  // 404 in standalone mode: they now see every upgrade except those of the Socket.IO path.
  const previousUpgrade = server.listeners('upgrade') as UpgradeListener[];
  const previousRequest = server.listeners('request');
  const isSocketIo = (url: string | undefined) =>
    url === path || (url ?? '').startsWith(`${path}/`) || (url ?? '').startsWith(`${path}?`);
  io.attach(server);
  for (const listener of previousUpgrade) {
    const filter: UpgradeListener = (request, socket, head) => {
      if (!isSocketIo(request.url)) listener.call(server, request, socket, head);
    };
    server.off('upgrade', listener);
    server.on('upgrade', filter);
  }

  /** Puts back the listeners the server had before (Engine.IO's and the filters go). */
  const restore = (event: 'request' | 'upgrade', previous: readonly unknown[]) => {
    for (const l of server.listeners(event)) if (!previous.includes(l)) server.off(event, l as never);
    for (const l of previous) if (!server.listeners(event).includes(l as never)) server.on(event, l as never);
  };

  let closing: Promise<void> | undefined;
  return {
    io,
    limits,
    connectionCount: () => connections.size,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        for (const c of [...connections]) c.close(1001, 'server shutting down');
        // Not io.close(): it would close the HTTP server too, which belongs to the hub or the app.
        (io as unknown as { engine?: { close(): void } }).engine?.close();
        restore('upgrade', previousUpgrade);
        restore('request', previousRequest);
      })();
      return closing;
    },
  };
}
