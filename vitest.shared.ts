import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings: tests read TypeScript sources of sibling packages through the
 * `@taskpulse/source` export condition, so `turbo run test` never waits for a build.
 */
export const sharedConfig = defineConfig({
  resolve: { conditions: ['@taskpulse/source'] },
  ssr: { resolve: { conditions: ['@taskpulse/source'] } },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Integration tests drive real redis-server, Python, Celery and Chromium processes on a
    // shared 2-core CI machine: in CI a failed test runs once more, and fails the run only if it
    // fails twice. Vitest reports every retried test, so a flaky one stays visible.
    retry: process.env.CI ? 1 : 0,
  },
});
