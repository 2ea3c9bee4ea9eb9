/** Starting hubs for tests: standalone on 127.0.0.1, port 0. */
import { createHub, type Hub, type HubOptions } from '../../src/index';

/** A hub listening on a free loopback port, with its URLs. */
export interface TestHub {
  hub: Hub;
  /** `http://127.0.0.1:PORT` */
  httpUrl: string;
  /** `ws://127.0.0.1:PORT/taskpulse/ws` (or the configured path) */
  wsUrl: string;
  close(): Promise<void>;
}

/** Starts a standalone hub on 127.0.0.1 with a free port. */
export async function startHub(options: HubOptions = {}): Promise<TestHub> {
  const hub = createHub({ port: 0, host: '127.0.0.1', ...options });
  await hub.listening;
  const address = hub.address();
  if (!address) throw new Error('hub is not listening');
  const httpUrl = `http://127.0.0.1:${address.port}`;
  return {
    hub,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${address.port}${options.path ?? '/taskpulse/ws'}`,
    close: () => hub.close(),
  };
}
