/**
 * Where a legacy client's subscriptions live between connections, so that reconnecting with
 * `old_client_id` (seed 001) restores them on any hub node.
 * @module
 */
import type { Broker, NamespaceOptions, StreamPosition } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';

/** What is kept per client id. */
export interface ClientRecord {
  /** The user of the connection that saved the record. */
  userId?: string;
  /** Its projects. */
  projectIds?: string[];
  /** Subscribed task ids, each with the last position delivered (null before any). */
  tasks: Record<string, StreamPosition | null>;
  /**
   * Incremented by each connection that takes the client id over; a connection whose generation
   * is older than the stored one does not overwrite the record (its late close must not undo
   * the subscriptions of the newer connection on another node).
   */
  generation: number;
}

/** Loads and saves {@link ClientRecord}s. */
export interface ClientRecordStore {
  /** The record of a client id, or null when none (never seen, or expired). */
  load(clientId: string): Promise<ClientRecord | null>;
  /** Saves the record of a client id. */
  save(clientId: string, record: ClientRecord): Promise<void>;
}

/** Namespace of the channels {@link createBrokerClientStore} keeps records in. */
export const CLIENT_RECORD_NAMESPACE = 'dialect-client';

/**
 * Namespace options to add to the broker's table for the client records: a state channel that
 * nobody may subscribe to or read over the wire, one retained value, 24 h TTL (seed 001).
 *
 * @example
 * ```ts
 * createRedisBroker({ redis, namespaces: { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES } });
 * ```
 */
export const CLIENT_RECORD_NAMESPACES: Readonly<Record<string, Partial<NamespaceOptions>>> = Object.freeze({
  [CLIENT_RECORD_NAMESPACE]: { kind: 'state', access: 'none', historySize: 1, historyTtlMs: 24 * 60 * 60 * 1000 },
});

function isRecord(value: unknown): value is ClientRecord {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<ClientRecord>;
  return typeof v.generation === 'number' && v.tasks !== null && typeof v.tasks === 'object';
}

/** Options of {@link createBrokerClientStore}. */
export interface BrokerClientStoreOptions {
  /**
   * Namespace of the record channels.
   * @default 'dialect-client'
   */
  namespace?: string;
}

/**
 * A {@link ClientRecordStore} in the broker itself: each record is the latest value of the state
 * channel `dialect-client:{clientId}`, so every hub node on the same broker (Redis) sees it, and
 * it expires with the namespace's TTL. Configure the namespace with
 * {@link CLIENT_RECORD_NAMESPACES} so that clients cannot subscribe to it.
 */
export function createBrokerClientStore(broker: Broker, options: BrokerClientStoreOptions = {}): ClientRecordStore {
  const namespace = options.namespace ?? CLIENT_RECORD_NAMESPACE;
  const channelOf = (clientId: string) => `${namespace}:${clientId}`;
  return {
    async load(clientId) {
      const state = await broker.state(channelOf(clientId));
      const data = state.latest?.data;
      return isRecord(data) ? data : null;
    },
    async save(clientId, record) {
      await broker.publish(channelOf(clientId), 'client', record);
    },
  };
}

/**
 * Logs a warning through `core.logger` unless the record namespace is closed to clients
 * (`access: 'none'`): otherwise anyone could read a client's user and project ids over
 * `GET {base}/channels/dialect-client:{id}/state`. `SEED_NAMESPACES` and
 * {@link CLIENT_RECORD_NAMESPACES} both close it.
 */
export function warnIfClientRecordsReadable(core: HubCore, namespace: string = CLIENT_RECORD_NAMESPACE): void {
  let access: string;
  try {
    access = core.broker.namespaceOptions(`${namespace}:probe`).access;
  } catch (error) {
    access = `unusable (${String(error)})`;
  }
  if (access === 'none') return;
  core.logger.warn(
    `dialect client records in namespace "${namespace}" have access "${access}": clients can read them; ` +
      'add CLIENT_RECORD_NAMESPACES (or SEED_NAMESPACES) to the namespace table of the hub and broker',
    { namespace, access },
  );
}
