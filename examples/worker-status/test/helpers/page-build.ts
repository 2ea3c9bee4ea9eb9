/**
 * Builds the page for the tests (vite build), into its own directory: `turbo run build` may run
 * the example's own build (into dist/page) at the same time, and Vite empties its output first.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/** Where the tests' build of the page goes. */
export const TEST_PAGE_DIR = fileURLToPath(new URL('../../dist/test-page', import.meta.url));

let built: Promise<string> | undefined;

/** Runs `vite build` with the example's config (once per process); resolves with the directory. */
export function buildPage(): Promise<string> {
  built ??= build({
    configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
    logLevel: 'error',
    build: { outDir: TEST_PAGE_DIR, emptyOutDir: true },
  }).then(() => TEST_PAGE_DIR);
  return built;
}
