import { fork } from 'node:child_process';
import WebSocket from 'ws';
import { startRedis } from '@taskpulse/testkit';
import { createRedisBroker } from '@taskpulse/redis-bridge';
import { createHub } from '@taskpulse/ws-hub';
const N = Number(process.argv[2] ?? 1000);
const kind = process.argv[3] ?? 'hub';
if (kind === 'client') {
  const port = Number(process.argv[4]);
  let ready = 0;
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
    ws.on('message', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('"welcome"')) ws.send(JSON.stringify({ type: 'subscribe', channel: 'bench:one' }));
      if (s.includes('"subscribed"') && ++ready === N) process.send?.('ready');
    });
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 20));
  }
} else {
  const redis = await startRedis();
  const broker = createRedisBroker({ redis: redis.url, namespaces: { bench: { kind: 'events', historySize: 100 } } });
  await broker.ready();
  const hub = createHub({ broker, host: '127.0.0.1', port: 0, path: '/ws', heartbeatIntervalMs: Number(process.env.HB ?? 25000),
    limits: { maxConnections: 100000, maxConnectionsPerUser: 100000 } });
  await hub.listening;
  const port = hub.address()!.port;
  const child = fork(process.argv[1]!, [String(N), 'client', String(port)], { execArgv: process.execArgv });
  await new Promise((r) => child.once('message', r));
  console.log('READY', process.pid);
  await new Promise((r) => setTimeout(r, Number(process.env.HOLD ?? 60000)));
  child.kill();
  await hub.close(); await broker.close(); await redis.stop?.();
  process.exit(0);
}
