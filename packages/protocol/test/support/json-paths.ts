/** Small helpers to address and mutate fields of JSON examples by dot path (`data.tasks.0.id`). */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function parts(path: string): (string | number)[] {
  return path.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function container(value: Json, path: string): { parent: Record<string | number, Json>; key: string | number } {
  const keys = parts(path);
  let current = value as Record<string | number, Json>;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    if (next === undefined || next === null || typeof next !== 'object') throw new Error(`no field at ${path}`);
    current = next as Record<string | number, Json>;
  }
  const key = keys[keys.length - 1] as string | number;
  if (!(key in current)) throw new Error(`no field at ${path}`);
  return { parent: current, key };
}

/** The value at `path`. Throws when there is none (a typo in a fixture must not pass silently). */
export function getAt(value: Json, path: string): Json {
  const { parent, key } = container(value, path);
  return parent[key] as Json;
}

/** A deep copy of `value` with the field at `path` removed. */
export function without(value: Json, path: string): Json {
  const copy = structuredClone(value);
  const { parent, key } = container(copy, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
  return copy;
}

/** A deep copy of `value` with the field at `path` replaced. */
export function withValue(value: Json, path: string, replacement: Json): Json {
  const copy = structuredClone(value);
  const { parent, key } = container(copy, path);
  parent[key] = replacement;
  return copy;
}

/** Values of another JSON type than `value` (the Python validator uses the same rule). */
export function mistypes(value: Json): Json[] {
  const out: Json[] = [typeof value === 'boolean' ? 'true' : true];
  if (typeof value === 'number') out.push(JSON.stringify(value));
  return out;
}

/** Paths of every leaf: primitives, empty arrays and empty objects. */
export function leafPaths(value: Json, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}
