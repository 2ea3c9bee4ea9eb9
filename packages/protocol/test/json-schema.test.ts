import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JSON_SCHEMA_SOURCES, PROTOCOL_VERSION, toJsonSchema } from '@taskpulse/protocol';
import { requirePythonModules } from '@taskpulse/testkit';
import { describe, expect, it } from 'vitest';
import { REGENERATE_COMMAND, renderSchemaFiles, SCHEMA_DIR } from '../scripts/schema-files';

const schemaDir = fileURLToPath(SCHEMA_DIR);

describe('JSON Schema files', () => {
  it('exist for every source and no other', () => {
    const onDisk = readdirSync(schemaDir).filter((name) => name.endsWith('.json'));
    const expected = Object.keys(JSON_SCHEMA_SOURCES).map((name) => `${name}.json`);
    expect(onDisk.sort(), `schemas/ is out of date: run ${REGENERATE_COMMAND}`).toEqual(expected.sort());
  });

  it('match the zod source byte for byte', () => {
    const stale: string[] = [];
    for (const [name, content] of renderSchemaFiles()) {
      let onDisk = '';
      try {
        onDisk = readFileSync(`${schemaDir}${name}`, 'utf8');
      } catch {
        // missing: reported below like a stale file
      }
      if (onDisk !== content) stale.push(name);
    }
    expect(stale, `schemas drifted from the zod source: run ${REGENERATE_COMMAND}`).toEqual([]);
  });

  it('are draft 2020-12 documents named for the protocol version', () => {
    const schema = toJsonSchema('worker-status');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(`urn:taskpulse:protocol:v${PROTOCOL_VERSION}:worker-status`);
    expect(schema.required).toEqual([
      'running',
      'workers',
      'queue_pending',
      'queue_retry',
      'queue_dead',
      'processed_total',
      'processed_today',
      'speed',
      'last_error',
    ]);
  });
});

describe('a Python worker with python3-jsonschema', () => {
  it('accepts the seed examples and rejects broken ones, using the schema files', () => {
    const python = requirePythonModules(['jsonschema']);
    const script = fileURLToPath(new URL('./python/validate_seed_examples.py', import.meta.url));
    const fixture = fileURLToPath(new URL('./fixtures/seed-examples.json', import.meta.url));
    const run = spawnSync(python, [script, schemaDir, fixture], { encoding: 'utf8', timeout: 60_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as {
      schemas: string[];
      valid: number;
      rejected: number;
      failures: unknown[];
    };
    expect(report.failures).toEqual([]);
    expect(run.status).toBe(0);
    expect(report.schemas).toEqual(Object.keys(JSON_SCHEMA_SOURCES).sort());
    // Every example with a schema file was validated, and every mutation of it was rejected.
    const fixtureData = JSON.parse(readFileSync(fixture, 'utf8')) as {
      examples: { schema: string; required: string[]; typed: string[]; value: unknown }[];
    };
    const withFile = fixtureData.examples.filter((e) => e.schema in JSON_SCHEMA_SOURCES);
    expect(report.valid).toBe(withFile.length);
    expect(report.rejected).toBeGreaterThanOrEqual(
      withFile.reduce((n, e) => n + e.required.length + e.typed.length, 0),
    );
  });
});
