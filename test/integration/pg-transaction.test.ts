/**
 * The plain-SQL transactions of the hot paths on a real Postgres (src/db/sql-client.ts), whose
 * BEGIN rides with the first statement in one round trip: that statement must run inside the
 * transaction whichever call makes it, a failure of it or of a later one must leave nothing
 * written, and the connection must serve the next transaction.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/create-database.ts';
import { pipelinedQuery } from '../../src/db/pg-begin-query.ts';
import { postgresConfig } from '../helpers/database-config.ts';
import { createTestDatabase } from '../setup/services.ts';

describe('pgTransaction (Postgres)', () => {
  let db: Database;
  beforeAll(async () => {
    const url = await createTestDatabase();
    db = await openDatabase({
      database: postgresConfig(url),
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

  it('with prepared statements off, named statements go unnamed and nothing stays prepared', async () => {
    const unprepared = await openDatabase({
      database: postgresConfig(await createTestDatabase(), { preparedStatements: false }),
    });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const [sum, held] = await unprepared.transaction((sql) =>
          sql.queryEach([
            { name: 'sg_off_add', text: 'SELECT $1::int + 1 AS n', params: [attempt] },
            {
              name: 'sg_off_held',
              text: "SELECT count(*)::int AS held FROM pg_prepared_statements WHERE name LIKE 'sg_off_%'",
            },
          ]),
        );
        expect(sum).toEqual([{ n: attempt + 1 }]);
        expect(held).toEqual([{ held: 0 }]);
      }
    } finally {
      await unprepared.close();
    }
    // The same statements with them on (the default) are held by the connection after the first.
    const [, held] = await db.transaction((sql) =>
      sql.queryEach([
        { name: 'sg_on_add', text: 'SELECT $1::int + 1 AS n', params: [1] },
        {
          name: 'sg_on_held',
          text: "SELECT count(*)::int AS held FROM pg_prepared_statements WHERE name LIKE 'sg_on_%'",
        },
      ]),
    );
    expect(held).toEqual([{ held: 2 }]);
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

/**
 * Named statements of a batch (monitor ingest's upsert and check) are prepared once per
 * connection and bound after that; a batch that failed must not leave the connection believing
 * something Postgres does not hold, or the other way round.
 */
describe('pipelinedQuery named statements (Postgres)', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: await createTestDatabase() });
    await client.connect();
  });
  afterAll(() => client?.end());

  const rows = async (statements: Parameters<typeof pipelinedQuery>[1], begin = false) =>
    (await pipelinedQuery(client, statements, { begin })).map((result) => result.rows);
  const prepareTimes = async (prefix: string) =>
    (
      await client.query<{ name: string; prepare_time: Date }>(
        'SELECT name, prepare_time FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY name',
        [`${prefix}%`],
      )
    ).rows.map((row) => `${row.name}@${row.prepare_time.toISOString()}`);

  it('prepares a named statement once and binds it after that, with the same answers', async () => {
    const batch = (n: number) => [
      { name: 'sg_test_add', text: 'SELECT $1::int + 1 AS n', params: [n] },
      { text: 'SELECT $1::text AS unnamed', params: [`u${n}`] },
      { name: 'sg_test_tx', text: 'SELECT txid_current()::text AS id' },
    ];
    const first = await rows(batch(1), true);
    expect(first[0]).toEqual([{ n: 2 }]);
    expect(first[1]).toEqual([{ unnamed: 'u1' }]);
    expect(first[2]?.[0]).toEqual({ id: expect.any(String) });
    await client.query('COMMIT');
    const prepared = await prepareTimes('sg_test_');
    expect(prepared).toHaveLength(2);
    for (let n = 2; n <= 6; n++) {
      const again = await rows(batch(n), true);
      expect(again[0]).toEqual([{ n: n + 1 }]);
      expect(again[1]).toEqual([{ unnamed: `u${n}` }]);
      await client.query('COMMIT');
    }
    // Prepared once: Postgres still holds the statements of the first batch.
    expect(await prepareTimes('sg_test_')).toEqual(prepared);
  });

  it('a batch that fails after preparing forgets its names; the next prepares them again', async () => {
    const batch = (divisor: number) => [
      { name: 'sg_fail_one', text: 'SELECT 1 AS one' },
      { name: 'sg_fail_div', text: 'SELECT 10 / $1::int AS x', params: [divisor] },
    ];
    // The first statement is parsed and run, the second fails: Postgres holds both names now.
    await expect(rows(batch(0))).rejects.toThrow(/division by zero/);
    expect(await prepareTimes('sg_fail_')).toHaveLength(2);
    // Prepared again (closed first, or Postgres would refuse a second Parse of the name).
    expect(await rows(batch(5))).toEqual([[{ one: 1 }], [{ x: 2 }]]);
    expect(await rows(batch(2))).toEqual([[{ one: 1 }], [{ x: 5 }]]);
  });

  it('a statement Postgres no longer holds fails its batch once, then is prepared again', async () => {
    const batch = [{ name: 'sg_lost', text: 'SELECT 42 AS answer' }];
    expect(await rows(batch)).toEqual([[{ answer: 42 }]]);
    // What a pooler in transaction mode does when it hands over another server connection.
    await client.query('DEALLOCATE ALL');
    await expect(rows(batch)).rejects.toThrow(/prepared statement "sg_lost" does not exist/);
    expect(await rows(batch)).toEqual([[{ answer: 42 }]]);
  });

  it('a parameter pg cannot bind fails the batch with its error, and the connection serves again', async () => {
    const unbindable = {
      toPostgres() {
        throw new Error('this value cannot be bound');
      },
    };
    await expect(
      rows([
        { name: 'sg_bind_ok', text: 'SELECT 1 AS one' },
        { name: 'sg_bind_bad', text: 'SELECT $1::text AS v', params: [unbindable] },
      ]),
    ).rejects.toThrow('this value cannot be bound');
    expect(
      await rows([
        { name: 'sg_bind_ok', text: 'SELECT 1 AS one' },
        { name: 'sg_bind_bad', text: 'SELECT $1::text AS v', params: ['fine'] },
      ]),
    ).toEqual([[{ one: 1 }], [{ v: 'fine' }]]);
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});
