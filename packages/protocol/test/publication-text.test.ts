import { describe, expect, it } from 'vitest';
import {
  messageOf,
  type Publication,
  parsePublication,
  publicationMessage,
  publicationText,
  readPublicationHeader,
} from '../src/index';

const pub: Publication = {
  channel: 'task:42',
  offset: 12,
  epoch: 'Ab_9-x',
  event: 'progress',
  data: { progress: 50, s: '","priority":3}' },
  ts: 1700000000000,
};

describe('publication text', () => {
  it('writes the publish script layout, which parses back to the same publication', () => {
    const text = publicationText({ ...pub, id: 'm1', priority: 2 });
    expect(text).toBe(
      '{"channel":"task:42","offset":12,"epoch":"Ab_9-x","event":"progress","data":{"progress":50,"s":"\\",\\"priority\\":3}"},"ts":1700000000000,"id":"m1","priority":2}',
    );
    const parsed = parsePublication(text);
    expect(parsed.ok && parsed.value).toEqual({ ...pub, id: 'm1', priority: 2 });
  });

  it('reads the header without parsing the rest', () => {
    expect(readPublicationHeader(publicationText(pub))).toEqual({
      channel: 'task:42',
      epoch: 'Ab_9-x',
      offset: 12,
      priority: undefined,
    });
    expect(readPublicationHeader(publicationText({ ...pub, priority: 4 }))?.priority).toBe(4);
    // A priority-like tail inside `data` (not the last member) is not the priority.
    expect(readPublicationHeader(publicationText({ ...pub, data: { priority: 3 } }))?.priority).toBeUndefined();
    expect(readPublicationHeader(publicationText({ ...pub, id: ',"priority":3' }))?.priority).toBeUndefined();
  });

  it('refuses text that does not start with a valid header', () => {
    const ok = publicationText(pub);
    const bad = [
      '',
      'not json',
      '[1,2]',
      ok.slice(0, -1), // not closed
      ok.replace('"offset":12', '"offset":0'),
      ok.replace('"offset":12', '"offset":012'),
      ok.replace('"offset":12', '"offset":-1'),
      ok.replace('"offset":12', '"offset":"12"'),
      ok.replace('"offset":12', '"offset":99999999999999999'),
      ok.replace('"epoch":"Ab_9-x"', '"epoch":""'),
      ok.replace('"epoch":"Ab_9-x"', `"epoch":"${'e'.repeat(65)}"`),
      ok.replace('"epoch":"Ab_9-x"', '"epoch":"a\\"b"'),
      ok.replace('"channel":"task:42"', '"channel":"task\\u003a42"'),
      ok.replace('{"channel":"task:42","offset":12', '{"offset":12,"channel":"task:42"'),
      JSON.stringify({ ...pub, offset: 12 }).replace('"channel"', ' "channel"'),
    ];
    for (const text of bad) expect(readPublicationHeader(text), text).toBeNull();
  });

  it('parses a message once, on demand, and refuses a text that contradicts its header', () => {
    const text = publicationText(pub);
    const header = readPublicationHeader(text);
    if (!header) throw new Error('header expected');
    const message = publicationMessage(text, header);
    expect(message.publication()).toEqual(pub);
    expect(message.publication()).toBe(message.publication());
    const lying = publicationMessage(text, { ...header, offset: 13 });
    expect(() => lying.publication()).toThrow(expect.objectContaining({ code: 'bad_frame' }));
    const garbage = `{"channel":"task:42","offset":1,"epoch":"e",garbage}`;
    const g = readPublicationHeader(garbage);
    expect(g).not.toBeNull();
    expect(() => publicationMessage(garbage, g as NonNullable<typeof g>).publication()).toThrow(
      expect.objectContaining({ code: 'bad_frame' }),
    );
    const noEvent = `{"channel":"task:42","offset":1,"epoch":"e","data":1,"ts":1}`;
    const h = readPublicationHeader(noEvent) as NonNullable<typeof g>;
    expect(() => publicationMessage(noEvent, h).publication()).toThrow(expect.objectContaining({ code: 'bad_frame' }));
  });

  it('wraps a publication object without parsing anything', () => {
    const m = messageOf({ ...pub, priority: 1 }, '{"progress":50,"s":"x"}');
    expect(m.text).toContain('"data":{"progress":50,"s":"x"}');
    expect(m.publication()).toEqual({ ...pub, priority: 1 });
    expect([m.channel, m.epoch, m.offset, m.priority]).toEqual(['task:42', 'Ab_9-x', 12, 1]);
  });
});
