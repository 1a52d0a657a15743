import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { natsNetwork } from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type PrivateService, startService } from '../setup/services.ts';

const PUBLISH = `mutation($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted position }
}`;

const COUNT = 'query($stateId: ID!) { stateEntries(stateId: $stateId) { totalCount } }';

const STREAM = 'subscription($stateId: ID!) { stateStream(stateId: $stateId) { type data } }';

/** The env of an app on the private NATS server, retrying the outbox quickly. */
function appEnv(nats: PrivateService, databaseUrl: string): Record<string, string> {
  return {
    BROKER: 'nats',
    NATS_URL: nats.url,
    DATABASE_URL: databaseUrl,
    OUTBOX_RETRY_INTERVAL: '200ms',
    BROKER_RECONNECT_MAX_WAIT: '500ms',
    BROKER_REQUEST_TIMEOUT: '1s',
  };
}

async function outboxSize(server: TestApp): Promise<number> {
  return server.app.services.db.prisma.outboxMessage.count();
}

describe('publishStateEntries while NATS is down (private NATS server, Postgres)', () => {
  let nats: PrivateService;
  let databaseUrl: string;
  beforeAll(async () => {
    nats = await startService('nats');
    databaseUrl = await createTestDatabase();
  });
  afterAll(() => nats.stop());

  it('keeps the entries, answers UNAVAILABLE, and publishes them once NATS is back', async () => {
    const server = await startTestApp({ env: appEnv(nats, databaseUrl) });
    const { client } = connectWs(server.wsUrl);
    try {
      // Observed on the app's own connection: it subscribes again on reconnect before the relay
      // can publish, so the test cannot miss the message.
      const stream = subscribeWs(client, STREAM, { stateId: 'outage' });
      await waitUntil(
        () => server.app.services.broker.stats().subscriptions > 1,
        5_000,
        'the stream subscription',
      );

      await nats.down();
      await waitUntil(
        () => server.app.services.broker.health().status !== 'connected',
        10_000,
        'the app to notice NATS is gone',
      );
      const entries = [{ n: 1 }, { n: 2 }, { n: 3 }];
      const result = await server.graphql(PUBLISH, { stateId: 'outage', entries });
      expect(result.data ?? null).toBeNull();
      const error = result.errors?.[0];
      expect(error?.extensions?.code).toBe('UNAVAILABLE');
      expect(error?.message).toContain('the 3 entries were persisted');
      expect(error?.message).toContain('publishing will be retried');
      expect(error?.extensions).toMatchObject({ step: 'publish', persisted: 3, firstSeq: 1, lastSeq: 3 });
      expect(await server.graphql(COUNT, { stateId: 'outage' })).toEqual({
        data: { stateEntries: { totalCount: 3 } },
      });
      expect(await outboxSize(server)).toBe(1);

      await nats.up();
      const event = await stream.results.next(20_000, 'the entries after NATS is back');
      expect(event.data?.stateStream).toEqual({
        type: 'query_state_entry',
        data: { type: 'query_state_entry', state_id: 'outage', session_id: null, query_state: entries },
      });
      await waitUntil(async () => (await outboxSize(server)) === 0, 5_000, 'an empty outbox');
      expect(stream.results.pending).toEqual([]);
    } finally {
      await client.dispose();
      await server.stop();
    }
  });

  it('publishes what a stopped instance left in the outbox when the next one starts', async () => {
    const first = await startTestApp({ env: appEnv(nats, databaseUrl) });
    await nats.down();
    await waitUntil(() => first.app.services.broker.health().status !== 'connected', 10_000, 'NATS gone');
    const result = await first.graphql(PUBLISH, { stateId: 'restart', entries: [{ kept: true }] });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    await first.stop();

    await nats.up();
    const network = await natsNetwork(nats.url);
    try {
      const observed = network.observe('processor.state.restart');
      await observed.ready;
      const second = await startTestApp({ env: appEnv(nats, databaseUrl) });
      try {
        const message = JSON.parse(await observed.messages.next(10_000, 'the left-over message'));
        expect(message).toEqual({
          type: 'query_state_entry',
          state_id: 'restart',
          session_id: null,
          query_state: [{ kept: true }],
        });
        await waitUntil(async () => (await outboxSize(second)) === 0, 5_000, 'an empty outbox');
      } finally {
        await second.stop();
      }
    } finally {
      await network.close();
    }
  });
});
