/**
 * Databases as an earlier version left them, for the tests of a migration: migrated up to (not
 * including) a migration, rows written with that schema, then handed to `openDatabase`, which
 * migrates the rest at start-up like any upgrade. On PGlite and on the shared test Postgres.
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll } from 'vitest';
import type { DatabaseConfig } from '../../src/config/database.ts';
import { applyMigrations, MIGRATIONS_DIR, readMigrations, type SqlRunner } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../setup/services.ts';

/** DATABASE_CONNECT_TIMEOUT and DATABASE_STATEMENT_TIMEOUT at their defaults. */
const TIMEOUTS = { connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, preparedStatements: true };

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-old-database-'));
  dirs.push(dir);
  return dir;
}

/** A copy of prisma/migrations holding only the migrations before `migration`. */
export async function migrationsBefore(migration: string): Promise<string> {
  const dir = join(await tempDir(), 'migrations');
  await mkdir(dir);
  for (const { name } of await readMigrations()) {
    if (name >= migration) break;
    await cp(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  }
  return dir;
}

/** Builds a database with `migrations` applied and `rows` (SQL) written; returns its config. */
export type OldDatabase = (migrations: string, rows: string) => Promise<DatabaseConfig>;

/** Each backend with its builder, for `describe.each`. */
export const OLD_DATABASES: ReadonlyArray<readonly ['pglite' | 'postgres', OldDatabase]> = [
  [
    'pglite',
    async (migrations, rows) => {
      const dir = join(await tempDir(), 'db');
      const old = await PGlite.create(dir);
      await applyMigrations(old, { advisoryLock: false, dir: migrations });
      await old.exec(rows);
      await old.close();
      return { url: undefined, pgliteDir: dir, ...TIMEOUTS };
    },
  ],
  [
    'postgres',
    async (migrations, rows) => {
      const url = await createTestDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const runner: SqlRunner = {
          query: async <Row>(sql: string, params?: readonly unknown[]) => ({
            rows: (await client.query(sql, params as unknown[])).rows as Row[],
          }),
          exec: (sql: string) => client.query(sql),
        };
        await applyMigrations(runner, { advisoryLock: false, dir: migrations });
        await client.query(rows);
      } finally {
        await client.end();
      }
      return { url, pgliteDir: '', ...TIMEOUTS };
    },
  ],
];
