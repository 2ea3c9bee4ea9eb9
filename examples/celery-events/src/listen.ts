/**
 * Listening with a clear error when the port is taken.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The port is in use; the message names `PORT`. */
export class PortInUseError extends Error {
  /** The port asked for. */
  readonly port: number;

  constructor(port: number) {
    super(
      `port ${port} is already in use: stop what runs there or choose another port, e.g. PORT=${port + 1} npm start -w @taskpulse/example-celery-events`,
    );
    this.name = 'PortInUseError';
    this.port = port;
  }
}

/** Listens and resolves with the address. @throws {@link PortInUseError} when the port is taken */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port) : error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The page URL for an address. */
export function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}/`;
}
