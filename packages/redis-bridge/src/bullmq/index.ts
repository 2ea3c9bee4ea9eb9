/**
 * The BullMQ bridge (see {@link createBullmqBridge}).
 * @module
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
