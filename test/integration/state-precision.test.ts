import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * State entries keep every digit of their numbers through the database: 0.30000000000000004 is
 * not 0.3, 9007199254740991 is not 9007199254740990, 1e-300 is not 0. Numbers that JSON.parse
 * turns into exactly these doubles must come back as exactly these doubles.
 */
const PRECISE = {
  sum: 0.30000000000000004,
  max: 9007199254740991,
  tiny: 1e-300,
  neg: -2.2250738585072014e-308,
};

const PUBLISH = `mutation($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted }
}`;
const ENTRIES = `query($stateId: ID!) { stateEntries(stateId: $stateId, first: 10) { edges { node { data } } } }`;

interface EntriesData {
  stateEntries: { edges: Array<{ node: { data: Record<string, unknown> } }> };
}

describe.each(['pglite', 'postgres'] as const)('state entries keep every digit (%s)', (database) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ database, env: { SYNC_STORE_SUBJECT: 'processor.state.sync-precision' } });
  });
  afterAll(() => server?.stop());

  async function storedEntries(stateId: string): Promise<Array<Record<string, unknown>>> {
    const result = await server.graphql<EntriesData>(ENTRIES, { stateId });
    expect(result.errors).toBeUndefined();
    return result.data?.stateEntries.edges.map((edge) => edge.node.data) ?? [];
  }

  it('publishStateEntries → database → stateEntries, and the live stateStream, are exact', async () => {
    const stateId = `precise-${database}-${Date.now()}`;
    await server.graphql(`mutation { createState(input: { id: "${stateId}" }) { id } }`);
    const { client } = connectWs(server.wsUrl);
    const baseline = server.app.services.broker.stats().subscriptions;
    try {
      const live = subscribeWs(client, 'subscription($id: ID!) { stateStream(stateId: $id) { data } }', {
        id: stateId,
      });
      await waitUntil(
        async () => server.app.services.broker.stats().subscriptions > baseline,
        5_000,
        'stateStream subscribed',
      );
      // A plain entry first: the comparison below would also pass if nothing were stored at all.
      expect(await server.graphql(PUBLISH, { stateId, entries: [{ n: 1 }, PRECISE] })).toEqual({
        data: { publishStateEntries: { accepted: 2 } },
      });
      const event = await live.results.next(10_000, 'state event');
      const message = (event.data as { stateStream: { data: { query_state: unknown[] } } }).stateStream.data;
      expect(message.query_state).toEqual([{ n: 1 }, PRECISE]);
      expect(await storedEntries(stateId)).toEqual([{ n: 1 }, PRECISE]);
      // Object.is on each value: toEqual would not tell -0 from 0, and says nothing of text.
      const [, stored] = await storedEntries(stateId);
      for (const [key, value] of Object.entries(PRECISE)) expect(Object.is(stored?.[key], value)).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('the sync store (a message from the network) → database → stateEntries is exact', async () => {
    const stateId = `precise-sync-${database}-${Date.now()}`;
    // Written as text, as another ISM processor would send it.
    const body = `{"type":"query_state_direct","state_id":"${stateId}","query_state":[{"sum":0.30000000000000004,"max":9007199254740991,"tiny":1e-300,"neg":-2.2250738585072014e-308}]}`;
    await server.app.services.broker.publish(
      'processor.state.sync-precision',
      new TextEncoder().encode(body),
    );
    await waitUntil(
      async () =>
        ((await server.graphql<EntriesData>(ENTRIES, { stateId })).data?.stateEntries.edges.length ?? 0) ===
        1,
      10_000,
      'entry stored',
    );
    expect(await storedEntries(stateId)).toEqual([PRECISE]);
  });
});
