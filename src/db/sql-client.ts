/**
 * Plain SQL on one connection, the same on Postgres (`pg`), PGlite and inside a Prisma
 * transaction. The hot paths (monitor ingest: a few statements per request over thousands of
 * rows) run on it without Prisma's per-query compilation, which cost more CPU than the work
 * itself; everything else keeps using Prisma.
 *
 * Values come back as the driver returns them: an int8 is a string (pg), a bigint (Prisma) or a
 * number (PGlite), so read numbers with Number(). Pass times as ISO strings, never Dates (pg
 * would send a Date in the process's local time zone).
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { pipelinedQuery, queryAfterBegin, type SqlStatement } from './pg-begin-query.ts';

export type { SqlStatement } from './pg-begin-query.ts';

export interface SqlClient {
  /** Runs one statement with $1… parameters and returns its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs one statement and returns its rows as arrays of the columns in order: no object per row
   * (a replay reads hundreds of thousands).
   */
  queryArrays(text: string, params?: readonly unknown[]): Promise<unknown[][]>;
  /**
   * Runs `statements` one after the other, each a statement of its own (under READ COMMITTED its
   * own snapshot, taken once the one before has finished), and returns the rows of each; on pg in
   * one round trip (pg-begin-query.ts).
   */
  queryEach(statements: readonly SqlStatement[]): Promise<Record<string, unknown>[][]>;
  /** Runs one statement and returns how many rows it changed. */
  execute(text: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs `COPY … FROM STDIN` with `data` (COPY text format) and returns the rows written; only
   * where the driver streams COPY (pg), so callers fall back to an INSERT without it.
   */
  readonly copyFrom?: (statement: string, data: string) => Promise<number>;
}

/** A SqlClient over a Prisma client or a Prisma interactive transaction. */
export function prismaSql(client: Prisma.TransactionClient | PrismaClient): SqlClient {
  return {
    query: <Row>(text: string, params: readonly unknown[] = []) =>
      client.$queryRawUnsafe<Row[]>(text, ...params),
    queryArrays: async (text, params = []) =>
      (await client.$queryRawUnsafe<Record<string, unknown>[]>(text, ...params)).map((row) =>
        Object.values(row),
      ),
    queryEach: (statements) => inTurn(statements, (text, params) => client.$queryRawUnsafe(text, ...params)),
    execute: (text, params = []) => client.$executeRawUnsafe(text, ...params),
  };
}

/** The statements' rows, one statement after the other, where the driver has no pipeline. */
async function inTurn(
  statements: readonly SqlStatement[],
  query: (text: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>,
): Promise<Record<string, unknown>[][]> {
  const results: Record<string, unknown>[][] = [];
  for (const statement of statements) results.push(await query(statement.text, statement.params ?? []));
  return results;
}

/** How statements go to Postgres (DatabaseConfig.preparedStatements). */
export interface PgStatementOptions {
  /** Named statements are prepared once per connection; false sends every one unnamed. @default true */
  readonly preparedStatements?: boolean;
}

/** The statements as sent: their names dropped when prepared statements are off. */
function asSent(statements: readonly SqlStatement[], options: PgStatementOptions): readonly SqlStatement[] {
  if (options.preparedStatements !== false) return statements;
  return statements.map(({ text, params }) => (params === undefined ? { text } : { text, params }));
}

/** A SqlClient over a pg client, or over the pool (each statement on any free connection). */
export function pgSql(client: pg.PoolClient | pg.Pool, options: PgStatementOptions = {}): SqlClient {
  return {
    query: async <Row>(text: string, params: readonly unknown[] = []) =>
      (await client.query(text, params as unknown[])).rows as Row[],
    queryArrays: async (text, params = []) =>
      (await client.query<unknown[]>({ text, values: params as unknown[], rowMode: 'array' })).rows,
    queryEach: async (statements) => {
      if ('release' in client)
        return (await pipelinedQuery(client, asSent(statements, options))).map((result) => result.rows);
      // Statements of their own on the pool's connections would not even share a connection.
      return inTurn(statements, async (text, params) => (await client.query(text, params as unknown[])).rows);
    },
    execute: async (text, params = []) => (await client.query(text, params as unknown[])).rowCount ?? 0,
    copyFrom: async (statement, data) => {
      if (!('release' in client)) {
        const connection = await client.connect();
        try {
          return await copyOn(connection, statement, data);
        } finally {
          connection.release();
        }
      }
      return copyOn(client, statement, data);
    },
  };
}

/** One COPY FROM STDIN on a connection; resolves once Postgres confirmed it (pg-copy-streams' 'finish'). */
function copyOn(connection: pg.PoolClient, statement: string, data: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = connection.query(copyFrom(statement));
    stream.on('error', reject);
    stream.on('finish', () => resolve(stream.rowCount));
    stream.end(data, 'utf8');
  });
}

