/**
 * Reading and validating the configuration file, with errors that name the bad key path.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, type HubConfig } from './schema';

/**
 * A configuration that cannot be used. `problems` lists each one as `path: message`, for
 * example `bridges[0].targetChannel: must be a taskpulse channel name`.
 */
export class ConfigError extends Error {
  /** Each problem, as `key.path: what is wrong`. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration in ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Formats a key path the way it is written in JSON: `bridges[0].lease.ttlMs`. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      out += /^[A-Za-z_$][\w$-]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatKeyPath([...issue.path, key])}: unknown key`);
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A union (e.g. `true` or an options object): report the branch that got furthest.
    const deepest = issue.errors
      .map((branch) => branch.filter((i) => i.code !== 'invalid_type' || i.path.length > 0))
      .find((branch) => branch.length > 0);
    if (deepest) return deepest.flatMap((i) => describeIssue({ ...i, path: [...issue.path, ...i.path] }));
  }
  return [`${formatKeyPath(issue.path)}: ${issue.message}`];
}

/**
 * Validates a parsed configuration object.
 * @param value - the parsed JSON
 * @param source - where it came from, for the error message
 * @throws {@link ConfigError} naming every bad key path
 */
export function parseConfig(value: unknown, source = 'configuration'): HubConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.flatMap(describeIssue));
}

/**
 * Reads and validates a JSON configuration file.
 * @throws {@link ConfigError} when the file cannot be read, is not JSON, or does not validate
 */
export async function loadConfigFile(file: string): Promise<HubConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const config = parseConfig(json, file);
  // Paths in the file are relative to the file, not to where the command runs.
  if (config.server?.static) config.server.static = resolve(dirname(file), config.server.static);
  return config;
}
