import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { describePostgresUrl, failedToOpen } from './database-errors.ts';
import { applyMigrations, type SqlRunner } from './migrate.ts';

export type { PrismaClient } from '../generated/prisma/client.ts';

/** The database of one streamgate process: a Prisma client over Postgres or embedded PGlite. */
export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly prisma: PrismaClient;
  /** Round-trip time of a trivial query in ms; throws when the database does not answer. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens the configured database and applies pending migrations: Postgres when DATABASE_URL is
 * set, else PGlite under PGLITE_DIR (created if missing), so `npm start` needs no server.
 */
export async function openDatabase(config: Pick<Config, 'database'>): Promise<Database> {
  return config.database.url ? openPostgres(config.database.url) : openPglite(config.database.pgliteDir);
}

async function openPostgres(url: string): Promise<Database> {
  const where = `DATABASE_URL (${describePostgresUrl(url)})`;
  const migrator = new pg.Client({ connectionString: url });
  // Without a listener a connection dropped during start-up would be an uncaught 'error' event.
  migrator.on('error', () => {});
  try {
    await migrator.connect();
  } catch (error) {
    throw failedToOpen(`cannot connect to the database at ${where}`, error, url);
  }
  try {
    await applyMigrations(pgRunner(migrator), { advisoryLock: true });
  } catch (error) {
    throw failedToOpen(`cannot prepare the database at ${where}`, error, url);
  } finally {
    await migrator.end().catch(() => {});
  }
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: 'postgres',
    prisma,
    ping: () => timeQuery(prisma),
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(dir: string): Promise<Database> {
  const where = `the embedded database in PGLITE_DIR=${dir}`;
  let pglite: PGlite;
  try {
    await mkdir(dir, { recursive: true });
    pglite = await PGlite.create(dir);
  } catch (error) {
    throw failedToOpen(`cannot open ${where}`, error);
  }
  try {
    await applyMigrations(pglite, { advisoryLock: false });
  } catch (error) {
    throw failedToOpen(`cannot prepare ${where}`, error);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: 'pglite',
    prisma,
    ping: () => timeQuery(prisma),
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

function pgRunner(client: pg.Client): SqlRunner {
  return {
    query: async <Row>(sql: string, params?: readonly unknown[]) => {
      const result = await client.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as Row[] };
    },
    exec: (sql: string) => client.query(sql),
  };
}

async function timeQuery(prisma: PrismaClient): Promise<number> {
  const started = performance.now();
  await prisma.$queryRaw`SELECT 1`;
  return performance.now() - started;
}
