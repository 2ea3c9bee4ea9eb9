import { defineConfig } from 'tsup';

// One minified ES module for <script type="module"> and CDNs: no dependency, no Node built-in.
export default defineConfig({
  entry: { browser: 'src/index.ts' },
  format: ['esm'],
  platform: 'browser',
  minify: true,
  sourcemap: true,
  dts: false,
  clean: false,
  target: 'es2022',
  noExternal: [/.*/],
});
