import type { Publication } from '@taskpulse/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FlushCycle, OutboundBatch } from '../src/core/outbound-scheduler';
import { batchFrame, SerializedPublication } from '../src/core/serialized';
import { frameBatch, framedPublication, frameText } from '../src/ws/frame';

let offsets = 0;
function pub(data: unknown, channel = 'task:batch'): SerializedPublication {
  const p: Publication = { channel, epoch: 'e1', offset: ++offsets, event: 'progress', data, ts: 1 };
  return new SerializedPublication(p);
}

/** A publication from a broker message: its text is passed through as is (not re-serialized). */
function fromText(text: string): SerializedPublication {
  const p = JSON.parse(text) as Publication;
  return new SerializedPublication({ ...p, text, publication: () => p });
}

describe('frameBatch (a batch framed straight from the publications’ texts)', () => {
  const cases: Array<[string, SerializedPublication[]]> = [
    ['two ASCII publications (7-bit length)', [pub(1), pub('a')]],
    ['multi-byte and astral text', [pub('é ü ß'), pub('任务进度 ✓'), pub('🚀 done')]],
    [
      'a lone surrogate in a passed-through text',
      [fromText('{"channel":"task:batch","epoch":"e1","offset":1,"event":"x","data":"\ud800 lone","ts":1}'), pub(2)],
    ],
    ['a 16-bit length (≥ 126 bytes)', Array.from({ length: 5 }, (_, i) => pub({ i, note: 'x'.repeat(40) }))],
    ['a 64-bit length (≥ 64 KiB)', Array.from({ length: 300 }, (_, i) => pub({ i, note: `é${'y'.repeat(300)}` }))],
  ];
  for (const [name, items] of cases) {
    it(`writes the same bytes as framing the joined text: ${name}`, () => {
      const expected = frameText(batchFrame(items));
      const got = frameBatch(items);
      expect(got.length).toBe(expected.length);
      expect(got.equals(expected)).toBe(true);
      // and the payload is the batch frame clients parse
      const headerBytes = got[1] === 127 ? 10 : got[1] === 126 ? 4 : 2;
      const frame = JSON.parse(got.subarray(headerBytes).toString('utf8'));
      expect(frame.type).toBe('batch');
      expect(frame.publications.map((p: Publication) => p.offset)).toEqual(items.map((p) => p.offset));
    });
  }

  it('builds the batch text only when a transport asks for it', () => {
    const items = [pub(1), pub(2)];
    const batch = new OutboundBatch(items);
    const json = vi.spyOn(SerializedPublication.prototype, 'json', 'get');
    try {
      expect(batch.items).toBe(items);
      expect(json).not.toHaveBeenCalled();
      expect(batch.text).toBe(batchFrame(items));
      expect(batch.text).toBe(batch.text);
    } finally {
      json.mockRestore();
    }
  });
});

describe('framedPublication (the frame written straight from the publication’s text)', () => {
  const cases: Array<[string, () => SerializedPublication]> = [
    ['ASCII (7-bit length)', () => pub(1)],
    ['multi-byte and astral text', () => pub('é ü ß 任务进度 ✓ 🚀')],
    [
      'a lone surrogate in a passed-through text',
      () => fromText('{"channel":"task:batch","epoch":"e1","offset":1,"event":"x","data":"\ud800 lone","ts":1}'),
    ],
    ['a 16-bit length (≥ 126 bytes)', () => pub({ note: 'x'.repeat(200) })],
    ['a 64-bit length (≥ 64 KiB)', () => pub({ note: `é${'y'.repeat(70_000)}` })],
  ];
  for (const [name, make] of cases) {
    it(`writes the same bytes as framing the frame's text, once per publication: ${name}`, () => {
      const p = make();
      const got = framedPublication(p);
      expect(Buffer.from(got).equals(frameText(p.frame))).toBe(true);
      expect(framedPublication(p)).toBe(got);
    });
  }
});

describe('FlushCycle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const run = (n: number) => Array.from({ length: n }, (_, i) => pub(i));

  it('shares a long run (a recovery page) with later cycles, and a short one only within its cycle', () => {
    const cycle = new FlushCycle();
    const long = run(100);
    const short = run(3);
    const a = cycle.batch(long, 0, 100);
    const s = cycle.batch(short, 0, 3);
    expect(cycle.batch(short.slice(), 0, 3)).toBe(s); // same cycle: shared
    cycle.clear();
    // another client, another turn, the same publications from the shared read
    expect(cycle.batch([...long], 0, 100)).toBe(a);
    expect(cycle.batch(short, 0, 3)).not.toBe(s);
    // the same first publication but another run is not mixed up with it
    const other = cycle.batch(long, 0, 99);
    expect(other).not.toBe(a);
    expect(other.items).toHaveLength(99);
    const extended = [...long, pub('live')];
    expect(cycle.batch(extended, 0, 101).items).toHaveLength(101);
  });

  it('keeps at most 8 long runs, and lets them go 2 s after the last use', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cycle = new FlushCycle();
    const runs = Array.from({ length: 9 }, () => run(64));
    const built = runs.map((r) => cycle.batch(r, 0, r.length));
    cycle.clear();
    expect(cycle.kept).toBe(8);
    expect(cycle.batch(runs[0] as SerializedPublication[], 0, 64)).not.toBe(built[0]); // the oldest went
    expect(cycle.batch(runs[8] as SerializedPublication[], 0, 64)).toBe(built[8]);
    vi.advanceTimersByTime(1999);
    cycle.clear();
    expect(cycle.kept).toBe(8);
    vi.advanceTimersByTime(1);
    cycle.clear();
    expect(cycle.kept).toBe(0);
  });
});
