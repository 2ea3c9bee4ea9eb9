import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// The page is built from the workspace packages' TypeScript sources (the `@taskpulse/source`
// condition), so `npm run demo` works on a fresh clone without building the packages first.
export default defineConfig({
  root: fileURLToPath(new URL('./src/page', import.meta.url)),
  base: './',
  // public/seed-000.html (seed 000's own page logic) is copied beside the Vue page.
  publicDir: fileURLToPath(new URL('./public', import.meta.url)),
  plugins: [vue()],
  resolve: { conditions: ['@taskpulse/source', 'module', 'browser', 'production'] },
  build: {
    outDir: fileURLToPath(new URL('./dist/page', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  logLevel: 'warn',
});
