/**
 * The guide's example cannot rot: every code block of docs/vue.md marked with
 * `<!-- example: <path> -->` must equal that file, which `npm run typecheck` checks and the
 * browser test runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const guide = readFileSync(join(root, 'docs', 'vue.md'), 'utf8');
const MARKED_BLOCK = /<!-- example: ([^\s]+) -->\s*\n```ts\n([\s\S]*?)```/g;

describe('docs/vue.md', () => {
  const blocks = [...guide.matchAll(MARKED_BLOCK)].map((m) => ({ path: m[1] as string, code: m[2] as string }));

  it('shows the example component, checked against its type-checked file', () => {
    expect(blocks.map((b) => b.path)).toContain('packages/vue-adapter/examples/worker-panel.ts');
    for (const { path, code } of blocks) {
      expect(code, `the block marked ${path} differs from the file: copy the file into the guide`).toBe(
        readFileSync(join(root, path), 'utf8'),
      );
    }
  });

  it('names every export of the package', async () => {
    const api = await import('../src/index');
    for (const name of Object.keys(api)) expect(guide, `docs/vue.md does not mention ${name}`).toContain(name);
  });
});
