/**
 * Seed 003's client code as it was written for its Socket.IO server, run against the taskpulse
 * hub's Socket.IO endpoint: the three `room:join` lines below are the seed's, unchanged. The rest
 * only shows what arrives.
 */
import { io } from 'socket.io-client';

const socket = io();

// ---- seed 003 (频道订阅机制 / 客户端订阅), unchanged ----
// 订阅特定测试进度
socket.emit('room:join', 'test-progress-stress_123');

// 订阅队列更新
socket.emit('room:join', 'queue-updates');

// 订阅测试历史
socket.emit('room:join', 'test-history-updates');
// ---- end of the seed's code ----

const log = document.getElementById('log') as HTMLUListElement;
const count = document.getElementById('count') as HTMLSpanElement;
const transport = document.getElementById('transport') as HTMLSpanElement;
let received = 0;
socket.on('connect', () => {
  transport.textContent = socket.io.engine.transport.name;
  socket.io.engine.on('upgrade', (t: { name: string }) => {
    transport.textContent = t.name;
  });
});
socket.onAny((event: string, message: unknown) => {
  if (event.startsWith('room:') || event.startsWith('connection:')) return;
  received++;
  count.textContent = String(received);
  const item = document.createElement('li');
  item.dataset.event = event;
  item.textContent = `${event} ${JSON.stringify(message)}`;
  log.prepend(item);
  while (log.children.length > 200) log.lastElementChild?.remove();
});
