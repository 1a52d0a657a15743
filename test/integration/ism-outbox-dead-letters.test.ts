/**
 * A state message the broker refuses for good, in the transactional outbox (OutboxMessage), on a
 * nats-server of this file's own whose default user may not publish on one state's subject, and
 * Postgres. Before, the relay retried the refused row every interval, for good, and every later
 * row of the outbox (any state's) waited behind it: the mutation answered UNAVAILABLE, as would
 * every later one, and no subscriber got their entries. Now the row is moved to OutboxDeadLetter
 * with the refusal (logged, counted) and the later rows are published, in order; a failure for now
 * (NATS away) is still retried until the broker is back, nothing dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/pubsub/subjects.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { brokerNetwork } from '../helpers/ism-network.ts';
import { natsConfigDenying } from '../helpers/nats-permissions.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type PrivateService, startService } from '../setup/services.ts';

const PUBLISH = `mutation($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted }
}`;

const STREAM = 'subscription($stateId: ID!) { stateStream(stateId: $stateId) { type data } }';

/** States whose subject NATS does not permit publishing on (permissions name whole tokens). */
const DENIED = ['denied-live', 'denied-held'];

interface DeadLetterRow {
  id: string;
  subject: string;
  payload: string;
  attempts: number;
  reason: string;
}

const deniedReason = (stateId: string) => {
  const subject = subjects.state(null, stateId);
  return `the broker does not permit publishing on "${subject}": Permissions Violation for Publish to "${subject}"`;
};

describe('a state message NATS refuses for good (own NATS with a denied subject, Postgres)', () => {
  let nats: PrivateService;
  let server: TestApp;
  beforeAll(async () => {
    nats = await startService('nats', {
      config: natsConfigDenying(DENIED.map((stateId) => subjects.state(null, stateId))),
    });
    server = await startTestApp({
      env: {
        BROKER: 'nats',
        NATS_URL: nats.url,
        DATABASE_URL: await createTestDatabase(),
        OUTBOX_RETRY_INTERVAL: '200ms',
        BROKER_RECONNECT_MAX_WAIT: '500ms',
        BROKER_REQUEST_TIMEOUT: '1s',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await nats?.stop();
  });

  const outboxSize = () => server.app.services.db.prisma.outboxMessage.count();
  const deadLetters = () =>
    server.app.services.db.sql.query<DeadLetterRow>(
      `SELECT "id"::text AS "id", "subject", convert_from("payload", 'UTF8') AS "payload", "attempts", "reason"
       FROM "OutboxDeadLetter" ORDER BY "id"`,
    );
  const refusedMetric = async () => {
    const text = await server.app.services.metrics.registry.metrics();
    return Number(/^state_outbox_dead_letters_total\{reason="refused"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };

  it('the refused message becomes a dead letter; the entries after it reach their subscriber', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const before = server.app.services.broker.stats().subscriptions;
      const stream = subscribeWs(client, STREAM, { stateId: 'after-live' });
      await waitUntil(
        () => server.app.services.broker.stats().subscriptions > before,
        5_000,
        'the stream subscription',
      );

      const refused = await server.graphql(PUBLISH, { stateId: 'denied-live', entries: [{ n: 1 }] });
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        step: 'publish',
        persisted: 1,
        firstSeq: 1,
        lastSeq: 1,
        deadLetter: true,
      });
      expect(refused.errors?.[0]?.message).toBe(
        `the 1 entries were persisted (seq 1..1) but the broker refused their message for good: ${deniedReason('denied-live')}; it is kept as a dead letter`,
      );

      // Before: UNAVAILABLE, held behind the refused row, and never delivered.
      for (const n of [1, 2]) {
        expect(await server.graphql(PUBLISH, { stateId: 'after-live', entries: [{ n }] })).toEqual({
          data: { publishStateEntries: { accepted: 1 } },
        });
        const event = await stream.results.next(10_000, `entry ${n} of the later state`);
        expect(event.data?.stateStream).toEqual({
          type: 'query_state_entry',
          data: { type: 'query_state_entry', state_id: 'after-live', session_id: null, query_state: [{ n }] },
        });
      }
      expect(await outboxSize()).toBe(0);

      const dead = await deadLetters();
      expect(dead.map(({ subject, attempts, reason }) => ({ subject, attempts, reason }))).toEqual([
        { subject: 'processor.state.denied-live', attempts: 1, reason: deniedReason('denied-live') },
      ]);
      expect(JSON.parse(dead[0]?.payload ?? '')).toEqual({
        type: 'query_state_entry',
        state_id: 'denied-live',
        session_id: null,
        query_state: [{ n: 1 }],
      });
      expect(await refusedMetric()).toBe(1);
    } finally {
      await client.dispose();
    }
  }, 60_000);

  it('held back while NATS was away: retried in order once it is back, the refused one moved aside', async () => {
    // The app's own connection subscribes again on reconnect before the relay publishes.
    const observed = brokerNetwork(server.app.services.broker).observe('processor.state.*');
    const deadBefore = (await deadLetters()).length;
    try {
      await nats.down();
      await waitUntil(
        () => server.app.services.broker.health().status !== 'connected',
        10_000,
        'the app to notice NATS is gone',
      );
      for (const stateId of ['held-1', 'denied-held', 'held-2', 'held-3']) {
        const result = await server.graphql(PUBLISH, { stateId, entries: [{ stateId }] });
        expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', step: 'publish' });
      }
      expect(await outboxSize()).toBe(4);
      // Failures for now are no refusal: nothing dead-lettered while NATS is away.
      expect(await deadLetters()).toHaveLength(deadBefore);

      await nats.up();
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        seen.push(JSON.parse(await observed.messages.next(20_000, 'the held-back messages')).state_id);
      }
      expect(seen).toEqual(['held-1', 'held-2', 'held-3']);
      await waitUntil(async () => (await outboxSize()) === 0, 5_000, 'an empty outbox');
      const dead = await deadLetters();
      expect(dead.slice(deadBefore).map(({ subject, reason }) => ({ subject, reason }))).toEqual([
        { subject: 'processor.state.denied-held', reason: deniedReason('denied-held') },
      ]);
      // The refused row failed for now while NATS was away, then for good once.
      expect(dead.at(-1)?.attempts).toBeGreaterThanOrEqual(1);
      expect(await refusedMetric()).toBe(deadBefore + 1);
      expect(observed.messages.pending).toEqual([]);
    } finally {
      observed.stop();
    }
  }, 60_000);
});
