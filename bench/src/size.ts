/**
 * Browser bundle size: the taskpulse client (`@taskpulse/fallback-client`, all three transports)
 * beside socket.io-client and centrifuge, each bundled the same way by esbuild (ESM, browser
 * platform, minified, everything inlined), then gzipped (level 9) and brotli-compressed.
 *
 * Run: `npm run size -w @taskpulse/bench` (or `node --conditions=@taskpulse/source --import tsx
 * bench/src/size.ts` from the root); `--json` prints the raw numbers. Takes a few seconds.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

/** One library: what an application imports from it to open a connection. */
interface Subject {
  name: string;
  version: string;
  /** The entry module: imports the client and keeps it (so nothing is tree-shaken away). */
  entry: string;
  note: string;
}

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    // centrifuge's exports map has no ./package.json: read it from its resolved entry's directory
    const main = require.resolve(pkg);
    const dir = main.slice(0, main.lastIndexOf(`node_modules/${pkg}/`) + `node_modules/${pkg}/`.length);
    return (require(join(dir, 'package.json')) as { version: string }).version;
  }
}

const SUBJECTS: Subject[] = [
  {
    name: '@taskpulse/fallback-client',
    version: 'workspace',
    entry: "export { createClient } from '@taskpulse/fallback-client';",
    note: 'WebSocket + SSE + polling, backoff, resume',
  },
  {
    name: 'socket.io-client',
    version: version('socket.io-client'),
    entry: "export { io } from 'socket.io-client';",
    note: 'WebSocket + HTTP long-polling (engine.io)',
  },
  {
    name: 'centrifuge',
    version: version('centrifuge'),
    entry: "export { Centrifuge } from 'centrifuge';",
    note: 'JSON protocol; WebSocket, SSE, HTTP-stream, WebTransport',
  },
];

/** Sizes in bytes. */
export interface SizeResult {
  name: string;
  version: string;
  minified: number;
  gzip: number;
  brotli: number;
  note: string;
}

/** Bundles and measures one subject. */
async function measure(subject: Subject): Promise<SizeResult> {
  const result = await build({
    stdin: { contents: subject.entry, resolveDir: BENCH_DIR, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    conditions: ['@taskpulse/source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return {
    name: subject.name,
    version: subject.version,
    minified: code.byteLength,
    gzip: gzipSync(code, { level: 9 }).byteLength,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength,
    note: subject.note,
  };
}

/** Measures every subject. */
export async function runSizeBench(): Promise<SizeResult[]> {
  const out: SizeResult[] = [];
  for (const subject of SUBJECTS) out.push(await measure(subject));
  return out;
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/** The Markdown table. */
export function renderSizes(results: SizeResult[]): string {
  const lines = [
    '| library | version | minified | gzip -9 | brotli 11 | what it includes |',
    '|---|---|---:|---:|---:|---|',
    ...results.map(
      (r) => `| ${r.name} | ${r.version} | ${kb(r.minified)} | ${kb(r.gzip)} | ${kb(r.brotli)} | ${r.note} |`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await runSizeBench();
  process.stdout.write(
    process.argv.includes('--json') ? `${JSON.stringify(results, null, 2)}\n` : `${renderSizes(results)}\n`,
  );
}
