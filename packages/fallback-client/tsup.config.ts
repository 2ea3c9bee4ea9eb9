import { defineConfig } from 'tsup';

// The library: the universal entry and the Node entry (which may load `ws`/`eventsource`).
// The minified browser bundle is built afterwards by tsup.browser.config.ts (`npm run build`).
export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: ['ws', 'eventsource'],
});
