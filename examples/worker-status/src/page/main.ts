/**
 * The worker-status page: one taskpulse client for the hub that served the page.
 */
import { taskpulse } from '@taskpulse/vue-adapter';
import { createApp } from 'vue';
import App from './App.vue';
import './style.css';

// `?probe-ms=` shortens how often the client tries WebSocket again after falling back (a demo
// and test knob; the client's default is a minute).
const probeMs = Number(new URLSearchParams(window.location.search).get('probe-ms'));

createApp(App)
  .use(taskpulse, {
    url: window.location.origin,
    ...(Number.isInteger(probeMs) && probeMs > 0 ? { probeIntervalMs: probeMs } : {}),
  })
  .mount('#app');
