/**
 * JSON Schema files for non-TypeScript publishers, generated from the zod schemas.
 * The package ships them under `schemas/`; a test fails when they drift from the zod source.
 * @module
 */
import { z } from 'zod';
import { queueStatusSchema, celeryServerMessageSchema } from './payloads/celery';
import {
  taskProgressSchema,
  taskProgressServerMessageSchema,
  taskStatusUpdateSchema,
} from './payloads/task-progress';
import { testQueueEnvelopeSchema } from './payloads/test-queue';
import { workerStatusSchema } from './payloads/worker-status';
import { clientFrameSchema, serverFrameSchema } from './frames';
import { publicationSchema } from './publication';

/** The zod schemas that have a JSON Schema file, by file name (without `.json`). */
export const JSON_SCHEMA_SOURCES = {
  publication: publicationSchema,
  'client-frame': clientFrameSchema,
  'server-frame': serverFrameSchema,
  'worker-status': workerStatusSchema,
  'task-progress': taskProgressSchema,
  'task-status': taskStatusUpdateSchema,
  'task-progress-message': taskProgressServerMessageSchema,
  'celery-message': celeryServerMessageSchema,
  'queue-status': queueStatusSchema,
  'test-queue-envelope': testQueueEnvelopeSchema,
} as const;

/** The name of a JSON Schema file. */
export type JsonSchemaName = keyof typeof JSON_SCHEMA_SOURCES;

/** Generates one JSON Schema (draft 2020-12) document from its zod source. */
export function toJsonSchema(name: JsonSchemaName): Record<string, unknown> {
  const schema = JSON_SCHEMA_SOURCES[name];
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return {
    $id: `https://taskpulse.dev/schemas/${name}.json`,
    title: name,
    ...json,
  };
}
