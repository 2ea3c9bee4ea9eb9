import { defineConfig } from 'tsup';

// The Node entry only (where the built page is); the page itself is built by `vite build`
// (vite.config.ts) into dist/app after this build has cleaned dist.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // import.meta.url in the CommonJS build
  shims: true,
  target: 'es2022',
});
