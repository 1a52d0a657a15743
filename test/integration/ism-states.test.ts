import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import {
  eventStream,
  type IsmNetwork,
  natsNetwork,
  primeStreams,
  syncMessagesHandled,
} from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { serviceUrl } from '../setup/services.ts';

const PUBLISH = `mutation Publish($stateId: ID!, $sessionId: ID, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, sessionId: $sessionId, entries: $entries) { accepted position }
}`;

const ENTRIES = `query Entries($stateId: ID!, $sessionId: ID, $first: Int, $after: String) {
  stateEntries(stateId: $stateId, sessionId: $sessionId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id stateId sessionId seq data } }
  }
}`;

interface EntriesData {
  stateEntries: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: Array<{
      cursor: string;
      node: { id: string; seq: number; sessionId: string | null; data: unknown };
    }>;
  };
}

// The shared NATS server serves other test files at once: subjects of this file are its own.
const run = randomBytes(4).toString('hex');
const SYNC_SUBJECT = `processor.state.sync-${run}`;

describe('ISM states on NATS and Postgres', () => {
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

  it('creates a state and finds it; a taken or bad id is BAD_USER_INPUT', async () => {
    const created = await server.graphql(
      'mutation { createState(input: { id: "alpha", name: "Alpha" }) { id name entryCount } }',
    );
    expect(created).toEqual({ data: { createState: { id: 'alpha', name: 'Alpha', entryCount: 0 } } });
    const found = await server.graphql(
      '{ state(id: "alpha") { id name } node(id: "alpha") { id ... on State { name } } }',
    );
    expect(found).toEqual({
      data: { state: { id: 'alpha', name: 'Alpha' }, node: { id: 'alpha', name: 'Alpha' } },
    });

    const again = await server.graphql('mutation { createState(input: { id: "alpha" }) { id } }');
    expect(again.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(again.errors?.[0]?.message).toContain('already exists');

    for (const bad of ['a.b', 'a*', 'a >', 'with space']) {
      const result = await server.graphql('mutation($id: ID!) { createState(input: { id: $id }) { id } }', {
        id: bad,
      });
      expect(result.errors?.[0]?.extensions?.code, bad).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toContain('no dots');
    }
    expect(await server.graphql('{ state(id: "nope") { id } }')).toEqual({ data: { state: null } });
  });

  it('publishes 1,000 entries: all persisted in order, one message on the state subject, forwarded along a wildcard route', async () => {
    const route = await server.graphql<{ setRoute: { id: string } }>(
      'mutation($subject: String!) { setRoute(input: { selector: "bulk.*", subject: $subject }) { id selector subject origin } }',
      { subject: `forward.bulk.${run}` },
    );
    expect(route.errors).toBeUndefined();
    const onState = network.observe(`processor.state.bulk/one${run}`);
    const onRoute = network.observe(`forward.bulk.${run}`);
    await Promise.all([onState.ready, onRoute.ready]);
    const entries = Array.from({ length: 1000 }, (_, index) => ({ index, text: `entry ${index}` }));

    const result = await server.graphql(PUBLISH, { stateId: `bulk/one${run}`, entries });
    expect(result.errors).toBeUndefined();
    expect(result.data).toMatchObject({ publishStateEntries: { accepted: 1000 } });

    const published = JSON.parse(await onState.messages.next(5_000, 'the state message'));
    expect(published).toEqual({
      type: 'query_state_entry',
      state_id: `bulk/one${run}`,
      session_id: null,
      query_state: entries,
    });
    const forwarded = JSON.parse(await onRoute.messages.next(5_000, 'the forwarded message'));
    expect(forwarded).toEqual({
      type: 'query_state_entry',
      state_id: `bulk/one${run}`,
      session_id: null,
      route_id: route.data?.setRoute.id,
      query_state: entries,
    });
    // Published once: nothing else follows on either subject.
    await expect(onState.messages.next(300)).rejects.toThrow('timed out');
    expect(onRoute.messages.pending).toEqual([]);
    onState.stop();
    onRoute.stop();

    const page = await server.graphql<EntriesData>(ENTRIES, { stateId: `bulk/one${run}`, first: 1000 });
    expect(page.data?.stateEntries.totalCount).toBe(1000);
    expect(page.data?.stateEntries.edges.map((edge) => edge.node.seq)).toEqual(
      Array.from({ length: 1000 }, (_, index) => index + 1),
    );
    expect(page.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual(entries);
  });

  it('rejects the whole call when one entry is not an object, naming its index, and writes nothing', async () => {
    const entries = [{ ok: 1 }, { ok: 2 }, 42, { ok: 4 }];
    const result = await server.graphql(PUBLISH, { stateId: 'strict', entries });
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain('entries[2]');
    const page = await server.graphql<EntriesData>(ENTRIES, { stateId: 'strict' });
    // Nothing written: not even the state was created.
    expect(page.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const empty = await server.graphql(PUBLISH, { stateId: 'strict', entries: [] });
    expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(empty.errors?.[0]?.message).toContain('at least one entry');
  });

  it('pages entries oldest first with first/after and narrows to a session; a bad cursor is BAD_USER_INPUT', async () => {
    await server.graphql(PUBLISH, { stateId: 'paged', entries: [{ n: 1 }, { n: 2 }] });
    await server.graphql(PUBLISH, { stateId: 'paged', sessionId: 's1', entries: [{ n: 3 }, { n: 4 }] });
    await server.graphql(PUBLISH, { stateId: 'paged', entries: [{ n: 5 }] });

    const first = await server.graphql<EntriesData>(ENTRIES, { stateId: 'paged', first: 2 });
    expect(first.data?.stateEntries.totalCount).toBe(5);
    expect(first.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(first.data?.stateEntries.pageInfo.hasNextPage).toBe(true);

    const second = await server.graphql<EntriesData>(ENTRIES, {
      stateId: 'paged',
      first: 2,
      after: first.data?.stateEntries.pageInfo.endCursor,
    });
    expect(second.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual([{ n: 3 }, { n: 4 }]);
    const third = await server.graphql<EntriesData>(ENTRIES, {
      stateId: 'paged',
      first: 2,
      after: second.data?.stateEntries.pageInfo.endCursor,
    });
    expect(third.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual([{ n: 5 }]);
    expect(third.data?.stateEntries.pageInfo.hasNextPage).toBe(false);

    const session = await server.graphql<EntriesData>(ENTRIES, { stateId: 'paged', sessionId: 's1' });
    expect(session.data?.stateEntries.totalCount).toBe(2);
    expect(session.data?.stateEntries.edges.map((edge) => edge.node.sessionId)).toEqual(['s1', 's1']);

    const viaState = await server.graphql(
      '{ state(id: "paged") { entryCount entries(first: 1) { totalCount edges { node { seq } } } } }',
    );
    expect(viaState.data).toEqual({
      state: { entryCount: 5, entries: { totalCount: 5, edges: [{ node: { seq: 1 } }] } },
    });

    for (const after of ['not-a-cursor', Buffer.from('c:abc').toString('base64url')]) {
      const bad = await server.graphql(ENTRIES, { stateId: 'paged', after });
      expect(bad.errors?.[0]?.extensions?.code, after).toBe('BAD_USER_INPUT');
      expect(bad.errors?.[0]?.message).toContain('is not a cursor of this list');
    }
    const tooMany = await server.graphql(ENTRIES, { stateId: 'paged', first: 5000 });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('streams StateEvents over graphql-ws: text frames as "text", JSON keeps its type; session messages stay in the session', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const query =
        'subscription($s: ID!, $x: ID) { stateStream(stateId: $s, sessionId: $x) { stateId sessionId type data raw timestamp } }';
      const stateOnly = subscribeWs(client, query, { s: `live${run}` });
      const session = subscribeWs(client, query, { s: `live${run}`, x: 'sess' });
      await primeStreams([eventStream(stateOnly.results)], (text) =>
        network.publish(`processor.state.live${run}`, text),
      );
      await primeStreams([eventStream(session.results)], (text) =>
        network.publish(`processor.state.live${run}.sess`, text),
      );

      await network.publish(`processor.state.live${run}.sess`, 'only for the session');
      await network.publish(`processor.state.live${run}`, '<<>>SOURCE<<>>');
      await network.publish(
        `processor.state.live${run}`,
        '{"type":"query_state_entry","query_state":[{"a":1}]}',
      );

      const [text, json] = await stateOnly.results.take(2, 5_000, 'state events');
      expect(text?.data?.stateStream).toMatchObject({
        stateId: `live${run}`,
        sessionId: null,
        type: 'text',
        data: '<<>>SOURCE<<>>',
        raw: '<<>>SOURCE<<>>',
      });
      expect(json?.data?.stateStream).toMatchObject({
        type: 'query_state_entry',
        data: { type: 'query_state_entry', query_state: [{ a: 1 }] },
      });
      const sessionEvent = await session.results.next(5_000, 'the session event');
      expect(sessionEvent.data?.stateStream).toMatchObject({
        sessionId: 'sess',
        type: 'text',
        data: 'only for the session',
      });
      expect(stateOnly.results.pending).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('persists query_state_direct from the sync-store subject; malformed messages are counted and write nothing', async () => {
    const sync = server.app.services.syncStore;
    const before = sync.stats();
    await network.publish(
      SYNC_SUBJECT,
      JSON.stringify({ type: 'query_state_direct', state_id: 'synced', query_state: [{ k: 1 }, { k: 2 }] }),
    );
    for (const bad of [
      'not json',
      JSON.stringify({ type: 'query_state_direct', state_id: 'synced-bad', query_state: [] }),
      JSON.stringify({ type: 'query_state_direct', query_state: [{ k: 1 }] }),
      JSON.stringify({ type: 'query_state_direct', state_id: 'synced-bad', query_state: [{ k: 1 }, 7] }),
    ]) {
      await network.publish(SYNC_SUBJECT, bad);
    }
    await waitUntil(
      () => syncMessagesHandled(sync.stats()) - syncMessagesHandled(before) === 5,
      5_000,
      'the sync store to take 5 messages',
    );
    const after = sync.stats();
    expect(after.persisted - before.persisted).toBe(1);
    expect(after.rejected).toMatchObject({
      not_json: 1,
      empty_query_state: 1,
      missing_state_id: 1,
      bad_entry: 1,
    });

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('ism_sync_store_messages_total{result="rejected",reason="not_json"} 1');
    expect(metrics).toContain('ism_sync_store_messages_total{result="persisted",reason=""} 1');

    const page = await server.graphql<EntriesData>(ENTRIES, { stateId: 'synced' });
    expect(page.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual([{ k: 1 }, { k: 2 }]);
    const bad = await server.graphql(ENTRIES, { stateId: 'synced-bad' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a publish repeated with the same retryKey (the sync store after an unknown outcome) writes once; another key writes again', async () => {
    const { states } = server.app.services;
    const stateId = `retried-${randomUUID().slice(0, 8)}`;
    const retryKey = randomUUID();
    const first = await states.publish(stateId, null, [{ k: 1 }, { k: 2 }], null, {
      retryKey,
    });
    const again = await states.publish(stateId, null, [{ k: 1 }, { k: 2 }], null, {
      retryKey,
    });
    expect([first.accepted, again.accepted]).toEqual([2, 2]);
    const other = await states.publish(stateId, null, [{ k: 3 }], null, {
      retryKey: randomUUID(),
    });
    expect(other.accepted).toBe(1);
    const page = await server.graphql<EntriesData>(ENTRIES, { stateId });
    expect(page.data?.stateEntries.edges.map((edge) => edge.node.data)).toEqual([
      { k: 1 },
      { k: 2 },
      { k: 3 },
    ]);
  });

  it('persists each sync message once when several instances consume the subject (queue group)', async () => {
    const databaseUrl = server.config.database.url ?? '';
    const second = await startTestApp({
      env: {
        DATABASE_URL: databaseUrl,
        BROKER: 'nats',
        NATS_URL: serviceUrl('nats'),
        SYNC_STORE_SUBJECT: SYNC_SUBJECT,
      },
    });
    try {
      const apps = [server, second];
      const received = () => apps.reduce((sum, app) => sum + app.app.services.syncStore.stats().received, 0);
      const persisted = () =>
        apps.reduce((sum, app) => sum + app.app.services.syncStore.stats().persisted, 0);
      const before = received();
      const persistedBefore = persisted();
      for (let index = 0; index < 20; index++) {
        await network.publish(
          SYNC_SUBJECT,
          JSON.stringify({ type: 'query_state_direct', state_id: 'twice', query_state: [{ index }] }),
        );
      }
      await waitUntil(
        () => persisted() - persistedBefore === 20,
        5_000,
        'both instances to persist 20 messages',
      );
      expect(received() - before).toBe(20);
      const page = await server.graphql<EntriesData>(ENTRIES, { stateId: 'twice', first: 100 });
      expect(page.data?.stateEntries.totalCount).toBe(20);
      const indexes = page.data?.stateEntries.edges.map(
        (edge) => (edge.node.data as { index: number }).index,
      );
      expect([...(indexes ?? [])].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, index) => index),
      );
      expect(page.data?.stateEntries.edges.map((edge) => edge.node.seq)).toEqual(
        Array.from({ length: 20 }, (_, index) => index + 1),
      );
    } finally {
      await second.stop();
    }
  });

  it("reads states through a cache: own writes show at once, other instances' within STATE_CACHE_TTL", async () => {
    const databaseUrl = server.config.database.url ?? '';
    const shortCache = await startTestApp({
      env: {
        DATABASE_URL: databaseUrl,
        BROKER: 'nats',
        NATS_URL: serviceUrl('nats'),
        SYNC_STORE_SUBJECT: SYNC_SUBJECT,
        STATE_CACHE_TTL: '300ms',
      },
    });
    try {
      const find = (app: TestApp, id: string) => app.graphql(`{ state(id: "${id}") { id } }`);
      // Own write: the cached "not found" is dropped by the create.
      expect(await find(server, 'own')).toEqual({ data: { state: null } });
      await server.graphql('mutation { createState(input: { id: "own" }) { id } }');
      expect(await find(server, 'own')).toEqual({ data: { state: { id: 'own' } } });

      // Another instance's write: the default 10 s cache still answers from memory...
      expect(await find(server, 'elsewhere')).toEqual({ data: { state: null } });
      expect(await find(shortCache, 'elsewhere')).toEqual({ data: { state: null } });
      await shortCache.graphql('mutation { createState(input: { id: "elsewhere" }) { id } }');
      expect(await find(shortCache, 'elsewhere')).toEqual({ data: { state: { id: 'elsewhere' } } });
      expect(await find(server, 'elsewhere')).toEqual({ data: { state: null } });
      // ...while a 300 ms cache sees the other instance's write once its entry expires.
      expect(await find(shortCache, 'later')).toEqual({ data: { state: null } });
      await server.graphql('mutation { createState(input: { id: "later" }) { id } }');
      await waitUntil(
        async () => (await find(shortCache, 'later')).data?.state != null,
        5_000,
        'the short cache to expire',
      );
    } finally {
      await shortCache.stop();
    }
  });
});
