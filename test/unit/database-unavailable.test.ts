import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/database-unavailable.ts';

describe('database unavailable (UNAVAILABLE, not INTERNAL)', () => {
  it.each([
    ["Prisma's P1001 (can't reach the server)", { code: 'P1001', message: "Can't reach database server" }],
    ['a pool timeout (P2024)', { code: 'P2024' }],
    [
      'a driver adapter error, connection closed',
      { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } },
    ],
    ['Postgres shutting down (57P01), wrapped', { cause: { cause: { kind: 'postgres', code: '57P01' } } }],
    ['a refused socket', new Error('connect ECONNREFUSED 127.0.0.1:5432')],
    ['node-postgres losing its server', new Error('Connection terminated unexpectedly')],
    ['no connection within DATABASE_CONNECT_TIMEOUT', new Error('timeout exceeded when trying to connect')],
    [
      'a query on a connection that just failed',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    ['Postgres in crash recovery', new Error('the database system is in recovery mode')],
    [
      "a raw query's P2010 whose driver error is 57P01 (the backend was terminated)",
      {
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'postgres', originalCode: '57P01', code: '57P01' } } },
      },
    ],
  ])('%s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { name: 'DriverAdapterError', cause: { kind: 'postgres', code: '23505' } }],
    ['P2002', { code: 'P2002' }],
    ['a programming error', new TypeError('x is undefined')],
    ['nothing', undefined],
  ])('not %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
