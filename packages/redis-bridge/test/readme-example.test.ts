/**
 * Issue 9.19: the README's broker example runs as written against a real Redis and the process
 * exits after `broker.close()` (it used to pass a client the broker does not own, so the process
 * hung, and it logged through an undefined `log`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedis } from '@taskpulse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');

/** The first ```ts block after a heading of the README. */
function snippetAfter(heading: string): string {
  const text = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const start = text.indexOf(heading);
  if (start === -1) throw new Error(`README.md has no heading ${heading}`);
  const match = /```ts\n([\s\S]*?)\n```/.exec(text.slice(start));
  if (!match?.[1]) throw new Error(`no ts snippet after ${heading}`);
  return match[1];
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe('README broker example', () => {
  it('runs against a real Redis and the process exits after broker.close()', async () => {
    // Inside the package, so that its imports resolve like the test suite's (source condition).
    const dir = mkdtempSync(join(here, '.readme-'));
    const file = join(dir, 'example.mts');
    writeFileSync(file, snippetAfter('## The broker (for a hub)'));
    const started = Date.now();
    try {
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }>(
        (resolve) => {
          const child = execFile(
            process.execPath,
            ['--conditions=@taskpulse/source', '--import', 'tsx', file],
            { cwd: packageDir, env: { ...process.env, REDIS_URL: redis.url }, timeout: 20_000 },
            (error, stdout, stderr) =>
              resolve({
                code: child.exitCode,
                stdout,
                stderr,
                killed: Boolean(error && 'killed' in error && error.killed),
              }),
          );
        },
      );
      expect(result.killed, `the example hung: ${result.stderr}`).toBe(false);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      // The example logs the publication it published (offset 1 on a fresh Redis).
      expect(result.stdout).toContain('1 progress { progress: 50 }');
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
