/**
 * Starting hubs for tests: standalone on 127.0.0.1, port 0.
 *
 * Copied from packages/ws-hub/test (importing ws-hub by its package name): the testkit cannot
 * hold it, because ws-hub's own tests import the testkit and the testkit would import ws-hub.
 */
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { createHub, type Hub, type HubOptions } from '@taskpulse/ws-hub';

/**
 * The namespaces of a test hub that names none (and has no broker): the seeds' plus `chat`
 * (client publish). Unknown namespaces are refused, as in production.
 */
export const TEST_NAMESPACES = Object.freeze({ ...SEED_NAMESPACES, chat: { clientPublish: true } });

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
  const table = options.broker || options.namespaces ? {} : { namespaces: TEST_NAMESPACES };
  const hub = createHub({ port: 0, host: '127.0.0.1', ...table, ...options });
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
