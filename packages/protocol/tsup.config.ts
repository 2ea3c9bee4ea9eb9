import { defineConfig } from 'tsup';

// One entry per `exports` subpath; shared code goes to chunks (CommonJS too), so both entries
// hand out the same module instances.
export default defineConfig({
  entry: { index: 'src/index.ts', 'payloads/index': 'src/payloads/index.ts' },
  splitting: true,
  // rollup, not sucrase, then turns the chunks into CommonJS: sucrase would rewrite every `?.` and
  // `??` into helper calls (an array and closures per use); tools/scripts/pack-smoke.mjs checks
  treeshake: true,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
