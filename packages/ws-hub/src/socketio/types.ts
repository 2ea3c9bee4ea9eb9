/**
 * The parts of the `socket.io` server API the endpoint uses, as structural types: ws-hub never
 * imports `socket.io` at load time (it is an optional peer), and its type declarations do not
 * reference it either.
 * @module
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

/** What a refused Socket.IO client finds in `err.data` of its `connect_error`. */
export interface SocketIoRefusal {
  /** The error code (`unauthorized`, `too_many_connections`…). */
  code: string;
  /** A human-readable reason. */
  message: string;
  /** The HTTP status of the code, when it tells more (429 per user, 503 in all). */
  status?: number;
}

/** An error passed to a Socket.IO middleware's `next`: the client gets it as `connect_error`. */
export interface SocketIoConnectError extends Error {
  /** Sent to the client as `err.data`. */
  data?: SocketIoRefusal;
}

/** A Socket.IO handshake (the subset the endpoint uses). */
export interface SocketIoHandshakeLike {
  /** The client's `auth` option (`{token}` is passed to the hub's `authenticate`). */
  auth?: Record<string, unknown>;
  /** The handshake's query parameters. */
  query?: Record<string, unknown>;
}

/** An Engine.IO connection under a Socket.IO socket (the subset the endpoint uses). */
export interface SocketIoEngineConnectionLike {
  /** Engine.IO's state: `opening`, `open`, `closing` or `closed`. */
  readonly readyState?: string;
  /**
   * Engine.IO's `packetCreate` (a packet is queued) and `flush` (the queue is handed to the
   * transport, which happens only while the client keeps reading).
   */
  on(event: 'packetCreate' | 'flush', listener: () => void): unknown;
  /** Listens once to the connection's end. */
  once(event: 'close', listener: () => void): unknown;
}

/** A server-side Socket.IO socket (the subset the endpoint uses). */
export interface SocketIoSocketLike {
  /** The socket id. */
  readonly id: string;
  /** The handshake: `auth` payload and query of the connecting client. */
  readonly handshake: SocketIoHandshakeLike;
  /** The first HTTP request of the connection (headers, URL). */
  readonly request: IncomingMessage;
  /** Whether the socket is connected. */
  readonly connected: boolean;
  /** The underlying Engine.IO connection (closes when the client goes, connected or not). */
  readonly conn?: SocketIoEngineConnectionLike;
  /** Sends an event to the client. */
  emit(event: string, ...args: unknown[]): boolean;
  /** Listens to an event from the client. */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Listens to every event from the client. */
  onAny(listener: (event: string, ...args: unknown[]) => void): unknown;
  /** Disconnects; `true` closes the underlying connection. */
  disconnect(close?: boolean): unknown;
}

/** A Socket.IO server (the subset the endpoint uses). */
export interface SocketIoServerLike {
  /** Adds a connection middleware. */
  use(fn: (socket: SocketIoSocketLike, next: (error?: Error) => void) => void): unknown;
  /** Listens to connections. */
  on(event: 'connection', listener: (socket: SocketIoSocketLike) => void): unknown;
  /** Attaches to an HTTP server (its request and upgrade events on the Socket.IO path). */
  attach(server: HttpServer | HttpsServer): unknown;
  /** Closes every connection and detaches. */
  close(callback?: (error?: Error) => void): unknown;
}

/** The `Server` class of the `socket.io` package (`import { Server } from 'socket.io'`). */
export type SocketIoServerClass = new (options?: Record<string, unknown>) => SocketIoServerLike;
