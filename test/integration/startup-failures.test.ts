import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createProcessRunner, freePort, type StreamgateProcess } from '../helpers/streamgate-process.ts';
import { createTestDatabase, serviceUrl } from '../setup/services.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());

/** The process's exit code and the one line it printed about why it could not start. */
async function failure(run: StreamgateProcess): Promise<{ code: number | null; line: string }> {
  const code = await run.exited;
  const output = run.output();
  const lines = output.split('\n').filter((line) => line.startsWith('streamgate: cannot start: '));
  expect(lines, output).toHaveLength(1);
  // One line, not a stack dump.
  expect(output).not.toMatch(/^\s+at /m);
  return { code, line: lines[0] ?? '' };
}

// Real processes (tsx compiles at start-up): generous time under a loaded machine.
describe('a start-up failure is one line naming the setting and the cause', { timeout: 120_000 }, () => {
  it('database refusing connections: names DATABASE_URL, host and port, never the password; exit 1', async () => {
    const port = await freePort();
    const run = processes.start({
      DATABASE_URL: `postgres://app:hunter2-secret@127.0.0.1:${port}/streamgate`,
    });
    const { code, line } = await failure(run);
    expect(code).toBe(1);
    expect(line).toBe(
      `streamgate: cannot start: cannot connect to the database at DATABASE_URL (host 127.0.0.1, port ${port}, database streamgate): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(run.output()).not.toContain('hunter2-secret');
  });

  it('database refusing the login: says what Postgres answered, never the password; exit 1', async () => {
    const url = new URL(serviceUrl('postgres'));
    url.username = 'nobody_here';
    url.password = 'hunter2-secret';
    const run = processes.start({ DATABASE_URL: url.toString() });
    const { code, line } = await failure(run);
    expect(code).toBe(1);
    expect(line).toContain(
      `cannot connect to the database at DATABASE_URL (host ${url.hostname}, port ${url.port}`,
    );
    expect(line).toContain('role "nobody_here" does not exist');
    expect(run.output()).not.toContain('hunter2-secret');
  });

  it('a migration that fails: names the migration and the cause; exit 1', async () => {
    const url = await createTestDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // A table in the way of the first migration, as a foreign schema in the same database would be.
    await client.query('CREATE TABLE "State" (other INT)');
    await client.end();

    const run = processes.start({ DATABASE_URL: url });
    const { code, line } = await failure(run);
    expect(code).toBe(1);
    expect(line).toMatch(
      /^streamgate: cannot start: cannot prepare the database at DATABASE_URL \(host .*\): migration 20261123000000_init failed: relation "State" already exists$/,
    );
  });

  it('PGLITE_DIR that cannot be created: names PGLITE_DIR and the directory; exit 1', async () => {
    const dir = await processes.tempDir('streamgate-startup-');
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const run = processes.start({ PGLITE_DIR: join(file, 'db') });
    const { code, line } = await failure(run);
    expect(code).toBe(1);
    expect(line).toContain(`cannot open the embedded database in PGLITE_DIR=${join(file, 'db')}: `);
    expect(line).toContain('ENOTDIR');
  });

  it('port in use: names PORT and HOST; exit 1', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const run = processes.start({ DATABASE_URL: await createTestDatabase(), PORT: String(port) });
      const { code, line } = await failure(run);
      expect(code).toBe(1);
      expect(line).toBe(
        `streamgate: cannot start: PORT=${port} on HOST=127.0.0.1 is already in use by another process (EADDRINUSE)`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('broker unreachable after BROKER_CONNECT_TIMEOUT: names BROKER, NATS_URL and the timeout; exit 1', async () => {
    const natsPort = await freePort();
    const run = processes.start({
      DATABASE_URL: await createTestDatabase(),
      BROKER: 'nats',
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      BROKER_CONNECT_TIMEOUT: '1s',
    });
    const { code, line } = await failure(run);
    expect(code).toBe(1);
    expect(line).toBe(
      `streamgate: cannot start: BROKER=nats is unreachable (NATS_URL; gave up after BROKER_CONNECT_TIMEOUT): cannot reach NATS at nats://127.0.0.1:${natsPort} within 1000 ms: connection refused`,
    );
  });

  it('a bad setting is still a config error: exit 2', async () => {
    const run = processes.start({ BROKER_CONNECT_TIMEOUT: 'soon' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('config: BROKER_CONNECT_TIMEOUT="soon" is invalid');
  });
});
