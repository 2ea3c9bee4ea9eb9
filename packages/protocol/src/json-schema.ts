/**
 * JSON Schema files for non-TypeScript publishers, generated from the zod schemas.
 * The package ships them under `schemas/`; a test fails when they drift from the zod source.
 * @module
 */
import { z } from 'zod';
import { clientFrameSchema, PROTOCOL_VERSION, serverFrameSchema } from './frames';
import { celeryServerMessageSchema, queueStatusSchema } from './payloads/celery';
import { taskProgressSchema, taskProgressServerMessageSchema, taskStatusUpdateSchema } from './payloads/task-progress';
import { testQueueEnvelopeSchema } from './payloads/test-queue';
import { workerStatusSchema } from './payloads/worker-status';
import { publicationSchema } from './publication';

/** The zod schemas that have a JSON Schema file, by file name (without `.json`). */
export const JSON_SCHEMA_SOURCES = {
  /** `publication.json`: one publication ({@link publicationSchema}). */
  publication: publicationSchema,
  /** `client-frame.json`: any client → server frame ({@link clientFrameSchema}). */
  'client-frame': clientFrameSchema,
  /** `server-frame.json`: any server → client frame ({@link serverFrameSchema}). */
  'server-frame': serverFrameSchema,
  /** `worker-status.json`: seed 000's worker status ({@link workerStatusSchema}). */
  'worker-status': workerStatusSchema,
  /** `task-progress.json`: seed 001's progress record ({@link taskProgressSchema}). */
  'task-progress': taskProgressSchema,
  /** `task-status.json`: seed 001's status update ({@link taskStatusUpdateSchema}). */
  'task-status': taskStatusUpdateSchema,
  /** `task-progress-message.json`: any seed 001 WebSocket message ({@link taskProgressServerMessageSchema}). */
  'task-progress-message': taskProgressServerMessageSchema,
  /** `celery-message.json`: any seed 002 WebSocket message ({@link celeryServerMessageSchema}). */
  'celery-message': celeryServerMessageSchema,
  /** `queue-status.json`: seed 002's queue status ({@link queueStatusSchema}). */
  'queue-status': queueStatusSchema,
  /** `test-queue-envelope.json`: seed 003's standard envelope ({@link testQueueEnvelopeSchema}). */
  'test-queue-envelope': testQueueEnvelopeSchema,
} as const;

/** The name of a JSON Schema file. */
export type JsonSchemaName = keyof typeof JSON_SCHEMA_SOURCES;

/**
 * Generates one JSON Schema (draft 2020-12) document from its zod source, describing what a
 * publisher must send (zod's `input` view: defaults and transforms are not applied).
 *
 * The document's `$id` is `urn:taskpulse:protocol:v{PROTOCOL_VERSION}:{name}`: it names the
 * schema and the protocol version it belongs to without pretending to be a URL.
 *
 * @example
 * ```ts
 * writeFileSync('worker-status.json', JSON.stringify(toJsonSchema('worker-status'), null, 2));
 * ```
 */
export function toJsonSchema(name: JsonSchemaName): Record<string, unknown> {
  const schema = JSON_SCHEMA_SOURCES[name];
  // `unrepresentable` stays at its default ('throw'): a zod feature with no JSON Schema
  // equivalent must fail the build of the files, not silently become `{}` (accept anything).
  const { $schema, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
  return {
    $schema,
    $id: `urn:taskpulse:protocol:v${PROTOCOL_VERSION}:${name}`,
    title: name,
    ...rest,
  };
}
