import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/create-database.ts';
import { readMigrations } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../setup/services.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function newPgliteDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-db-test-'));
  dirs.push(dir);
  return join(dir, 'db');
}

/** DATABASE_CONNECT_TIMEOUT and DATABASE_STATEMENT_TIMEOUT at their defaults. */
const TIMEOUTS = { connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, preparedStatements: true };

describe.each([
  ['pglite', async () => ({ url: undefined, pgliteDir: await newPgliteDir(), ...TIMEOUTS })],
  ['postgres', async () => ({ url: await createTestDatabase(), pgliteDir: '', ...TIMEOUTS })],
] as const)('the %s database', (kind, makeSettings) => {
  it('applies the migrations at start-up and keeps data across a reopen', async () => {
    const database = await makeSettings();
    const first = await openDatabase({ database });
    expect(first.kind).toBe(kind);
    await first.prisma.state.create({ data: { id: 'kept', name: 'survives a restart' } });
    await first.close();

    const second = await openDatabase({ database });
    try {
      expect(
        await second.prisma.state.findUnique({ where: { tenantId_id: { tenantId: '', id: 'kept' } } }),
      ).toMatchObject({
        name: 'survives a restart',
      });
      const applied = await second.prisma.$queryRaw<Array<{ migration_name: string }>>`
        SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`;
      const expected = (await readMigrations()).map((migration) => migration.name);
      // Reopening applied nothing twice.
      expect(applied.map((row) => row.migration_name)).toEqual(expected);
      expect(await second.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await second.close();
    }
  });
});

describe('migrations on Postgres', () => {
  it('are applied once when two instances start together', async () => {
    const url = await createTestDatabase();
    const [a, b] = await Promise.all([
      openDatabase({ database: { url, pgliteDir: '', ...TIMEOUTS } }),
      openDatabase({ database: { url, pgliteDir: '', ...TIMEOUTS } }),
    ]);
    await Promise.all([a.close(), b.close()]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM "_prisma_migrations"');
      expect(rows[0].n).toBe((await readMigrations()).length);
    } finally {
      await client.end();
    }
  });

  it('fails with a clear error when the server is unreachable', async () => {
    await expect(
      openDatabase({ database: { url: 'postgres://postgres@127.0.0.1:1/none', pgliteDir: '', ...TIMEOUTS } }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
