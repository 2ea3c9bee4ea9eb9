/**
 * Renders the JSON Schema files from the zod source. Shared by `write-schemas.ts` (writes them)
 * and the drift test (compares them), so both agree byte for byte.
 */
import { JSON_SCHEMA_SOURCES, type JsonSchemaName, toJsonSchema } from '../src/json-schema';

/** The directory the files live in, `packages/protocol/schemas/`. */
export const SCHEMA_DIR = new URL('../schemas/', import.meta.url);

/** The command that regenerates the files, quoted in drift failures. */
export const REGENERATE_COMMAND = 'npm run schemas -w @taskpulse/protocol';

/** File name → file content, for every schema in {@link JSON_SCHEMA_SOURCES}. */
export function renderSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of Object.keys(JSON_SCHEMA_SOURCES) as JsonSchemaName[]) {
    files.set(`${name}.json`, `${JSON.stringify(toJsonSchema(name), null, 2)}\n`);
  }
  return files;
}
