import { describe, expect, it } from 'vitest';
import { brokerDbFromUrl, celeryChannelNames } from '../src/celery/broker-options';
import { CeleryDecodeError, decodeCeleryMessage } from '../src/celery/decode';
import { parseArgsRepr, parseKwargsRepr, parsePythonLiteral } from '../src/celery/python-repr';
import { namesOf, readCapture, referenceBody, VARIANTS, variantOfSample } from './celery/fixtures';

const decode = (variant: string, channel: string, payload: string, maxMessageBytes = 1 << 20) =>
  decodeCeleryMessage(channel, payload, {
    names: namesOf(variant),
    backendPrefix: 'celery-task-meta-',
    maxMessageBytes,
  });

describe('channel names from the broker URL and transport options', () => {
  it.each([
    ['redis://h:6379/0', {}, '/0.celeryev', true, '/0.celery.pidbox'],
    ['redis://:secret@h:6379/3', {}, '/3.celeryev', true, '/3.celery.pidbox'],
    ['redis://h', {}, '/0.celeryev', true, '/0.celery.pidbox'],
    ['redis://h/0', { fanout_prefix: false }, 'celeryev', true, 'celery.pidbox'],
    ['redis://h/0', { fanout_patterns: false }, '/0.celeryev', false, '/0.celery.pidbox'],
    ['redis://h/0', { fanout_prefix: false, fanout_patterns: false }, 'celeryev', false, 'celery.pidbox'],
    ['redis://h/2', { fanout_prefix: '/staging{db}.' }, '/staging2.celeryev', true, '/staging2.celery.pidbox'],
    ['redis://h/0', { global_keyprefix: 'myapp:' }, 'myapp:/0.celeryev', true, 'myapp:/0.celery.pidbox'],
    ['redis+socket:///run/redis.sock?virtual_host=5', {}, '/5.celeryev', true, '/5.celery.pidbox'],
  ] as const)('%s %j', (url, options, events, patterns, pidbox) => {
    const names = celeryChannelNames(url, options);
    expect(names).toMatchObject({ events, patterns, pidbox });
  });

  it('refuses what is not a Redis broker URL, naming the problem', () => {
    expect(() => brokerDbFromUrl('amqp://guest@localhost//')).toThrow(/redis/);
    expect(() => brokerDbFromUrl('redis://h/abc')).toThrow(/invalid DB number/);
    expect(() => brokerDbFromUrl('not a url')).toThrow(/not a URL/);
    expect(() => celeryChannelNames('redis://h/0', { fanout_patterns: 'yes' as unknown as boolean })).toThrow(
      /fanout_patterns/,
    );
  });
});

describe('every captured sample decodes', () => {
  const samples = readCapture('samples');
  it('has the 33 samples', () => expect(samples).toHaveLength(33));
  it.each(samples.map((s) => [s.sample, s] as const))('%s', (_name, sample) => {
    const variant = variantOfSample(sample);
    const decoded = decode(variant, sample.channel, sample.payload);
    if (sample.channel.startsWith('celery-task-meta-')) {
      expect(decoded).toEqual({ kind: 'backend', message: JSON.parse(sample.payload) });
    } else if (sample.channel.endsWith('celery.pidbox')) {
      const body = referenceBody(sample.payload) as { method: string };
      expect(decoded).toMatchObject({ kind: 'control', method: body.method });
    } else {
      const body = referenceBody(sample.payload);
      expect(decoded).toEqual({ kind: 'events', events: Array.isArray(body) ? body : [body] });
    }
  });
});

describe('every message of every capture decodes, under its own broker settings only', () => {
  for (const variant of Object.keys(VARIANTS)) {
    it(variant, () => {
      const lines = readCapture(variant);
      let events = 0;
      for (const line of lines) {
        const decoded = decode(variant, line.channel, line.payload);
        expect(decoded.kind, `${variant} seq ${line.seq} ${line.channel}`).not.toBe('ignored');
        if (decoded.kind === 'events') events += decoded.events.length;
      }
      expect(events).toBeGreaterThan(0);
      // The same traffic read with another app's settings is not this app's (except the
      // result backend, whose channels carry no prefix).
      const other = variant === 'global_keyprefix' ? 'main' : 'global_keyprefix';
      const foreign = lines.filter((l) => !l.channel.startsWith('celery-task-meta-'));
      for (const line of foreign) expect(decode(other, line.channel, line.payload).kind).toBe('ignored');
    });
  }

  it('matches the reference decoding of the main run, message for message', () => {
    const reference = readCapture('main-decoded') as unknown as Array<{ channel: string; body_decoded?: unknown }>;
    const lines = readCapture('main');
    expect(reference).toHaveLength(lines.length);
    lines.forEach((line, i) => {
      const decoded = decode('main', line.channel, line.payload);
      const ref = reference[i]?.body_decoded;
      if (decoded.kind === 'events') expect(decoded.events).toEqual(Array.isArray(ref) ? ref : [ref]);
    });
  });
});

