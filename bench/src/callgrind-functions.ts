/**
 * Where a callgrind dump's instructions went, by function: the self cost of every function, with
 * V8's generated code named through the perf map that `node --perf-basic-prof` writes
 * (`/tmp/perf-<pid>.map`). Callgrind names generated code by address only; the map says which
 * JavaScript function, and in which tier, each address range holds (`*` TurboFan, `^` Sparkplug
 * baseline, `~` interpreter entry). Used by `instructions.ts --functions N`.
 *
 * Run the server with `--no-compact-code-space` as well: code that the garbage collector moves is
 * not logged again, and its old range would name whatever code comes there next.
 */
import { readFileSync } from 'node:fs';
import { codeKind } from './code-kind';

/** One address range of generated code, as the perf map lists it. */
interface MapEntry {
  start: number;
  end: number;
  /** Line in the map: a later entry is newer code at a reused address. */
  order: number;
  name: string;
}

/** The perf map of one process: generated code by address. */
export class PerfMap {
  readonly #entries: MapEntry[];
  readonly #starts: number[];

  /** @param text - the map's text (`<start hex> <size hex> <name>` per line) */
  constructor(text: string) {
    const entries: MapEntry[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(lines[i] as string);
      if (!m) continue;
      const start = Number.parseInt(m[1] as string, 16);
      entries.push({ start, end: start + Number.parseInt(m[2] as string, 16), order: i, name: m[3] as string });
    }
    entries.sort((a, b) => a.start - b.start || a.order - b.order);
    this.#entries = entries;
    this.#starts = entries.map((e) => e.start);
  }

  /** The newest code whose range holds `address`, or undefined. */
  lookup(address: number): string | undefined {
    // the last entry starting at or before the address, then back over earlier (longer) ranges
    let lo = 0;
    let hi = this.#starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#starts[mid] as number) <= address) lo = mid + 1;
      else hi = mid;
    }
    let best: MapEntry | undefined;
    for (let i = lo - 1; i >= 0 && i >= lo - 400; i--) {
      const e = this.#entries[i] as MapEntry;
      if (e.start <= address && address < e.end && (best === undefined || e.order > best.order)) best = e;
    }
    return best?.name;
  }
}

/** A function's share of the dump. */
export interface FunctionCost {
  /** JavaScript functions as `JS <tier><name> <location>`; native ones by symbol. */
  name: string;
  /** What kind of code it is (see {@link codeKind}). */
  kind: string;
  /** Instructions executed in the function itself (not in what it called). */
  self: number;
}

/**
 * The self cost of every function of a callgrind dump (event `Ir`), generated code named by the
 * perf map. Reads callgrind's format with its name compression (`fn=(id) name`, later `fn=(id)`).
 */
export function functionCosts(dump: string, map: PerfMap): FunctionCost[] {
  const names = new Map<string, string>();
  const resolve = (spec: string): string => {
    let raw = spec.trim();
    const m = /^\((\d+)\)(?:\s+(.*))?$/.exec(raw);
    if (m) {
      if (m[2] !== undefined) names.set(m[1] as string, m[2]);
      raw = names.get(m[1] as string) ?? '?';
    }
    const address = /^0x([0-9a-f]+)$/.exec(raw);
    if (!address) return raw;
    const js = map.lookup(Number.parseInt(address[1] as string, 16));
    return js === undefined ? raw : `JS ${js.replace(/^JS:/, '')}`;
  };
  const self = new Map<string, number>();
  let fn = '?';
  let afterCalls = false;
  for (const line of dump.split('\n')) {
    if (line.startsWith('fn=')) {
      fn = resolve(line.slice(3));
      continue;
    }
    if (line.startsWith('cfn=')) {
      // compressed names are defined where first seen, also on a call line
      resolve(line.slice(4));
      continue;
    }
    if (line.startsWith('calls=')) {
      afterCalls = true;
      continue;
    }
    const c = line.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      // a cost line: position, then Ir; the line after `calls=` is the call's inclusive cost
      if (afterCalls) {
        afterCalls = false;
        continue;
      }
      const cost = Number(line.split(' ')[1] ?? 0);
      if (cost > 0) self.set(fn, (self.get(fn) ?? 0) + cost);
    }
  }
  return [...self].map(([name, cost]) => ({ name, kind: codeKind(name), self: cost }));
}

/** {@link functionCosts} of a dump file and a perf map file. */
export function functionCostsOf(dumpFile: string, mapFile: string): FunctionCost[] {
  return functionCosts(readFileSync(dumpFile, 'utf8'), new PerfMap(readFileSync(mapFile, 'utf8')));
}