export function pgliteSql(client: Transaction | PGlite): SqlClient {
  return {
    query: async <Row>(text: string, params: readonly unknown[] = []) =>
      (await client.query<Row>(text, params as unknown[])).rows,
    queryArrays: async (text, params = []) =>
      (await client.query<unknown[]>(text, params as unknown[], { rowMode: 'array' })).rows,
    queryEach: (statements) =>
      inTurn(
        statements,
        async (text, params) => (await client.query<Record<string, unknown>>(text, params as unknown[])).rows,
      ),
    execute: async (text, params = []) => (await client.query(text, params as unknown[])).affectedRows ?? 0,
  };
}

/**
 * Runs `work` in one transaction on a pooled connection: COMMIT when it resolves, ROLLBACK when it
 * throws. BEGIN goes out with the first statement, in its round trip (pg-begin-query.ts); a
 * transaction that ran no statement never began.
 */
export async function pgTransaction<T>(
  pool: pg.Pool,
  work: (sql: SqlClient) => Promise<T>,
  options: PgStatementOptions = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const transaction = { begun: false };
  try {
    try {
      const result = await work(beginningSql(client, transaction, options));
      if (transaction.begun) await client.query('COMMIT');
      return result;
    } catch (error) {
      if (!transaction.begun) throw error;
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        // A connection that cannot roll back is not given back to the pool.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}

/**
 * pgSql over a connection whose transaction opens with its first statement: that one carries the
 * BEGIN (marked begun as it is sent, so that a failure of either is rolled back), the others run
 * as they are. pg sends a connection's statements in the order they were asked for.
 */
function beginningSql(
  client: pg.PoolClient,
  transaction: { begun: boolean },
  options: PgStatementOptions,
): SqlClient {
  const plain = pgSql(client, options);
  const first = () => {
    if (transaction.begun) return false;
    transaction.begun = true;
    return true;
  };
  return {
    query: async <Row>(text: string, params: readonly unknown[] = []) =>
      first()
        ? ((await queryAfterBegin(client, text, params)).rows as Row[])
        : plain.query<Row>(text, params),
    queryArrays: async (text, params = []) =>
      first()
        ? ((await queryAfterBegin(client, text, params, 'array')).rows as unknown[][])
        : plain.queryArrays(text, params),
    queryEach: async (statements) =>
      first()
        ? (await pipelinedQuery(client, asSent(statements, options), { begin: true })).map(
            (result) => result.rows,
          )
        : plain.queryEach(statements),
    execute: async (text, params = []) =>
      first() ? ((await queryAfterBegin(client, text, params)).rowCount ?? 0) : plain.execute(text, params),
    copyFrom: async (statement, data) => {
      // COPY has no extended-protocol form to ride along with.
      if (first()) await client.query('BEGIN');
      return copyOn(client, statement, data);
    },
  };
}

/** The same on PGlite (one connection; its transactions run one at a time). */
export function pgliteTransaction<T>(pglite: PGlite, work: (sql: SqlClient) => Promise<T>): Promise<T> {
  return pglite.transaction((tx) => work(pgliteSql(tx)));
}
