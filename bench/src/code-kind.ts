/**
 * What kind of code a profiled symbol is, for the profiles of `instructions.ts --functions`
 * (callgrind) and `--perf` (Linux perf): the kernel, JavaScript by V8 tier, V8's compilers,
 * interpreter, builtins, garbage collector and runtime, Node's C++, libuv, OpenSSL, and the rest.
 */

/**
 * The kind of code of `symbol`. JavaScript is named as the perf map names it, `JS:<tier><name>` or
 * `JS <tier><name>` (`*` TurboFan, `^` Sparkplug baseline, `~` interpreter entry); `object` is the
 * file the code is in, when the profiler says (`[kernel.kallsyms]`, `node`, `libc.so.6`, the map).
 */
export function codeKind(symbol: string, object?: string): string {
  if (object?.includes('kernel')) return 'kernel';
  const js = /^JS[: ](.)/.exec(symbol);
  if (js) {
    if (js[1] === '*') return 'JavaScript, optimized (TurboFan)';
    if (js[1] === '^') return 'JavaScript, baseline (Sparkplug)';
    if (js[1] === '~') return 'JavaScript, interpreted';
    return 'JavaScript, other';
  }
  if (symbol.startsWith('0x') || object?.startsWith('perf-')) return 'generated code outside the map';
  if (/compiler::|maglev|OptimizingCompile|turboshaft/i.test(symbol)) return 'V8 compilers';
  if (/^Builtins_\w*(Handler|InterpreterEntryTrampoline)/.test(symbol)) return 'V8 interpreter';
  if (symbol.startsWith('Builtins_')) return 'V8 builtins (inline caches, calls, …)';
  if (/Heap|Scaveng|MarkCompact|Sweep|Marking|Evacuat|heap::/.test(symbol)) return 'V8 garbage collection';
  if (/v8::|v8_/.test(symbol)) return 'V8 runtime';
  if (/node::/.test(symbol)) return 'Node (C++)';
  if (/^uv_|^uv__/.test(symbol)) return 'libuv';
  if (/sha1_|SHA1|EVP_|OPENSSL|CRYPTO_|HMAC/.test(symbol)) return 'OpenSSL';
  return object === undefined || object === 'node' ? 'other native (libc, libstdc++, …)' : object;
}
