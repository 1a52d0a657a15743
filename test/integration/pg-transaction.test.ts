/**
 * The plain-SQL transactions of the hot paths on a real Postgres (src/db/sql-client.ts), whose
 * BEGIN rides with the first statement in one round trip: that statement must run inside the
 * transaction whichever call makes it, a failure of it or of a later one must leave nothing
 * written, and the connection must serve the next transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/create-database.ts';
import { createTestDatabase } from '../setup/services.ts';

describe('pgTransaction (Postgres)', () => {
  let db: Database;
  beforeAll(async () => {
    const url = await createTestDatabase();
    db = await openDatabase({
      database: { url, pgliteDir: '', connectTimeoutMs: 5_000, statementTimeoutMs: 60_000 },
    });
  });
  afterAll(() => db?.close());

  const stateCount = (prefix: string) => db.prisma.state.count({ where: { id: { startsWith: prefix } } });

  it('the first statement runs in the transaction, whichever call makes it', async () => {
    const ids = await db.transaction(async (sql) => {
      const [first] = await sql.query<{ id: string }>('SELECT txid_current()::text AS id');
      const [second] = await sql.queryArrays('SELECT txid_current()::text');
      return [first?.id, second?.[0]];
    });
    expect(ids[0]).toEqual(expect.any(String));
    expect(ids[1]).toBe(ids[0]);

    const arrays = await db.transaction(async (sql) => {
      const rows = await sql.queryArrays('SELECT $1::int AS n, txid_current()::text', [7]);
      const [again] = await sql.queryArrays('SELECT txid_current()::text');
      return { rows, again };
    });
    expect(arrays.rows[0]?.[0]).toBe(7);
    expect(arrays.again?.[0]).toBe(arrays.rows[0]?.[1]);

    const changed = await db.transaction(async (sql) => {
      const inserted = await sql.execute('INSERT INTO "State" (id) VALUES ($1), ($2)', [
        'tx-exec-a',
        'tx-exec-b',
      ]);
      const [row] = await sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM "State" WHERE id LIKE $1',
        ['tx-exec-%'],
      );
      return { inserted, seen: row?.n };
    });
    expect(changed).toEqual({ inserted: 2, seen: 2 });
    expect(await stateCount('tx-exec-')).toBe(2);
  });

  it('a throw after the first statement rolls it back', async () => {
    await expect(
      db.transaction(async (sql) => {
        await sql.execute('INSERT INTO "State" (id) VALUES ($1)', ['tx-thrown']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await stateCount('tx-thrown')).toBe(0);
  });

  it('a failing first statement is the error, nothing is written, and the connection serves again', async () => {
    await db.transaction((sql) => sql.execute('INSERT INTO "State" (id) VALUES ($1)', ['tx-dup']));
    for (let attempt = 0; attempt < 12; attempt++) {
      await expect(
        db.transaction(async (sql) => {
          await sql.execute('INSERT INTO "State" (id) VALUES ($1)', ['tx-dup']);
          await sql.execute('INSERT INTO "State" (id) VALUES ($1)', [`tx-after-dup-${attempt}`]);
        }),
      ).rejects.toThrow(/duplicate key/);
      await expect(db.transaction((sql) => sql.query('SELECT * FROM "no such table"'))).rejects.toThrow(
        /does not exist/,
      );
    }
    expect(await stateCount('tx-after-dup-')).toBe(0);
    // More transactions than the pool has connections: none was left in an open transaction.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        db.transaction(async (sql) => {
          await sql.execute('INSERT INTO "State" (id) VALUES ($1)', [`tx-ok-${index}`]);
          return index;
        }),
      ),
    );
    expect(results).toHaveLength(20);
    expect(await stateCount('tx-ok-')).toBe(20);
  });

  it('a transaction that runs no statement answers without one', async () => {
    expect(await db.transaction(async () => 'nothing')).toBe('nothing');
    await expect(
      db.transaction(async () => {
        throw new Error('before any statement');
      }),
    ).rejects.toThrow('before any statement');
  });
});
