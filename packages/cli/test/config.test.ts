import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig, resolveSettings } from '../src/index';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const settingsOf = (config: unknown, input = {}, env: NodeJS.ProcessEnv = {}) =>
  resolveSettings(parseConfig(config, 'test.json'), input, env, 'test.json');

describe('configuration file validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskpulse-cli-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [{ server: { port: 'x' } }, 'server.port: Invalid input: expected number, received string'],
    [{ server: { port: 70_000 } }, 'server.port: '],
    [{ limits: { maxConection: 3 } }, 'limits.maxConection: unknown key'],
    [{ limits: { maxConnections: -1 } }, 'limits.maxConnections: '],
    [{ dialects: { 'processor-status': { pat: '/x' } } }, 'dialects.processor-status.pat: unknown key'],
    [{ dialects: { 'processor-status': 'yes' } }, 'dialects.processor-status: must be true, false or an object'],
    [{ dialects: { 'seed-999': true } }, 'dialects.seed-999: unknown key'],
    [
      { bridges: [{ type: 'json', sourceChannel: 'a', targetChannel: 'Bad Name' }] },
      'bridges[0].targetChannel: must be a taskpulse channel name',
    ],
    [{ bridges: [{ type: 'jsn', sourceChannel: 'a', targetChannel: 'x' }] }, 'bridges[0].type: '],
    [
      { bridges: [{ type: 'json', sourceChannel: 'a', targetChannel: 'processor:status', schema: 'nine-fields' }] },
      'bridges[0].schema: ',
    ],
    [{ namespaces: { processor: { kind: 'statee' } } }, 'namespaces.processor.kind: '],
    [{ namespaces: { Bad: {} } }, 'namespaces'],
    [{ auth: { jwt: { secret: 42 } } }, 'auth.jwt.secret: must be a string or { "env": "VARIABLE_NAME" }'],
    [{ redis: { url: 'http://x' } }, 'redis.url: must be a redis:// or rediss:// URL'],
    [[], '(root): '],
  ])('rejects %j naming the key path', (config, expected) => {
    const problems = problemsOf(() => parseConfig(config, 'test.json'));
    expect(
      problems.some((p) => p.startsWith(expected)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('lists every problem at once, with the file in the message', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig({ server: { port: 'x', nope: 1 }, limits: { idleTimeoutMs: 0 } }, 'hub.json');
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.message).toMatch(/^invalid configuration in hub\.json:/);
    expect(error?.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        'server.nope: unknown key',
        expect.stringMatching(/^limits\.idleTimeoutMs: /),
      ]),
    );
  });

  it('checks what depends on several keys: bridges and workers need Redis, target namespaces must exist', () => {
    const bridge = { type: 'json', sourceChannel: 'processor:status:realtime', targetChannel: 'processor:status' };
    expect(problemsOf(() => settingsOf({ bridges: [bridge] }))).toEqual([
      expect.stringMatching(/^bridges: a bridge reads a Redis channel: set redis\.url/),
    ]);
    expect(problemsOf(() => settingsOf({ server: { workers: 2 } }))[0]).toMatch(
      /^server\.workers: more than one worker needs Redis/,
    );
    expect(problemsOf(() => settingsOf({}, { workers: '2' }))[0]).toMatch(/^--workers: more than one worker/);
    expect(problemsOf(() => settingsOf({}, { workers: 'two' }))[0]).toMatch(/^--workers: must be an integer/);
    const unknownTarget = { ...bridge, targetChannel: 'metrics:x' };
    expect(problemsOf(() => settingsOf({ redis: { url: 'redis://127.0.0.1:1' }, bridges: [unknownTarget] }))).toEqual([
      'bridges[0].targetChannel: namespace "metrics" is not configured (add it under "namespaces")',
    ]);
    expect(problemsOf(() => settingsOf({ seedNamespaces: false, dialects: { 'processor-status': true } }))[0]).toMatch(
      /^dialects\.processor-status: namespace "processor" is not configured/,
    );
    expect(
      problemsOf(() =>
        settingsOf({ auth: { jwt: { secret: 's' } }, dialects: { 'task-progress': { trustQueryIdentity: true } } }),
      ),
    ).toEqual(['dialects.task-progress.trustQueryIdentity: cannot be combined with JWT authentication']);
  });

  it('reads secrets from the environment and names a missing variable', () => {
    const config = { auth: { jwt: { secret: { env: 'HUB_SECRET' } }, opsApiKeys: [{ env: 'OPS_KEY' }, 'inline'] } };
    expect(problemsOf(() => settingsOf(config))).toEqual([
      'auth.jwt.secret: environment variable HUB_SECRET is not set',
      'auth.opsApiKeys[0]: environment variable OPS_KEY is not set',
    ]);
    const settings = settingsOf(config, {}, { HUB_SECRET: 'from-env', OPS_KEY: 'k1' });
    expect(settings.jwt?.secret).toBe('from-env');
    expect(settings.opsApiKeys).toEqual(['k1', 'inline']);
    expect(settings.opsPolicy).toBe('keys');
  });

  it('refuses anonymous access to /stats and /metrics whenever JWT auth is on and no ops key is set', () => {
    expect(settingsOf({}).opsPolicy).toBe('open');
    expect(settingsOf({ auth: { jwt: { secret: 's' } } }).opsPolicy).toBe('refused');
    expect(settingsOf({}, { jwtSecret: 's' }).opsPolicy).toBe('refused');
    expect(settingsOf({}, { jwtSecret: 's', opsApiKey: 'k' })).toMatchObject({ opsPolicy: 'keys', opsApiKeys: ['k'] });
    expect(settingsOf({ auth: { jwt: { secret: 's' }, opsOpen: true } }).opsPolicy).toBe('open');
  });

  it('merges: flags and environment over the file over the defaults; seed namespaces unless turned off', () => {
    const file = settingsOf({ server: { port: 3000, host: '127.0.0.1' }, namespaces: { metrics: { kind: 'state' } } });
    expect(file).toMatchObject({ port: 3000, host: '127.0.0.1', path: '/taskpulse/ws', workers: 1, logLevel: 'info' });
    expect(file.namespaces).toEqual({ ...SEED_NAMESPACES, metrics: { kind: 'state' } });
    expect(file.allowUnknownNamespaces).toBe(false);
    const flags = settingsOf({ server: { port: 3000 } }, { port: '0', redisUrl: 'redis://127.0.0.1:1', workers: '2' });
    expect(flags).toMatchObject({ port: 0, workers: 2, redis: { url: 'redis://127.0.0.1:1' } });
    expect(Object.keys(settingsOf({ seedNamespaces: false, namespaces: { a: {} } }).namespaces)).toEqual(['a']);
  });

  it('loads a file, and reports unreadable files and bad JSON as configuration errors', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ dialects: { 'processor-status': true } }));
    expect(await loadConfigFile(good)).toEqual({ dialects: { 'processor-status': true } });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "server": ');
    await expect(loadConfigFile(bad)).rejects.toThrow(/invalid configuration in .*bad\.json:\n {2}not valid JSON/);
    await expect(loadConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read the file/);
  });
});
