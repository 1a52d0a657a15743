/**
 * The dead letters migrations (20261130000000_monitor_dead_letters, 20261130060000_outbox_dead_letters)
 * on a database an earlier version left with a poisoned outbox (the device outbox, the state
 * outbox): a message the broker refuses for good, held back before newer ones, which that version
 * retried before every newer message, for good. After the upgrade the relay moves it aside,
 * keeping what the old row held, and publishes the others in order. On PGlite and Postgres.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { openDatabase } from '../../src/db/create-database.ts';
import { createOutbox, relayOutbox } from '../../src/domain/devices/monitor-outbox.ts';
import { createOutboxRelay } from '../../src/domain/states/outbox-relay.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { MessageTooLargeError } from '../../src/pubsub/errors.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { watchSequences } from '../helpers/devices.ts';
import { withPublishFaults } from '../helpers/faulty-broker.ts';
import { migrationsBefore, OLD_DATABASES } from '../helpers/old-database.ts';

const DEAD_LETTER_MIGRATION = '20261130000000_monitor_dead_letters';

/** seq 1-3 held back, 2 over the broker's limit and tried 5 times already. */
const OLD_ROWS = `
  INSERT INTO "Device" (id, "tenantId", "messageCount", "lastSeq") VALUES ('dev-1', '', 3, 3);
  INSERT INTO "MonitorOutbox" ("tenantId", "deviceId", seq, headers, payload, "createdAt", attempts, "lastError")
  SELECT '', 'dev-1', n, jsonb_build_object('X-Monitor-Seq', n::text),
    convert_to(CASE WHEN n = 2 THEN '{"poison":2}' ELSE format('{"n":%s}', n) END, 'UTF8'),
    '2026-01-01T00:00:00Z', CASE WHEN n = 2 THEN 5 ELSE 0 END, 'earlier failure'
  FROM generate_series(1, 3) AS n;
`;

describe.each(OLD_DATABASES)('the dead letters migration on %s', (_kind, oldDatabase) => {
  it('an outbox left poisoned: after the upgrade the refused message is moved aside and the others flow in order', async () => {
    const database = await oldDatabase(await migrationsBefore(DEAD_LETTER_MIGRATION), OLD_ROWS);
    const db = await openDatabase({ database });
    const broker = withPublishFaults(createMemoryBroker());
    const live = watchSequences(broker, 'monitor.dev-1');
    try {
      broker.failMatching('"poison"', () => new MessageTooLargeError('monitor.dev-1', 12, 10, 'injected'));
      const log = createLogger({ log: { ...loadConfig({}).log, level: 'silent' } });
      const outbox = createOutbox(broker, log, createMetrics({ processMetrics: false }), 300);
      expect(await relayOutbox(db, outbox)).toBe(3);
      expect(await live.seen.take(2, 5_000, 'the messages the broker takes')).toEqual([1, 3]);
      expect(await db.prisma.monitorOutbox.count()).toBe(0);
      const dead = await db.prisma.monitorDeadLetter.findMany();
      expect(
        dead.map((row) => ({
          tenantId: row.tenantId,
          deviceId: row.deviceId,
          seq: Number(row.seq),
          headers: row.headers,
          payload: Buffer.from(row.payload).toString('utf8'),
          createdAt: row.createdAt.toISOString(),
          attempts: row.attempts,
        })),
      ).toEqual([
        {
          tenantId: '',
          deviceId: 'dev-1',
          seq: 2,
          headers: { 'X-Monitor-Seq': '2' },
          payload: '{"poison":2}',
          createdAt: '2026-01-01T00:00:00.000Z',
          attempts: 6,
        },
      ]);
      expect(dead[0]?.reason).toMatch(/larger than the broker accepts \(10 bytes\): injected/);
    } finally {
      live.stop();
      await broker.close();
      await db.close();
    }
  });
});

const OUTBOX_DEAD_LETTER_MIGRATION = '20261130060000_outbox_dead_letters';

