/**
 * Review of issue 9.1: SSE event ids carry every channel's position, so with many long channel
 * names the browser's reconnect sends a request head (URL + Last-Event-ID) larger than Node's
 * default 16 KiB. The standalone hub accepts it; a 431 would end the EventSource for good.
 */
import { describe, expect, it } from 'vitest';
import { SseStream } from './fixtures/http-client';
import { startHub } from './helpers/hub';

describe('SSE resume with a large Last-Event-ID', () => {
  it('resumes 50 channels of 125-character names (URL ~7 KB, event id ~10 KB) without loss', async () => {
    const t = await startHub({ namespaces: { task: { historySize: 100 } } });
    try {
      const chans = Array.from({ length: 50 }, (_, i) => `task:${String(i).padStart(3, '0')}${'x'.repeat(120)}`);
      for (const c of chans) await t.hub.core.publish(c, 'e', 1);
      const url = `${t.httpUrl}/taskpulse/sse?${chans.map((c) => `channel=${c}`).join('&')}`;
      const first = await SseStream.open(url);
      await first.waitFor((s) => s.frames().filter((f) => f.type === 'subscribed').length === 50, 'subscribed');
      await t.hub.core.publish(chans[0] as string, 'e', 2);
      await first.waitFor((s) => s.publications().length >= 1, 'a publication with an id');
      const id = first.lastEventId as string;
      first.close();
      expect(url.length + id.length).toBeGreaterThan(16 * 1024);

      await t.hub.core.publish(chans[49] as string, 'e', 'while away');
      const again = await SseStream.open(url, { 'last-event-id': id });
      await again.waitFor((s) => s.publications(chans[49]).length === 1, 'the missed publication');
      expect(again.publications(chans[49]).map((p) => p.data)).toEqual(['while away']);
      again.close();
    } finally {
      await t.close();
    }
  });
});
