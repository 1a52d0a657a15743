import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs')))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'contract/legacy.md', ...docs];
}

// A user's clone has nothing beside it and no access to our issue tracker.
describe('the docs point only inside the repository', () => {
  it('every relative link resolves to a file of the repository', async () => {
    const broken: string[] = [];
    for (const file of await markdownFiles()) {
      const text = await readFile(join(root, file), 'utf8');
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const path = resolve(dirname(join(root, file)), target.split('#')[0] ?? '');
        if (relative(root, path).startsWith('..') || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('names no folder beside the repository and no issue numbers', async () => {
    const found: string[] = [];
    for (const file of await markdownFiles()) {
      const text = await readFile(join(root, file), 'utf8');
      for (const match of text.matchAll(/\.\.\/shared\b|\bissue \d+\b/gi)) found.push(`${file}: ${match[0]}`);
    }
    expect(found).toEqual([]);
  });
});
