/** A TCP balancer for tests: forwards each new connection to the current target port. */
import { createServer, type Server, Socket } from 'node:net';

/** A running balancer. */
export interface TestProxy {
  port: number;
  url: string;
  /** Where new connections go. */
  target: number;
  close(): Promise<void>;
}

/** Starts a balancer on 127.0.0.1:0 forwarding to `target`. */
export async function startProxy(target: number): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const proxy: TestProxy = { port: 0, url: '', target, close: async () => {} };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = new Socket();
    track(upstream);
    upstream.connect(proxy.target, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  proxy.port = typeof address === 'object' && address ? address.port : 0;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}
