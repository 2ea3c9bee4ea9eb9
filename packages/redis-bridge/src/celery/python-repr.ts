/**
 * A parser for the Python literals Celery puts in events: `args`, `kwargs` and `result` are
 * `repr()` strings (`"(2, 3)"`, `"{'avid': 'SSIS-950'}"`), not JSON, cut at about 1024
 * characters. Only literals are understood (str, bytes, int, float, bool, None, tuple, list,
 * dict, set); anything else — an object repr, a cut-off string — is "not parseable".
 * @module
 */

/** Thrown by {@link parsePythonLiteral} for text that is not a complete Python literal. */
export class PythonReprError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonReprError';
  }
}

const MAX_DEPTH = 32;

/**
 * Parses one Python literal. Tuples and sets become arrays, dicts objects (keys as strings),
 * `None` null, bytes strings.
 * @throws {@link PythonReprError} when `text` is not one complete literal
 */
export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new PythonReprError(`${what} at ${i}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const parseString = (): string => {
    let raw = false;
    while (/[rbuRBU]/.test(text[i] ?? '')) {
      if (/[rR]/.test(text[i] as string)) raw = true;
      i++;
    }
    const quote = text[i];
    if (quote !== "'" && quote !== '"') return fail('expected a string');
    i++;
    let out = '';
    while (i < text.length) {
      const c = text[i] as string;
      if (c === quote) {
        i++;
        return out;
      }
      if (c === '\\' && !raw) {
        const n = text[i + 1];
        i += 2;
        if (n === undefined) break;
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        if (n in simple) out += simple[n];
        else if (n === 'x' || n === 'u' || n === 'U') {
          const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
          const hex = text.slice(i, i + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail('bad escape');
          out += String.fromCodePoint(Number.parseInt(hex, 16));
          i += len;
        } else out += `\\${n}`;
        continue;
      }
      out += c;
      i++;
    }
    return fail('unterminated string');
  };
  const parseSeq = (close: string, depth: number): unknown[] => {
    const items: unknown[] = [];
    ws();
    while (text[i] !== close) {
      items.push(value(depth + 1));
      ws();
      if (text[i] === ',') {
        i++;
        ws();
      } else if (text[i] !== close) fail(`expected "," or "${close}"`);
    }
    i++;
    return items;
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end');
    if (c === '(') {
      i++;
      return parseSeq(')', depth);
    }
    if (c === '[') {
      i++;
      return parseSeq(']', depth);
    }
    if (c === '{') {
      i++;
      ws();
      const obj: Record<string, unknown> = {};
      const set: unknown[] = [];
      let isSet = false;
      while (text[i] !== '}') {
        const key = value(depth + 1);
        ws();
        if (text[i] === ':') {
          if (isSet) fail('mixed set and dict');
          i++;
          const v = value(depth + 1);
          Object.defineProperty(obj, typeof key === 'string' ? key : JSON.stringify(key), {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          isSet = true;
          set.push(key);
        }
        ws();
        if (text[i] === ',') {
          i++;
          ws();
        } else if (text[i] !== '}') fail('expected "," or "}"');
      }
      i++;
      return isSet ? set : obj;
    }
    if (c === "'" || c === '"' || (/[rbuRBU]/.test(c) && /['"rbRB]/.test(text[i + 1] ?? ''))) return parseString();
    const word = /^(None|True|False|-?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!word) return fail('not a literal');
    const w = word[1] as string;
    i += w.length;
    if (w === 'None') return null;
    if (w === 'True') return true;
    if (w === 'False') return false;
    const n = Number(w.replaceAll('_', ''));
    if (!Number.isFinite(n)) fail('bad number');
    return n;
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing text');
  return result;
}

/** Parses Celery's `args` repr into an array, or returns null when it is not a literal tuple/list. */
export function parseArgsRepr(text: unknown): unknown[] | null {
  if (typeof text !== 'string') return null;
  try {
    const value = parsePythonLiteral(text);
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Parses Celery's `kwargs` repr into an object, or returns null when it is not a literal dict. */
export function parseKwargsRepr(text: unknown): Record<string, unknown> | null {
  if (typeof text !== 'string') return null;
  try {
    const value = parsePythonLiteral(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
