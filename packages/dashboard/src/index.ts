/**
 * `@taskpulse/dashboard`: the operations dashboard page, built. A hub serves it with
 * `createHub({ dashboard: { assetsDir: dashboardAssetsDir }, http: { opsApiKeys } })` at
 * `{basePath}/dashboard`; see the hub guide's "Operations dashboard" section.
 *
 * @packageDocumentation
 */
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the built page (`index.html` and `assets/`), for the hub's
 * `dashboard.assetsDir` option.
 *
 * @example
 * ```ts
 * import { dashboardAssetsDir } from '@taskpulse/dashboard';
 * import { createHub } from '@taskpulse/ws-hub';
 *
 * const hub = createHub({
 *   port: 8080,
 *   broker,
 *   http: { opsApiKeys: [process.env.TASKPULSE_OPS_KEY!] },
 *   dashboard: { assetsDir: dashboardAssetsDir },
 * });
 * ```
 */
export const dashboardAssetsDir: string = fileURLToPath(new URL('../dist/app', import.meta.url));
