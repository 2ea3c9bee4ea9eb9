import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CeleryChannelNames, type CeleryTransportOptions, celeryChannelNames } from '../../src/celery/index';

const DIR = fileURLToPath(new URL('../fixtures/celery/', import.meta.url));

/** One captured pub/sub message. */
export interface Captured {
  seq?: number;
  sample?: string;
  source?: string;
  recv_ts?: number;
  channel: string;
  payload: string;
}

/** Reads a capture file (copied from the Celery experiment into the project). */
export function readCapture(name: string): Captured[] {
  return readFileSync(`${DIR}${name}.jsonl`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Captured);
}

/** The broker settings each capture was made with. */
export const VARIANTS: Record<string, { url: string; options: CeleryTransportOptions }> = {
  main: { url: 'redis://127.0.0.1:6391/0', options: {} },
  edge_cases: { url: 'redis://127.0.0.1:6391/0', options: {} },
  custom_progress_event: { url: 'redis://127.0.0.1:6391/0', options: {} },
  events_off_then_enable_events: { url: 'redis://127.0.0.1:6391/0', options: {} },
  track_started_result_extended: { url: 'redis://127.0.0.1:6391/0', options: {} },
  tz_kolkata: { url: 'redis://127.0.0.1:6391/0', options: {} },
  tz_new_york: { url: 'redis://127.0.0.1:6391/0', options: {} },
  sigkill_worker: { url: 'redis://127.0.0.1:6391/0', options: {} },
  broker_db3_backend_db4: { url: 'redis://127.0.0.1:6391/3', options: {} },
  fanout_prefix_false: { url: 'redis://127.0.0.1:6391/0', options: { fanout_prefix: false } },
  fanout_patterns_false: { url: 'redis://127.0.0.1:6391/0', options: { fanout_patterns: false } },
  fanout_both_false: { url: 'redis://127.0.0.1:6391/0', options: { fanout_prefix: false, fanout_patterns: false } },
  fanout_prefix_custom_db2: { url: 'redis://127.0.0.1:6391/2', options: { fanout_prefix: '/staging{db}.' } },
  global_keyprefix: { url: 'redis://127.0.0.1:6391/0', options: { global_keyprefix: 'myapp:' } },
};

/** The channel names of a capture's variant. */
export function namesOf(variant: string): CeleryChannelNames {
  const v = VARIANTS[variant];
  if (!v) throw new Error(`unknown variant ${variant}`);
  return celeryChannelNames(v.url, v.options);
}

/** The variant a sample line was copied from (`fixtures/<variant>/pubsub.jsonl seq=N`). */
export function variantOfSample(c: Captured): string {
  const m = /fixtures\/(?:extra\/)?([a-z0-9_]+)\/pubsub/.exec(c.source ?? '');
  if (!m) throw new Error(`no variant in ${c.source}`);
  return m[1] as string;
}

/** Decodes a kombu envelope body the long way (the reference for the decoder's output). */
export function referenceBody(payload: string): unknown {
  const env = JSON.parse(payload) as { body: string };
  return JSON.parse(Buffer.from(env.body, 'base64').toString('utf8'));
}
