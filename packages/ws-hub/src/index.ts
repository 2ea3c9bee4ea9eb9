/**
 * `@taskpulse/ws-hub`: the taskpulse server.
 *
 * @packageDocumentation
 */

// Brokers
export { createMemoryBroker, type MemoryBrokerOptions } from './memory-broker';