/** State outbox rows 1-3 held back, 2 refused by the broker for good and tried 5 times already. */
const OLD_STATE_ROWS = `
  INSERT INTO "OutboxMessage" (id, subject, payload, headers, "createdAt", attempts, "lastError")
  SELECT n, format('processor.state.s%s', n),
    convert_to(CASE WHEN n = 2 THEN '{"poison":2}' ELSE format('{"n":%s}', n) END, 'UTF8'),
    CASE WHEN n = 2 THEN '{"X-Kept":"yes"}'::jsonb END,
    '2026-01-01T00:00:00Z', CASE WHEN n = 2 THEN 5 ELSE 0 END, 'earlier failure'
  FROM generate_series(1, 3) AS n;
`;

describe.each(OLD_DATABASES)('the state outbox dead letters migration on %s', (_kind, oldDatabase) => {
  it('a state outbox left poisoned: after the upgrade the refused row is moved aside and the others flow in order', async () => {
    const database = await oldDatabase(await migrationsBefore(OUTBOX_DEAD_LETTER_MIGRATION), OLD_STATE_ROWS);
    const db = await openDatabase({ database });
    const broker = withPublishFaults(createMemoryBroker());
    const seen = new AsyncQueue<string>();
    const subscription = broker.subscribe('processor.state.*');
    void (async () => {
      for await (const message of subscription) seen.push(Buffer.from(message.payload).toString('utf8'));
    })();
    try {
      await subscription.ready;
      broker.failMatching(
        '"poison"',
        () => new MessageTooLargeError('processor.state.s2', 12, 10, 'injected'),
      );
      const log = createLogger({ log: { ...loadConfig({}).log, level: 'silent' } });
      const metrics = createMetrics({ processMetrics: false });
      const relay = createOutboxRelay({
        db,
        broker,
        log,
        metrics,
        intervalMs: 60_000,
        publishTimeoutMs: 5_000,
      });
      const flushed = await relay.flush();
      expect(flushed.error).toBeUndefined();
      expect([...flushed.positions.keys()]).toEqual([1n, 3n]);
      expect([...flushed.deadLetters.keys()]).toEqual([2n]);
      expect(await seen.take(2, 5_000, 'the rows the broker takes')).toEqual(['{"n":1}', '{"n":3}']);
      expect(await db.prisma.outboxMessage.count()).toBe(0);
      const dead = await db.sql.query<Record<string, unknown>>(
        `SELECT "id"::int AS "id", "subject", convert_from("payload", 'UTF8') AS "payload", "headers",
           to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS') AS "createdAt", "attempts", "code", "reason"
         FROM "OutboxDeadLetter"`,
      );
      expect(dead).toEqual([
        {
          id: 2,
          subject: 'processor.state.s2',
          payload: '{"poison":2}',
          headers: { 'X-Kept': 'yes' },
          createdAt: '2026-01-01T00:00:00',
          attempts: 6,
          code: 'PAYLOAD_TOO_LARGE',
          reason: expect.stringMatching(/larger than the broker accepts \(10 bytes\): injected/),
        },
      ]);
      // What a writer whose flush did not see the row (the interval's flush took it) reads.
      expect(await relay.deadLettersOf([1n, 2n, 3n])).toEqual(
        new Map([[2n, { code: 'PAYLOAD_TOO_LARGE', reason: dead[0]?.reason }]]),
      );
      expect(await metrics.registry.metrics()).toMatch(
        /^state_outbox_dead_letters_total\{reason="refused"\} 1$/m,
      );

      // The operator's re-drive of docs/ism.md, once the broker takes it: published by the relay.
      broker.heal();
      await db.sql.execute(`WITH back AS (DELETE FROM "OutboxDeadLetter" WHERE "id" = 2
        RETURNING "subject", "payload", "headers", "createdAt")
        INSERT INTO "OutboxMessage" ("subject", "payload", "headers", "createdAt") SELECT * FROM back`);
      expect((await relay.flush()).error).toBeUndefined();
      expect(await seen.next(5_000, 'the re-driven message')).toBe('{"poison":2}');
      expect(await db.prisma.outboxMessage.count()).toBe(0);
      // Plain SQL: a worktree whose generated client predates the table still typechecks.
      expect(await db.sql.query('SELECT 1 FROM "OutboxDeadLetter"')).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await broker.close();
      await db.close();
    }
  });
});
