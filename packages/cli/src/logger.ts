/**
 * The command's logger: JSON lines on stderr, one object per event.
 * @module
 */
import type { TaskpulseLogger } from '@taskpulse/protocol';

/** Log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Fields added to every line (e.g. `{ worker: 2 }`). */
  fields?: Record<string, unknown>;
  /** Where a line goes. @default process.stderr */
  write?: (line: string) => void;
}

function serializable(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}

/**
 * Creates a {@link TaskpulseLogger} writing one JSON object per line:
 * `{"level":"warn","time":"…","message":"…",…fields}`.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): TaskpulseLogger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const at =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (ORDER[level] < min) return;
      let line: string;
      try {
        line = JSON.stringify({
          level,
          time: new Date().toISOString(),
          message,
          ...options.fields,
          ...serializable(fields),
        });
      } catch {
        // A field that cannot be serialized (a cycle, a BigInt) must not lose the message.
        line = JSON.stringify({ level, time: new Date().toISOString(), message, ...options.fields });
      }
      write(`${line}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
