/**
 * The SSE response on the wire, read from a raw socket: HTTP/1.1 streams are chunked, and each
 * event goes out as exactly one well-formed chunk (the binding writes events to the socket
 * itself, pre-framed); an HTTP/1.0 client gets the same events close-delimited; a response whose
 * `write` is wrapped (a compression middleware) keeps going through it; the stream ends with the
 * terminating chunk.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, type Hub } from '../src/index';
import { waitUntil } from './helpers/wait';

let hub: Hub | undefined;
let server: Server | undefined;
let socket: Socket | undefined;
/** Calls of the wrapping `write` installed by `start(true)`. */
let wrapperCalls = 0;

afterEach(async () => {
  socket?.destroy();
  await hub?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  hub = undefined;
  server = undefined;
});

async function start(wrapWrite = false): Promise<number> {
  server = createServer();
  hub = createHub({ server, namespaces: SEED_NAMESPACES, http: { sseHeartbeatIntervalMs: 0 } });
  if (wrapWrite) {
    // What a compression middleware does: the response's `write` is replaced before the hub runs.
    const listeners = server.listeners('request') as Array<(req: unknown, res: ServerResponse) => void>;
    server.removeAllListeners('request');
    server.on('request', (req, res: ServerResponse) => {
      const original = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        wrapperCalls++;
        return original(chunk, ...rest);
      }) as ServerResponse['write'];
      for (const l of listeners) l(req, res);
    });
  }
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return address.port;
}

/** Opens a raw connection, sends a GET for `path`, and collects every byte received. */
function rawGet(port: number, path: string, version: '1.0' | '1.1'): { bytes: () => Buffer; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let closed = false;
  socket = connect(port, '127.0.0.1');
  socket.on('data', (d) => chunks.push(d));
  socket.on('close', () => {
    closed = true;
  });
  socket.write(`GET ${path} HTTP/${version}\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  return { bytes: () => Buffer.concat(chunks), closed: () => closed };
}

/** Splits a chunked body into its chunks; throws on a malformed one. Returns the chunks and whether the last (0) arrived. */
function dechunk(body: Buffer): { chunks: string[]; ended: boolean } {
  const chunks: string[] = [];
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf('\r\n', at);
    if (eol === -1) break;
    const size = Number.parseInt(body.toString('latin1', at, eol), 16);
    if (!Number.isInteger(size) || !/^[0-9a-f]+$/.test(body.toString('latin1', at, eol))) {
      throw new Error(`bad chunk size line at ${at}: ${JSON.stringify(body.toString('latin1', at, eol))}`);
    }
    if (size === 0) return { chunks, ended: true };
    if (eol + 2 + size + 2 > body.length) break; // incomplete
    if (body.toString('latin1', eol + 2 + size, eol + 4 + size) !== '\r\n')
      throw new Error(`chunk at ${at} not closed by CRLF`);
    chunks.push(body.toString('utf8', eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
  return { chunks, ended: false };
}

function split(response: Buffer): { head: string; body: Buffer } {
  const end = response.indexOf('\r\n\r\n');
  return { head: response.toString('latin1', 0, end), body: response.subarray(end + 4) };
}

describe('SSE on the wire', () => {
  it('HTTP/1.1: chunked, one event per chunk, every publication in order, ended by the terminating chunk', async () => {
    const port = await start();
    await hub?.core.publish('task:w1', 'progress', { p: 0 });
    const got = rawGet(port, '/taskpulse/sse?channel=task:w1', '1.1');
    await waitUntil(() => got.bytes().includes('"type":"subscribed"'), 'subscribed');
    for (let n = 1; n <= 20; n++) await hub?.core.publish('task:w1', 'progress', { p: n, text: 'é'.repeat(n) });
    await waitUntil(
      () => dechunk(split(got.bytes()).body).chunks.join('').split('"offset":').length > 21,
      'all publications',
    );
    const { head, body } = split(got.bytes());
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    const { chunks } = dechunk(body);
    // the retry hint and welcome, then one event per chunk: each chunk is whole events
    expect(chunks[0]).toMatch(/^retry: \d+\n\ndata: \{"type":"welcome"/);
    const events = chunks.slice(1);
    expect(events.every((c) => c.endsWith('\n\n') && c.split('\n\n').length === 2)).toBe(true);
    const publications = events
      .map((c) => JSON.parse(c.slice(c.indexOf('data: ') + 6, -2)))
      .flatMap((f) => (f.type === 'publication' ? [f] : f.type === 'batch' ? f.publications : []));
    expect(publications.map((p) => [p.offset, p.data.text.length])).toEqual(
      Array.from({ length: 20 }, (_, i) => [i + 2, i + 1]),
    );
    await hub?.close();
    hub = undefined;
    await waitUntil(() => dechunk(split(got.bytes()).body).ended, 'the terminating chunk');
  });

  it('HTTP/1.0: the same events, close-delimited (no chunk framing)', async () => {
    const port = await start();
    const got = rawGet(port, '/taskpulse/sse?channel=task:w2', '1.0');
    await waitUntil(() => got.bytes().includes('"type":"subscribed"'), 'subscribed');
    await hub?.core.publish('task:w2', 'progress', { p: 1 });
    await waitUntil(() => got.bytes().includes('"type":"publication"'), 'the publication');
    const { head, body } = split(got.bytes());
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    expect(body.toString()).toMatch(
      /^retry: \d+\n\ndata: \{"type":"welcome"[^\n]*\n\n(id: [^\n]+\n)?data: \{"type":"subscribed"/,
    );
    expect(body.toString()).toMatch(/\n\nid: [^\n]+\ndata: \{"type":"publication","channel":"task:w2","offset":1,/);
  });

  it('a response whose write is wrapped keeps going through it', async () => {
    const port = await start(true);
    const got = rawGet(port, '/taskpulse/sse?channel=task:w3', '1.1');
    await waitUntil(() => got.bytes().includes('"type":"subscribed"'), 'subscribed');
    wrapperCalls = 0;
    for (let n = 1; n <= 3; n++) await hub?.core.publish('task:w3', 'progress', { p: n });
    await waitUntil(() => got.bytes().toString().includes('"channel":"task:w3","offset":3,'), 'three publications');
    expect(wrapperCalls).toBeGreaterThanOrEqual(1);
    expect(dechunk(split(got.bytes()).body).chunks.join('')).toContain('"offset":3');
  });
});
