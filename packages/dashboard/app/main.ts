/**
 * Entry of the dashboard page: reads its configuration from the hub that served it, then mounts
 * the app with the taskpulse Vue plugin on the same origin (the session cookie rides along on the
 * WebSocket upgrade, SSE and polls).
 * @module
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { OPS_SESSION_TOKEN } from '@taskpulse/protocol';
import { taskpulse } from '@taskpulse/vue-adapter';
import { createApp } from 'vue';
import { App, type DashboardConfig } from './app';

async function start(): Promise<void> {
  // The page is served at {basePath}/dashboard/; its API sits beside it.
  const response = await fetch('api/config', { credentials: 'same-origin', cache: 'no-store' });
  if (response.status === 401) {
    location.reload();
    return;
  }
  if (!response.ok) throw new Error(`dashboard configuration: HTTP ${response.status}`);
  const config = (await response.json()) as DashboardConfig;
  createApp(App, { config })
    // The session token makes the hub take the session cookie on its endpoints (see the hub guide).
    .use(taskpulse, {
      url: location.origin,
      basePath: config.basePath,
      withCredentials: true,
      token: OPS_SESSION_TOKEN,
    })
    .mount('#app');
}

start().catch((error: unknown) => {
  const root = document.getElementById('app');
  if (root) root.textContent = `The dashboard could not start: ${String(error)}`;
});
