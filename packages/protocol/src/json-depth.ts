/**
 * The nesting rule: one limit on how deeply a publication's `data` may nest, applied by every way
 * in (publishers, the Lua script, HTTP, WebSocket, bridges) and by every reader of stored or
 * received publications, so that no payload can exhaust a process's stack when it is serialized.
 * @module
 */

/**
 * Deepest nesting of arrays and objects allowed in a publication's `data` (a scalar has depth 0,
 * `[]` and `{}` depth 1, `[[1]]` depth 2). The same number is enforced by `lua/publish.lua`.
 */
export const MAX_DATA_DEPTH = 64;

/**
 * The nesting depth of JSON text: the deepest level of `[`/`{` outside strings. Iterative (no
 * recursion, so any input is safe) and linear; it does not validate the text.
 *
 * @example
 * ```ts
 * jsonDepth('{"a":[1,{"b":2}]}') // 3
 * jsonDepth('"[[["') // 0
 * ```
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** True when JSON text nests deeper than `maxDepth` (see {@link jsonDepth}). */
export function exceedsDepth(text: string, maxDepth: number): boolean {
  // Nesting needs at least one character per level.
  if (text.length <= maxDepth) return false;
  return jsonDepth(text) > maxDepth;
}
