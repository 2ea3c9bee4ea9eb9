#!/usr/bin/env node
/**
 * Type-checks every TypeScript snippet of the documentation: each ```ts (or ```typescript) block of
 * README.md, docs/*.md, packages/*\/README.md and examples/*\/README.md becomes a module and is
 * compiled with the repository's strict settings against the packages' sources (the
 * `@taskpulse/source` condition, so no build is needed). A snippet may rely on names defined
 * around it (a server, a logger): declare them in an HTML comment right above the block, which
 * readers do not see but the check compiles first:
 *
 *     <!-- ts-context
 *     import type { Server } from 'node:http';
 *     declare const server: Server;
 *     -->
 *
 * A snippet that is intentionally partial (a fragment of a larger file) is marked ```ts partial
 * and skipped; every other snippet must compile as written.
 *
 * Run by `npm run lint` (so by `npm test`). Options: `--keep` leaves the generated files in
 * node_modules/.cache/doc-snippets; `--list` prints each snippet's file and line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const keep = process.argv.includes('--keep');
const list = process.argv.includes('--list');
const out = join(root, 'node_modules/.cache/doc-snippets');

/** The Markdown files whose snippets are checked. */
function markdownFiles() {
  const files = [join(root, 'README.md')];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs)) if (name.endsWith('.md')) files.push(join(docs, name));
  }
  for (const group of ['packages', 'examples']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const readme = join(dir, name, 'README.md');
      if (existsSync(readme)) files.push(readme);
    }
  }
  return files;
}

/** The ```ts blocks of a Markdown text: first line, source, hidden context; partial ones flagged. */
export function extractSnippets(text) {
  const snippets = [];
  const lines = text.split('\n');
  let context = '';
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*<!--\s*ts-context\s*$/.test(lines[i])) {
      const body = [];
      let j = i + 1;
      for (; j < lines.length && !/^\s*-->\s*$/.test(lines[j]); j++) body.push(lines[j]);
      context = body.join('\n');
      i = j;
      continue;
    }
    const open = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]);
    if (!open) {
      if (lines[i].trim() !== '') context = '';
      continue;
    }
    const indent = open[1].length;
    const info = open[3].trim().split(/\s+/);
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(indent));
    snippets.push({ line: i + 1, partial: info.includes('partial'), context, source: body.join('\n') });
    context = '';
    i = j;
  }
  return snippets;
}

function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const files = [];
  const origin = new Map();
  const offsets = new Map();
  let skipped = 0;
  for (const md of markdownFiles()) {
    const rel = relative(root, md);
    for (const snippet of extractSnippets(readFileSync(md, 'utf8'))) {
      if (snippet.partial) {
        skipped++;
        continue;
      }
      const name = `${rel.replace(/[^A-Za-z0-9]+/g, '_')}_L${snippet.line}.ts`;
      // Each snippet is its own module (top-level await allowed, no name clashes between snippets).
      // The context goes first, on as many lines as it takes; errors are reported in snippet lines.
      const head = snippet.context ? `${snippet.context}\n` : '';
      writeFileSync(join(out, name), `${head}${snippet.source}\n\nexport {};\n`);
      offsets.set(name, head ? head.split('\n').length - 1 : 0);
      files.push(name);
      origin.set(name, `${rel}:${snippet.line}`);
      if (list) process.stdout.write(`doc-snippets: ${rel}:${snippet.line}\n`);
    }
  }
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        // Snippets show usage, not every value read: unused names are fine here.
        noUnusedLocals: false,
      },
      files,
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', out, '--pretty', 'false'], { cwd: out, encoding: 'utf8' });
  if (run.status !== 0) {
    // Point each error at the Markdown file and the snippet's opening line.
    const report = `${run.stdout}${run.stderr}`.replace(/^([^(\s]+\.ts)\((\d+),(\d+)\)/gm, (_m, file, line, col) => {
      const base = file.split('/').pop();
      const where = origin.get(base) ?? file;
      const snippetLine = Number(line) - (offsets.get(base) ?? 0);
      return snippetLine > 0
        ? `${where} (snippet line ${snippetLine}, column ${col})`
        : `${where} (ts-context line ${line}, column ${col})`;
    });
    process.stderr.write(`doc-snippets: ${files.length} snippet(s), type errors:\n${report}`);
    process.stderr.write('doc-snippets: fix the snippet, or mark an intentionally partial one ```ts partial\n');
    process.exitCode = 1;
  } else {
    process.stdout.write(
      `doc-snippets: ${files.length} TypeScript snippet(s) type-check (${skipped} marked partial)\n`,
    );
  }
  if (!keep && process.exitCode !== 1) rmSync(out, { recursive: true, force: true });
}

main();
