/**
 * `@taskpulse/redis-bridge/bullmq`: the BullMQ bridge. `createBullmqBridge` reads BullMQ's job
 * event streams and republishes them natively (by default with `testQueueMapping`, seed 003's
 * test-queue rooms), behind a lease; `createBullmqSource` is the same reader for your own
 * mapping. Needs the optional peer `bullmq`. See the rooms guide (`docs/rooms.md`).
 *
 * @packageDocumentation
 * @module @taskpulse/redis-bridge/bullmq
 */
export { type BullmqBridge, type BullmqBridgeOptions, createBullmqBridge } from './bridge';
export {
  BULLMQ_JOB_EVENTS,
  type BullmqJobEventName,
  type BullmqJobRecord,
  type BullmqStreamEvent,
} from './events';
export type {
  BullmqMapping,
  BullmqPublication,
  BullmqSource,
  BullmqSourceOptions,
  BullmqSourceStats,
} from './options';
export { createBullmqSource } from './source';
export { type TestQueueMappingOptions, testQueueMapping } from './test-queue-mapping';
