import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/**
 * The dashboard page: `app/` built into `dist/app/` with relative asset URLs, so the hub can
 * serve it under any base path. Sibling packages are read from their sources (the
 * `@taskpulse/source` condition), so the page never waits for their builds. The components are
 * render functions in TypeScript (no single-file components), so `tsc` checks all of them.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./app', import.meta.url)),
  base: './',
  logLevel: 'warn',
  resolve: { conditions: ['@taskpulse/source', ...defaultClientConditions] },
  define: {
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  build: {
    outDir: fileURLToPath(new URL('./dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
