import { defineConfig } from 'tsup';

// One entry per `exports` subpath; shared code goes to chunks (CommonJS too), so both entries
// hand out the same module instances.
export default defineConfig({
  entry: { index: 'src/index.ts', 'payloads/index': 'src/payloads/index.ts' },
  splitting: true,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
