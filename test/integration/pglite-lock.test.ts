import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PGLITE_LOCK_FILE } from '../../src/db/pglite-lock.ts';
import { createProcessRunner, freePort, waitForListening } from '../helpers/streamgate-process.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());

async function createState(port: number, name: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `mutation { createState(input: { name: "${name}" }) { id } }` }),
  });
  const body = (await response.json()) as { data?: { createState: { id: string } }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data?.createState.id ?? '';
}

async function stateName(port: number, id: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `{ state(id: "${id}") { name } }` }),
  });
  return ((await response.json()) as { data?: { state: { name: string } | null } }).data?.state?.name;
}

// Real processes on a fresh PGlite directory (its first start takes a while on a loaded machine).
describe('one process per PGLITE_DIR', { timeout: 240_000 }, () => {
  it('refuses a second server on the directory, naming it and the other pid; takes over the lock of a killed one', async () => {
    const dir = join(await processes.tempDir('streamgate-pglite-lock-'), 'db');
    const firstPort = await freePort();
    const first = processes.start({ PGLITE_DIR: dir, PORT: String(firstPort) });
    await waitForListening(first.lines);
    const id = await createState(firstPort, 'made by the first');

    const second = processes.start({ PGLITE_DIR: dir, PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    const refusal = second
      .output()
      .split('\n')
      .filter((line) => line.startsWith('streamgate: cannot start: '));
    expect(refusal).toEqual([
      expect.stringMatching(
        new RegExp(
          `^streamgate: cannot start: PGLITE_DIR=${dir} is in use by another streamgate \\(pid ${first.child.pid}, since [^)]+\\); `,
        ),
      ),
    ]);
    // The first one is untouched by the refused start.
    expect(await stateName(firstPort, id)).toBe('made by the first');

    // Killed without a chance to clean up: its lock stays behind, and is taken over.
    first.child.kill('SIGKILL');
    await first.exited;
    const stale = JSON.parse(await readFile(join(dir, PGLITE_LOCK_FILE), 'utf8')) as { pid: number };
    expect(stale.pid).toBe(first.child.pid);

    const thirdPort = await freePort();
    const third = processes.start({ PGLITE_DIR: dir, PORT: String(thirdPort) });
    await waitForListening(third.lines);
    const held = JSON.parse(await readFile(join(dir, PGLITE_LOCK_FILE), 'utf8')) as { pid: number };
    expect(held.pid).toBe(third.child.pid);
    expect(await stateName(thirdPort, id)).toBe('made by the first');

    // A clean stop removes the lock.
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    await expect(readFile(join(dir, PGLITE_LOCK_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
