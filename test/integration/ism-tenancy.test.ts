import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import {
  eventStream,
  type IsmNetwork,
  natsNetwork,
  primeStreams,
  textStream,
} from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { serviceUrl } from '../setup/services.ts';

const run = randomBytes(4).toString('hex');
const SYNC_SUBJECT = `processor.state.sync-${run}`;
const OWNED = `owned${run}`;

function openLegacySocket(url: string) {
  const socket = new WebSocket(url);
  const frames = new AsyncQueue<string>();
  const closes = new AsyncQueue<{ code: number; reason: string }>();
  socket.on('message', (data) => frames.push(String(data)));
  socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  socket.on('error', () => undefined);
  return { socket, frames, closes };
}

describe('tenancy of states (JWT, NATS, Postgres)', () => {
  let server: TestApp;
  let network: IsmNetwork;
  let tokenA: string;
  let tokenB: string;
  let readerA: string;

  beforeAll(async () => {
    server = await startTestApp({
      database: 'postgres',
      env: authEnv({ BROKER: 'nats', NATS_URL: serviceUrl('nats'), SYNC_STORE_SUBJECT: SYNC_SUBJECT }),
    });
    network = await natsNetwork(serviceUrl('nats'));
    tokenA = await signToken({ sub: 'alice', tenantId: 'tenant-a', roles: ['writer'] });
    tokenB = await signToken({ sub: 'bob', tenantId: 'tenant-b', roles: ['writer'] });
    readerA = await signToken({ sub: 'carol', tenantId: 'tenant-a', roles: [] });
    const created = await server.graphql(
      'mutation($id: ID!) { createState(input: { id: $id, name: "A\'s" }) { id } }',
      { id: OWNED },
      { token: tokenA },
    );
    expect(created.errors).toBeUndefined();
    const published = await server.graphql(
      'mutation($id: ID!) { publishStateEntries(stateId: $id, entries: [{ secret: 1 }]) { accepted } }',
      { id: OWNED },
      { token: tokenA },
    );
    expect(published.errors).toBeUndefined();
  });
  afterAll(async () => {
    await network.close();
    await server.stop();
  });

  it('the owner reads its state; another tenant sees nothing: null, NOT_FOUND, not listed', async () => {
    const query = `query($id: ID!) {
      state(id: $id) { id entryCount }
      node(id: $id) { id }
      states { edges { node { id } } }
    }`;
    const mine = await server.graphql(query, { id: OWNED }, { token: tokenA });
    expect(mine.data).toMatchObject({ state: { id: OWNED, entryCount: 1 }, node: { id: OWNED } });
    expect(mine.data?.states).toEqual({ edges: [{ node: { id: OWNED } }] });

    const theirs = await server.graphql(query, { id: OWNED }, { token: tokenB });
    expect(theirs.data).toEqual({ state: null, node: null, states: { edges: [] } });

    const entries = await server.graphql(
      'query($id: ID!) { stateEntries(stateId: $id) { totalCount } }',
      { id: OWNED },
      { token: tokenB },
    );
    expect(entries.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(entries.errors?.[0]?.message).toBe(`state "${OWNED}" not found`);
  });

  it('another tenant cannot publish into the state, and a taken id answers as any taken id', async () => {
    const publish = await server.graphql(
      'mutation($id: ID!) { publishStateEntries(stateId: $id, entries: [{ x: 1 }]) { accepted } }',
      { id: OWNED },
      { token: tokenB },
    );
    expect(publish.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const create = await server.graphql(
      'mutation($id: ID!) { createState(input: { id: $id }) { id } }',
      { id: OWNED },
      { token: tokenB },
    );
    expect(create.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(create.errors?.[0]?.message).toBe(`id: a state "${OWNED}" already exists`);
    const count = await server.graphql(
      'query($id: ID!) { state(id: $id) { entryCount } }',
      { id: OWNED },
      { token: tokenA },
    );
    expect(count.data).toEqual({ state: { entryCount: 1 } });
  });

  it("another tenant's state streams exactly as an unknown one: open, and nothing of the owner's traffic reaches it", async () => {
    const unknown = `never${run}`;
    const wsBase = server.url.replace(/^http/, 'ws');
    const { client, closes } = connectWs(server.wsUrl, {
      connectionParams: { authorization: `Bearer ${tokenB}` },
    });
    const query = 'subscription($id: ID!) { stateStream(stateId: $id) { raw } }';
    const theirsOverGraphql = subscribeWs(client, query, { id: OWNED });
    const absentOverGraphql = subscribeWs(client, query, { id: unknown });
    const theirsOverLegacy = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=${tokenB}`);
    const absentOverLegacy = openLegacySocket(`${wsBase}/ws/stream/${unknown}?token=${tokenB}`);
    try {
      // The unknown state's streams are live once network frames reach them; the subscriptions
      // to the owner's state were made before, on the same connections.
      await primeStreams(
        [eventStream(absentOverGraphql.results), textStream(absentOverLegacy.frames)],
        (text) => network.publish(`processor.state.${unknown}`, text),
      );
      await network.publish(`processor.state.${OWNED}`, 'the owner’s secret');
      await network.publish(`processor.state.${unknown}`, 'after');
      expect((await absentOverGraphql.results.next(5_000, 'after')).data).toEqual({
        stateStream: { raw: 'after' },
      });
      expect(await absentOverLegacy.frames.next(5_000, 'after')).toBe('after');
      // Open like the unknown one: no error, no close, and nothing delivered.
      expect(theirsOverGraphql.results.pending).toEqual([]);
      expect(theirsOverLegacy.frames.pending).toEqual([]);
      expect(theirsOverLegacy.closes.pending).toEqual([]);
      expect(closes.pending).toEqual([]);
      theirsOverGraphql.unsubscribe();
      await theirsOverGraphql.done; // cancelling it ends it cleanly, as for any stream
    } finally {
      theirsOverLegacy.socket.close();
      absentOverLegacy.socket.close();
      await client.dispose();
    }
  });

  it('the owner streams its state over /ws/stream with ?token=; no or a bad token closes with 4401', async () => {
    const wsBase = server.url.replace(/^http/, 'ws');
    const owner = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=${tokenA}`);
    try {
      await primeStreams([textStream(owner.frames)], (text) =>
        network.publish(`processor.state.${OWNED}`, text),
      );
      await network.publish(`processor.state.${OWNED}`, 'for the owner');
      expect(await owner.frames.next(5_000, 'the frame')).toBe('for the owner');
    } finally {
      owner.socket.close();
    }

    const anonymous = openLegacySocket(`${wsBase}/ws/stream/${OWNED}`);
    expect(await anonymous.closes.next(5_000, 'the close')).toMatchObject({ code: 4401 });
    const forged = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=not.a.token`);
    const close = await forged.closes.next(5_000, 'the close');
    expect(close.code).toBe(4401);
    expect(close.reason).not.toContain('not.a.token');
  });

  it('a caller without the writer role cannot publish (FORBIDDEN), but may read', async () => {
    const publish = await server.graphql(
      'mutation($id: ID!) { publishStateEntries(stateId: $id, entries: [{ x: 1 }]) { accepted } }',
      { id: OWNED },
      { token: readerA },
    );
    expect(publish.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await server.graphql(
      'query($id: ID!) { state(id: $id) { id } }',
      { id: OWNED },
      { token: readerA },
    );
    expect(read.data).toEqual({ state: { id: OWNED } });
  });

  it('a state created by the network (no tenant) is shared by every tenant', async () => {
    const shared = `network${run}`;
    await network.publish(
      SYNC_SUBJECT,
      JSON.stringify({ type: 'query_state_direct', state_id: shared, query_state: [{ from: 'processor' }] }),
    );
    await waitUntil(
      async () =>
        (await server.graphql('query($id: ID!) { state(id: $id) { id } }', { id: shared }, { token: tokenA }))
          .data?.state != null,
      5_000,
      'the network state',
    );
    for (const token of [tokenA, tokenB]) {
      const entries = await server.graphql(
        'query($id: ID!) { stateEntries(stateId: $id) { totalCount } }',
        { id: shared },
        { token },
      );
      expect(entries.data).toEqual({ stateEntries: { totalCount: 1 } });
    }
    // The network also writes into a tenant's state: processors have no tenant.
    await network.publish(
      SYNC_SUBJECT,
      JSON.stringify({ type: 'query_state_direct', state_id: OWNED, query_state: [{ from: 'processor' }] }),
    );
    await waitUntil(
      async () =>
        (
          await server.graphql<{ state: { entryCount: number } | null }>(
            'query($id: ID!) { state(id: $id) { entryCount } }',
            { id: OWNED },
            { token: tokenA },
          )
        ).data?.state?.entryCount === 2,
      5_000,
      "the processor entry in A's state",
    );
  });
});
