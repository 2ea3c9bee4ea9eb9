import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// Two pages: the Vue queue board (index.html) and seed 003's unchanged socket.io-client code
// (socketio.html). Built from the workspace packages' sources (the `@taskpulse/source` condition).
const page = (name: string) => fileURLToPath(new URL(`./src/page/${name}`, import.meta.url));
export default defineConfig({
  root: page(''),
  base: './',
  plugins: [vue()],
  resolve: { conditions: ['@taskpulse/source', 'module', 'browser', 'production'] },
  build: {
    outDir: fileURLToPath(new URL('./dist/page', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: { input: { index: page('index.html'), socketio: page('socketio.html') } },
  },
  logLevel: 'warn',
});
