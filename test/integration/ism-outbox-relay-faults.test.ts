/**
 * The state outbox (OutboxMessage) with a broker that fails a publish on purpose while it stays
 * connected (memory broker, PGlite): a failure for now is retried every interval, the rows after
 * it wait in order and nothing becomes a dead letter; once the broker takes it, all go out in
 * order. The refusal for good on a real broker is test/integration/ism-outbox-dead-letters.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { type FaultyBroker, withPublishFaults } from '../helpers/faulty-broker.ts';
import { brokerNetwork } from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const PUBLISH = `mutation($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted }
}`;

describe('the state outbox with a broker failing a publish for now (memory broker, PGlite)', () => {
  let broker: FaultyBroker;
  let server: TestApp;
  beforeAll(async () => {
    broker = withPublishFaults(createMemoryBroker());
    server = await startTestApp({ broker, env: { OUTBOX_RETRY_INTERVAL: '100ms' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await broker?.close();
  });

  const sql = () => server.app.services.db.sql;
  const outboxRows = () =>
    sql().query<{ subject: string; attempts: number }>(
      'SELECT "subject", "attempts" FROM "OutboxMessage" ORDER BY "id"',
    );
  const deadLetterCount = async () =>
    (await sql().query<{ n: number }>('SELECT count(*)::int AS "n" FROM "OutboxDeadLetter"'))[0]?.n;

  it('publishes entries and leaves no dead letter (the good flow)', async () => {
    const observed = brokerNetwork(broker).observe('processor.state.good');
    try {
      expect(await server.graphql(PUBLISH, { stateId: 'good', entries: [{ n: 1 }] })).toEqual({
        data: { publishStateEntries: { accepted: 1 } },
      });
      expect(JSON.parse(await observed.messages.next(5_000, 'the entry')).query_state).toEqual([{ n: 1 }]);
      expect(await outboxRows()).toEqual([]);
      expect(await deadLetterCount()).toBe(0);
    } finally {
      observed.stop();
    }
  });

  it('retries a failure for now on every interval, later rows wait in order, nothing dead-lettered', async () => {
    const observed = brokerNetwork(broker).observe('processor.state.*');
    try {
      broker.failMatching('"flaky"', () => new BrokerUnavailableError('injected failure for now'));
      for (const [stateId, entry] of [
        ['flaky-1', { flaky: true }],
        ['flaky-2', { n: 2 }],
      ] as const) {
        const result = await server.graphql(PUBLISH, { stateId, entries: [entry] });
        expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', step: 'publish' });
        expect(result.errors?.[0]?.message).toContain('injected failure for now');
      }
      // Retried by the relay, again and again, the later row held behind it.
      await waitUntil(
        async () => ((await outboxRows())[0]?.attempts ?? 0) >= 4,
        10_000,
        'the relay to retry the failing row',
      );
      const rows = await outboxRows();
      expect(rows.map((row) => row.subject)).toEqual(['processor.state.flaky-1', 'processor.state.flaky-2']);
      expect(rows[1]?.attempts).toBe(0);
      expect(await deadLetterCount()).toBe(0);
      expect(observed.messages.pending).toEqual([]);

      broker.heal();
      const seen = await observed.messages.take(2, 10_000, 'the held-back messages');
      expect(seen.map((text) => JSON.parse(text).state_id)).toEqual(['flaky-1', 'flaky-2']);
      await waitUntil(async () => (await outboxRows()).length === 0, 5_000, 'an empty outbox');
      expect(await deadLetterCount()).toBe(0);
    } finally {
      broker.heal();
      observed.stop();
    }
  }, 30_000);
});