describe('bad input is rejected with a reason', () => {
  const sample = readCapture('samples')[6] as { channel: string; payload: string };
  const reasonOf = (channel: string, payload: string, max?: number) => {
    try {
      decode('main', channel, payload, max);
      return 'accepted';
    } catch (error) {
      expect(error).toBeInstanceOf(CeleryDecodeError);
      return `${(error as CeleryDecodeError).reason}: ${(error as Error).message}`;
    }
  };
  it.each([
    ['not JSON', '/0.celeryev/task.multi', '{nope', /^undecodable: envelope is not JSON/],
    ['no body', '/0.celeryev/task.multi', '{"properties":{}}', /^undecodable: not a kombu envelope: body/],
    [
      'body not base64',
      '/0.celeryev/task.multi',
      JSON.stringify({ body: '%%%', properties: { body_encoding: 'base64' } }),
      /^undecodable: body is not base64/,
    ],
    [
      'pickle',
      '/0.celeryev/task.multi',
      JSON.stringify({ body: 'x', 'content-type': 'application/x-python-serialize' }),
      /unsupported content-type/,
    ],
    [
      'event without hostname',
      '/0.celeryev/task.multi',
      JSON.stringify({
        body: Buffer.from('[{"type":"task-started","timestamp":1}]').toString('base64'),
        properties: { body_encoding: 'base64' },
      }),
      /^undecodable: not a Celery event: .*hostname/,
    ],
    ['backend not JSON', 'celery-task-meta-x', 'garbage', /^undecodable: result-backend message is not JSON/],
  ])('%s', (_name, channel, payload, expected) => {
    expect(reasonOf(channel, payload)).toMatch(expected);
  });
  it('oversize bodies', () => {
    expect(reasonOf(sample.channel, sample.payload, 100)).toMatch(/^oversize: message is larger than 100 bytes/);
  });
  it('bodies and result-backend messages nested deeper than a publication may be', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = `[{"type":"task-progress","hostname":"w@h","timestamp":1,"uuid":"u","x":${deep}}]`;
    const envelope = JSON.stringify({
      body: Buffer.from(body).toString('base64'),
      'content-type': 'application/json',
      properties: { body_encoding: 'base64' },
    });
    expect(reasonOf('/0.celeryev/task.multi', envelope)).toMatch(/^undecodable: body nests deeper than 64 levels/);
    const backend = `{"status":"PROGRESS","task_id":"t","result":${deep}}`;
    expect(reasonOf('celery-task-meta-t', backend)).toMatch(/^undecodable: result-backend message nests deeper/);
  });
  it('a plain-text body (no body_encoding) and an empty task.multi batch are fine', () => {
    const plain = JSON.stringify({ body: '[]', 'content-type': 'application/json' });
    expect(decode('main', '/0.celeryev/task.multi', plain)).toEqual({ kind: 'events', events: [] });
  });
});

describe('Python reprs of args and kwargs', () => {
  it.each([
    ['(2, 3)', [2, 3]],
    ["('SSIS-950',)", ['SSIS-950']],
    ['()', []],
    ["{'avid': 'SSIS-950', 'n': 1.5, 'ok': True, 'x': None}", { avid: 'SSIS-950', n: 1.5, ok: true, x: null }],
    ["{'msg': 'custom é msg'}", { msg: 'custom é msg' }],
    ["'it\\'s \"quoted\"'", 'it\'s "quoted"'],
    ["[1, [2, (3, {'a': -4e2})]]", [1, [2, [3, { a: -400 }]]]],
    ["b'raw\\x41'", 'rawA'],
    ['{1, 2}', [1, 2]],
  ])('%s', (text, value) => {
    expect(parsePythonLiteral(text)).toEqual(value);
  });
  it('gives null for what is not a literal (object reprs, cut-off text)', () => {
    expect(parseArgsRepr('(<object at 0x7f>,)')).toBeNull();
    expect(parseArgsRepr("('aaaa...")).toBeNull();
    expect(parseKwargsRepr("{'a': datetime.datetime(2026, 1, 1)}")).toBeNull();
    expect(parseKwargsRepr('(1, 2)')).toBeNull();
    expect(parseArgsRepr(`${'['.repeat(100)}${']'.repeat(100)}`)).toBeNull();
  });
});
