/**
 * Connections lost in the middle of a transaction (the server ends the backend, as a crash or a
 * failover does), on a real Postgres. Prisma's interactive transactions give their connection
 * back only when COMMIT or ROLLBACK succeeds, so each such loss used to keep one of the pool's 10
 * slots for ever: after ten, every query waited for a connection with no end and close() hung.
 * What a user must see: the lost transaction fails as "database unavailable", nothing of it is
 * written, and the next queries and close() work however many were lost.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/create-database.ts';
import { isDatabaseUnavailable } from '../../src/db/database-unavailable.ts';
import { postgresConfig } from '../helpers/database-config.ts';
import { createTestDatabase } from '../setup/services.ts';

/** More than the pool holds (10): every lost connection must come back as a free slot. */
const LOSSES = 12;

describe('a connection lost inside a transaction', () => {
  let url: string;
  let db: Database;
  let admin: pg.Client;
  beforeAll(async () => {
    url = await createTestDatabase();
    db = await openDatabase({ database: postgresConfig(url) });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });

  /** Ends the backend of the connection running this transaction, from outside it. */
  const loseConnection = async (pid: number) => {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  };

  it(`fails as unavailable, writes nothing, and the pool recovers after ${LOSSES} losses (Prisma)`, async () => {
    for (let loss = 0; loss < LOSSES; loss++) {
      const outcome = await db.prisma
        .$transaction(async (tx) => {
          await tx.$executeRaw`INSERT INTO "State" (id) VALUES (${`lost-prisma-${loss}`})`;
          const [row] = await tx.$queryRaw<Array<{ pid: number }>>`SELECT pg_backend_pid() AS pid`;
          await loseConnection(row?.pid ?? 0);
          await tx.$queryRaw`SELECT 1`;
        })
        .then(
          () => 'committed',
          (error: unknown) => (isDatabaseUnavailable(error) ? 'unavailable' : String(error)),
        );
      expect(outcome).toBe('unavailable');
    }
    expect(await db.prisma.state.count({ where: { id: { startsWith: 'lost-prisma-' } } })).toBe(0);
  });

  it(`the same on the plain-SQL transactions of the hot paths (pgTransaction)`, async () => {
    for (let loss = 0; loss < LOSSES; loss++) {
      const outcome = await db
        .transaction(async (sql) => {
          await sql.execute('INSERT INTO "State" (id) VALUES ($1)', [`lost-sql-${loss}`]);
          const [row] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await loseConnection(row?.pid ?? 0);
          await sql.query('SELECT 1');
        })
        .then(
          () => 'committed',
          (error: unknown) => (isDatabaseUnavailable(error) ? 'unavailable' : String(error)),
        );
      expect(outcome).toBe('unavailable');
    }
    expect(await db.prisma.state.count({ where: { id: { startsWith: 'lost-sql-' } } })).toBe(0);
  });

  it('the next queries and close() work', async () => {
    const counts = await Promise.all(Array.from({ length: 10 }, () => db.prisma.state.count()));
    expect(counts.every((count) => count === 0)).toBe(true);
    await db.close();
  });
});
