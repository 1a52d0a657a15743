/**
 * The sync store writes what waits in batches (one transaction per batch, issue 13). What a
 * user must see is what one message at a time gave: every entry stored once, each state's in
 * the order sent with seq 1..n, floats with every digit, a bad message rejected alone with its
 * reason while the good ones around it are stored, and a batch written again under the same
 * key (after a COMMIT whose answer was lost) stored once.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { brokerNetwork, type IsmNetwork, natsNetwork, syncMessagesHandled } from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { serviceUrl } from '../setup/services.ts';

const ENTRIES = `query Entries($stateId: ID!, $first: Int, $after: String) {
  stateEntries(stateId: $stateId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { seq sessionId data } }
  }
}`;

interface EntriesData {
  stateEntries: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: Array<{ node: { seq: number; sessionId: string | null; data: Record<string, unknown> } }>;
  };
}

const run = randomBytes(4).toString('hex');
const SYNC_SUBJECT = `processor.state.sync-batches-${run}`;

describe('the sync store writes in batches', () => {
  let server: TestApp;
  let network: IsmNetwork;
  beforeAll(async () => {
    server = await startTestApp({
      database: 'postgres',
      env: { BROKER: 'nats', NATS_URL: serviceUrl('nats'), SYNC_STORE_SUBJECT: SYNC_SUBJECT },
    });
    network = await natsNetwork(serviceUrl('nats'));
  });
  afterAll(async () => {
    await network.close();
    await server.stop();
  });

  /** Every entry of a state, oldest first. */
  const entriesOf = async (stateId: string) => {
    const nodes: EntriesData['stateEntries']['edges'][number]['node'][] = [];
    let after: string | null = null;
    for (;;) {
      const page: { data?: EntriesData | null; errors?: unknown } = await server.graphql<EntriesData>(
        ENTRIES,
        { stateId, first: 100, after },
      );
      const entries: EntriesData['stateEntries'] | undefined = page.data?.stateEntries;
      if (!entries) throw new Error(`no entries: ${JSON.stringify(page.errors)}`);
      nodes.push(...entries.edges.map((edge) => edge.node));
      if (!entries.pageInfo.hasNextPage) return nodes;
      after = entries.pageInfo.endCursor;
    }
  };

  const send = (message: unknown) => network.publish(SYNC_SUBJECT, JSON.stringify(message));
  const handled = () => syncMessagesHandled(server.app.services.syncStore.stats());

  it('stores a burst of 600 messages over 3 states (with sessions) once each, in order per state, floats intact', async () => {
    const states = ['a', 'b', 'c'].map((name) => `burst-${name}-${run}`);
    const before = handled();
    const persistedBefore = server.app.services.syncStore.stats().persisted;
    for (let index = 0; index < 600; index++) {
      await send({
        type: 'query_state_direct',
        state_id: states[index % 3],
        session_id: index % 2 === 0 ? 'even' : null,
        query_state: [
          { index, float: 0.1 + 0.2 },
          { index, second: true },
        ],
      });
    }
    await waitUntil(() => handled() - before === 600, 30_000, 'the sync store to take 600 messages');
    expect(server.app.services.syncStore.stats().persisted - persistedBefore).toBe(600);
    for (const [offset, stateId] of states.entries()) {
      const entries = await entriesOf(stateId);
      expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 400 }, (_, n) => n + 1));
      const sent = Array.from({ length: 200 }, (_, n) => n * 3 + offset);
      expect(entries.map((entry) => entry.data.index)).toEqual(sent.flatMap((index) => [index, index]));
      expect(entries.map((entry) => entry.sessionId)).toEqual(
        sent.flatMap((index) => (index % 2 === 0 ? ['even', 'even'] : [null, null])),
      );
      // The 17th significant digit survives the batch's one JSON parameter.
      expect(
        entries.filter((_, n) => n % 2 === 0).every((entry) => entry.data.float === 0.30000000000000004),
      ).toBe(true);
    }
  });

  it('rejects a bad message in the middle of a burst alone, with its reason; the others are stored in order', async () => {
    const stateId = `mixed-${run}`;
    const stats = () => server.app.services.syncStore.stats();
    const before = handled();
    const rejectedBefore = stats().rejected.bad_entry ?? 0;
    for (let index = 0; index < 200; index++) {
      await send({
        type: 'query_state_direct',
        state_id: stateId,
        // Message 100's second entry is not an object: the state service refuses the message.
        query_state: index === 100 ? [{ index }, 7] : [{ index }],
      });
    }
    await waitUntil(() => handled() - before === 200, 30_000, 'the sync store to take 200 messages');
    expect((stats().rejected.bad_entry ?? 0) - rejectedBefore).toBe(1);
    const entries = await entriesOf(stateId);
    expect(entries.map((entry) => entry.data.index)).toEqual(
      Array.from({ length: 200 }, (_, index) => index).filter((index) => index !== 100),
    );
    expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 199 }, (_, n) => n + 1));
  });

  it('a batch written again with the same retryKey is stored once; another key stores it again', async () => {
    const { states } = server.app.services;
    const stateIds = [`retry-a-${run}`, `retry-b-${run}`];
    const batch = [
      { stateId: stateIds[0] as string, sessionId: null, entries: [{ k: 1 }, { k: 2 }] },
      { stateId: stateIds[1] as string, sessionId: 's', entries: [{ k: 3 }] },
      { stateId: stateIds[0] as string, sessionId: null, entries: [{ k: 4 }] },
    ];
    const retryKey = randomUUID();
    expect(await states.publishFromNetwork(batch, retryKey)).toEqual({ accepted: 3 });
    expect(await states.publishFromNetwork(batch, retryKey)).toEqual({ accepted: 0 });
    expect((await entriesOf(stateIds[0] as string)).map((entry) => entry.data.k)).toEqual([1, 2, 4]);
    expect((await entriesOf(stateIds[1] as string)).map((entry) => entry.data.k)).toEqual([3]);
    await states.publishFromNetwork(batch.slice(1, 2), randomUUID());
    expect((await entriesOf(stateIds[1] as string)).map((entry) => [entry.seq, entry.data.k])).toEqual([
      [1, 3],
      [2, 3],
    ]);
  });

  it('a message delivered again (its redelivery key) is stored once, in another batch or on its own', async () => {
    // What a Kafka queue group does after a crash: another instance gets messages again from
    // the last commit, in batches of its own making.
    const { states } = server.app.services;
    const stateId = `redelivered-${run}`;
    const message = (n: number) => ({
      stateId,
      sessionId: null,
      entries: [{ n }, { n, second: true }],
      key: `k-${run}-${n}`,
    });
    expect(await states.publishFromNetwork([message(1), message(2)], randomUUID())).toEqual({ accepted: 2 });
    expect(await states.publishFromNetwork([message(2), message(3), message(1)], randomUUID())).toEqual({
      accepted: 1,
    });
    // One message at a time: its key is the retry key of the single write.
    await states.publish(stateId, null, message(3).entries, null, { retryKey: message(3).key });
    await states.publish(stateId, null, message(4).entries, null, { retryKey: message(4).key });
    expect(await states.publishFromNetwork([message(4), message(5)], randomUUID())).toEqual({ accepted: 1 });
    const stored = await entriesOf(stateId);
    expect(stored.map((entry) => entry.data.n)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(stored.map((entry) => entry.seq)).toEqual(Array.from({ length: 10 }, (_, n) => n + 1));
  });

  it('refuses a whole batch with a bad message before writing anything (the caller writes one by one then)', async () => {
    const { states } = server.app.services;
    const stateId = `refused-${run}`;
    await expect(
      states.publishFromNetwork(
        [
          { stateId, sessionId: null, entries: [{ k: 1 }] },
          { stateId, sessionId: null, entries: [] },
        ],
        randomUUID(),
      ),
    ).rejects.toThrow(/entries/);
    // Not even the state was created.
    expect(await states.find(stateId, null)).toBeNull();
  });
});

