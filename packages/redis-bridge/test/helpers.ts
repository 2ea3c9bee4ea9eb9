import { readFileSync } from 'node:fs';
import type { Publication, ResetEvent } from '@taskpulse/protocol';
import type { Redis } from 'ioredis';
import { channelKeys, luaScriptPath, newEpochCandidate } from '../src/index';

/**
 * Runs the real publish script but sends the pub/sub message to a channel nobody listens to: the
 * publication lands in history while subscribers miss it, as when a message is lost in transit.
 */
export async function publishUnseen(
  client: Redis,
  prefix: string,
  channel: string,
  data: unknown,
  options: { historySize?: number; ttlMs?: number } = {},
): Promise<{ epoch: string; offset: number }> {
  const keys = channelKeys(prefix, channel);
  const body = JSON.stringify({ event: 'e', data, ts: Date.now() });
  const reply = (await client.eval(
    readFileSync(luaScriptPath('publish'), 'utf8'),
    3,
    keys.meta,
    keys.history,
    `${keys.pubsub}:nobody-listens`,
    newEpochCandidate(),
    channel,
    body,
    options.historySize ?? 100,
    options.ttlMs ?? 60_000,
    'events',
    'publish',
  )) as [string, number];
  return { epoch: reply[0], offset: Number(reply[1]) };
}

/** Records what a broker handler receives, in one timeline. */
export function timeline() {
  const events: Array<{ kind: 'pub'; p: Publication } | { kind: 'reset'; e: ResetEvent }> = [];
  return {
    events,
    handler: {
      onPublication: (p: Publication) => events.push({ kind: 'pub', p }),
      onReset: (e: ResetEvent) => events.push({ kind: 'reset', e }),
    },
    pubs: () => events.flatMap((x) => (x.kind === 'pub' ? [x.p] : [])),
    resets: () => events.flatMap((x) => (x.kind === 'reset' ? [x.e] : [])),
  };
}

/**
 * Polls `check` until it returns true; fails with `message` after `timeoutMs` (a wait, not a
 * timed assertion). A function as `message` is called at the failure, to say what was seen then.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  message: string | (() => string),
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting: ${typeof message === 'function' ? message() : message}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Offsets 1..n. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Runs the publish script with a raw body, as a publisher of another language does (events kind,
 * history 100 unless given, 60 s TTL; no MAC key candidate unless given: ARGV[9] of
 * lua/publish.lua). Resolves with the script's reply `[epoch, offset]`.
 */
export function evalPublish(
  client: Redis,
  prefix: string,
  channel: string,
  body: string,
  options: { macKey?: string; historySize?: number } = {},
) {
  const keys = channelKeys(prefix, channel);
  return client.eval(
    readFileSync(luaScriptPath('publish'), 'utf8'),
    3,
    keys.meta,
    keys.history,
    keys.pubsub,
    newEpochCandidate(),
    channel,
    body,
    options.historySize ?? 100,
    60_000,
    'events',
    'publish',
    ...(options.macKey === undefined ? [] : ['', options.macKey]),
  ) as Promise<[string, number]>;
}
