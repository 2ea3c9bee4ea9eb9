import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The Lua scripts are read at run time from ../lua relative to the module: give the CJS build
  // a working import.meta.url.
  shims: true,
});
