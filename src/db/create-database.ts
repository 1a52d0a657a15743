import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config/config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { StartupError } from '../startup-error.ts';
import { describePostgresUrl, failedToOpen } from './database-errors.ts';
import { applyMigrations, type SqlRunner } from './migrate.ts';
import { createPgPool, type PgPoolTimeouts } from './pg-pool.ts';
import { lockPgliteDir } from './pglite-lock.ts';
import {
  type PgStatementOptions,
  pgliteSql,
  pgliteTransaction,
  pgSql,
  pgTransaction,
  type SqlClient,
} from './sql-client.ts';

export type { PrismaClient } from '../generated/prisma/client.ts';

/** The database of one streamgate process: a Prisma client over Postgres or embedded PGlite. */
export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly prisma: PrismaClient;
  /**
   * Runs `work` in one transaction of plain SQL (src/db/sql-client.ts), beside Prisma on the
   * same database: for hot paths where Prisma's per-query cost dominates.
   */
  transaction<T>(work: (sql: SqlClient) => Promise<T>): Promise<T>;
  /** Plain SQL outside a transaction, for hot reads (replay pages). */
  readonly sql: SqlClient;
  /** Round-trip time of a trivial query in ms; throws when the database does not answer. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens the configured database and applies pending migrations: Postgres when DATABASE_URL is
 * set, else PGlite under PGLITE_DIR (created if missing), so `npm start` needs no server.
 */
export async function openDatabase(config: Pick<Config, 'database'>): Promise<Database> {
  const { database } = config;
  return database.url
    ? openPostgres(database.url, database, { preparedStatements: database.preparedStatements })
    : openPglite(database.pgliteDir);
}

async function openPostgres(
  url: string,
  timeouts: PgPoolTimeouts,
  statements: PgStatementOptions,
): Promise<Database> {
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
  const pool = createPgPool(url, timeouts);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: 'postgres',
    prisma,
    transaction: (work) => pgTransaction(pool, work, statements),
    sql: pgSql(pool),
    ping: () => timeQuery(pgSql(pool)),
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * PGlite's own defaults are sized for a browser tab that is the whole application; a server
 * process needs less: 16 MB of shared buffers instead of 128 MB cuts the resident memory of a
 * reopened database by about a third (README: memory of the embedded default).
 */
const PGLITE_MEMORY_SETTINGS = ['-c', 'shared_buffers=16MB', '-c', 'work_mem=2MB', '-c', 'temp_buffers=2MB'];

async function openPglite(dir: string): Promise<Database> {
  const where = `the embedded database in PGLITE_DIR=${dir}`;
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw failedToOpen(`cannot open ${where}`, error);
  }
  const lock = await lockPgliteDir(dir).catch((error: unknown) => {
    throw error instanceof StartupError ? error : failedToOpen(`cannot lock ${where}`, error);
  });
  let pglite: PGlite | undefined;
  try {
    try {
      pglite = await PGlite.create(dir, {
        startParams: [...PGlite.defaultStartParams, ...PGLITE_MEMORY_SETTINGS],
      });
    } catch (error) {
      throw failedToOpen(`cannot open ${where}`, error);
    }
    try {
      await applyMigrations(pglite, { advisoryLock: false });
    } catch (error) {
      throw failedToOpen(`cannot prepare ${where}`, error);
    }
  } catch (error) {
    await pglite?.close().catch(() => {});
    await lock.release();
    throw error;
  }
  const opened = pglite;
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(opened) });
  return {
    kind: 'pglite',
    prisma,
    transaction: (work) => pgliteTransaction(opened, work),
    sql: pgliteSql(opened),
    ping: () => timeQuery(pgliteSql(opened)),
    async close() {
      await prisma.$disconnect();
      await opened.close();
      await lock.release();
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

/**
 * Plain SQL on the connections Prisma uses too: the health probe runs this every few seconds,
 * also on an idle server, and Prisma's per-query CPU made it a burst in the middle of deliveries.
 */
async function timeQuery(sql: SqlClient): Promise<number> {
  const started = performance.now();
  await sql.query('SELECT 1');
  return performance.now() - started;
}
