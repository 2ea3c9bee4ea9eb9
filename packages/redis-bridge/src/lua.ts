/**
 * The Lua scripts shipped in `lua/` and how they run: EVALSHA first, EVAL when the server does
 * not know the script yet (after a restart, on a new cluster node).
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './connection';

/** The scripts shipped in the package's `lua/` folder. */
export type LuaScriptName = 'publish' | 'read';

/**
 * Absolute path of a script shipped with the package, for running it from another language
 * (for example redis-py's `register_script(open(path).read())`). The same file is exported as
 * `@taskpulse/redis-bridge/lua/<name>.lua`.
 *
 * @example
 * ```ts
 * luaScriptPath('publish') // '/…/node_modules/@taskpulse/redis-bridge/lua/publish.lua'
 * ```
 */
export function luaScriptPath(name: LuaScriptName): string {
  // Resolved against this module: `src/lua.ts` under vitest/tsx and `dist/index.{js,cjs}` after
  // the build both sit one level below the package root (tsup shims import.meta.url for CJS).
  return fileURLToPath(new URL(`../lua/${name}.lua`, import.meta.url));
}

/** A loaded script: its source and SHA1. */
export interface LoadedScript {
  readonly name: LuaScriptName;
  readonly source: string;
  readonly sha: string;
}

const cache = new Map<LuaScriptName, LoadedScript>();

/** Reads (once) a script shipped in `lua/`. @internal */
export function loadScript(name: LuaScriptName): LoadedScript {
  let script = cache.get(name);
  if (!script) {
    const source = readFileSync(luaScriptPath(name), 'utf8');
    script = { name, source, sha: createHash('sha1').update(source).digest('hex') };
    cache.set(name, script);
  }
  return script;
}

/**
 * Runs a script with EVALSHA and falls back to EVAL on NOSCRIPT (which also caches it server-side).
 * With a Cluster client ioredis routes both by the first key. @internal
 */
export async function runScript(
  client: RedisClient,
  script: LoadedScript,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.includes('NOSCRIPT')) {
      return client.eval(script.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
