/**
 * `@taskpulse/redis-bridge/celery`: the Celery bridge. `createCeleryBridge` reads a Celery app's
 * event stream (and result backend) out of its Redis broker and republishes it natively on the
 * seed channels (`celery:tasks`, `celery:task:{id}`, `celery:workers`, `celery:queue`), behind a
 * lease. See the Celery guide (`docs/celery.md`).
 *
 * @packageDocumentation
 * @module @taskpulse/redis-bridge/celery
 */
export { type CeleryChannelNames, type CeleryTransportOptions, celeryChannelNames } from './broker-options';
export {
  type CeleryBridge,
  type CeleryBridgeOptions,
  type CeleryBridgeStatus,
  createCeleryBridge,
} from './celery-bridge';
export type { CeleryRejectReason } from './decode';
