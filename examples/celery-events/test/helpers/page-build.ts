/**
 * Builds the page once per test run (vite build into dist/page), as `npm run demo` does.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

let built: Promise<void> | undefined;

/** Runs `vite build` with the example's config (once per process). */
export function buildPage(): Promise<void> {
  built ??= build({
    configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
    logLevel: 'error',
  }).then(() => undefined);
  return built;
}