describe('the sync store writes in batches on the embedded default (PGlite, memory broker)', () => {
  it('stores a burst of 300 messages over 2 states once each, in order per state, floats intact', async () => {
    const server = await startTestApp();
    try {
      const network = brokerNetwork(server.app.services.broker);
      const subject = server.app.services.syncStore.subject;
      const stats = () => server.app.services.syncStore.stats();
      for (let index = 0; index < 300; index++) {
        await network.publish(
          subject,
          JSON.stringify({
            type: 'query_state_direct',
            state_id: `embedded-${index % 2}`,
            query_state: [{ index, float: 0.1 + 0.2 }],
          }),
        );
      }
      await waitUntil(
        () => syncMessagesHandled(stats()) === 300,
        30_000,
        'the sync store to take 300 messages',
      );
      expect(stats().persisted).toBe(300);
      for (const offset of [0, 1]) {
        const page = await server.graphql<EntriesData>(ENTRIES, {
          stateId: `embedded-${offset}`,
          first: 200,
        });
        const entries = page.data?.stateEntries.edges.map((edge) => edge.node) ?? [];
        expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 150 }, (_, n) => n + 1));
        expect(entries.map((entry) => entry.data.index)).toEqual(
          Array.from({ length: 150 }, (_, n) => n * 2 + offset),
        );
        expect(entries.every((entry) => entry.data.float === 0.30000000000000004)).toBe(true);
      }
    } finally {
      await server.stop();
    }
  });
});
