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

  it("an id taken in another tenant answers exactly as a free id: B's create and publish make B's own state", async () => {
    const free = `free${run}`;
    const create =
      'mutation($id: ID!) { createState(input: { id: $id, name: "B\'s" }) { id name entryCount } }';
    const taken = await server.graphql(create, { id: OWNED }, { token: tokenB });
    const untaken = await server.graphql(create, { id: free }, { token: tokenB });
    expect(untaken.errors).toBeUndefined();
    expect(taken.errors).toBeUndefined();
    expect(taken.data).toEqual({ createState: { id: OWNED, name: "B's", entryCount: 0 } });
    // A second create in B is refused as any id taken in one's own tenant.
    const twice = await server.graphql(create, { id: OWNED }, { token: tokenB });
    expect(twice.errors?.[0]).toMatchObject({
      message: `id: a state "${OWNED}" already exists`,
      extensions: { code: 'BAD_USER_INPUT' },
    });

    const publish =
      'mutation($id: ID!) { publishStateEntries(stateId: $id, entries: [{ x: 1 }]) { accepted } }';
    expect((await server.graphql(publish, { id: OWNED }, { token: tokenB })).data).toEqual({
      publishStateEntries: { accepted: 1 },
    });
    const entries = 'query($id: ID!) { stateEntries(stateId: $id) { edges { node { data } } } }';
    expect((await server.graphql(entries, { id: OWNED }, { token: tokenB })).data).toEqual({
      stateEntries: { edges: [{ node: { data: { x: 1 } } }] },
    });
    // A's state is untouched: its one entry, its name.
    expect(
      (
        await server.graphql(
          'query($id: ID!) { state(id: $id) { name entryCount } }',
          { id: OWNED },
          { token: tokenA },
        )
      ).data,
    ).toEqual({ state: { name: "A's", entryCount: 1 } });
    expect((await server.graphql(entries, { id: OWNED }, { token: tokenA })).data).toEqual({
      stateEntries: { edges: [{ node: { data: { secret: 1 } } }] },
    });
  });

  it("the same id in two tenants is two streams: A's live messages never reach B's subscribers, nor the network's", async () => {
    const wsBase = server.url.replace(/^http/, 'ws');
    const query = 'subscription($id: ID!) { stateStream(stateId: $id) { raw } }';
    const connectionA = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${tokenA}` } });
    const connectionB = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${tokenB}` } });
    const graphqlA = subscribeWs(connectionA.client, query, { id: OWNED });
    const graphqlB = subscribeWs(connectionB.client, query, { id: OWNED });
    const legacyA = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=${tokenA}`);
    const legacyB = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=${tokenB}`);
    const networkListener = network.observe(`processor.state.${OWNED}`);
    try {
      await networkListener.ready;
      // Each tenant's state is on the tenant's subject (docs/ism.md, "Tenancy").
      await primeStreams([eventStream(graphqlA.results), textStream(legacyA.frames)], (text) =>
        network.publish(`tenant.tenant-a.processor.state.${OWNED}`, text),
      );
      await primeStreams([eventStream(graphqlB.results), textStream(legacyB.frames)], (text) =>
        network.publish(`tenant.tenant-b.processor.state.${OWNED}`, text),
      );
      const publish =
        'mutation($id: ID!, $n: Int!) { publishStateEntries(stateId: $id, entries: [{ n: $n }]) { accepted } }';
      expect((await server.graphql(publish, { id: OWNED, n: 1 }, { token: tokenA })).errors).toBeUndefined();
      expect((await server.graphql(publish, { id: OWNED, n: 2 }, { token: tokenB })).errors).toBeUndefined();
      const entryOf = (raw: string | undefined) =>
        (JSON.parse(raw ?? '{}') as { query_state?: unknown }).query_state;
      expect(entryOf(await eventStream(graphqlA.results).nextRaw())).toEqual([{ n: 1 }]);
      expect(entryOf(await legacyA.frames.next(5_000, "A's entry"))).toEqual([{ n: 1 }]);
      expect(entryOf(await eventStream(graphqlB.results).nextRaw())).toEqual([{ n: 2 }]);
      expect(entryOf(await legacyB.frames.next(5_000, "B's entry"))).toEqual([{ n: 2 }]);
      // The default tenant's subject (the network's) carries neither; a frame the network
      // publishes there reaches it and no tenant's subscriber.
      await network.publish(`processor.state.${OWNED}`, 'network only');
      expect(await networkListener.messages.next(5_000, 'the network frame')).toBe('network only');
      await network.publish(`tenant.tenant-a.processor.state.${OWNED}`, 'a-last');
      await network.publish(`tenant.tenant-b.processor.state.${OWNED}`, 'b-last');
      expect(await eventStream(graphqlA.results).nextRaw()).toBe('a-last');
      expect(await legacyA.frames.next(5_000, 'a-last')).toBe('a-last');
      expect(await eventStream(graphqlB.results).nextRaw()).toBe('b-last');
      expect(await legacyB.frames.next(5_000, 'b-last')).toBe('b-last');
      expect(graphqlA.results.pending).toEqual([]);
      expect(graphqlB.results.pending).toEqual([]);
      expect(legacyA.frames.pending).toEqual([]);
      expect(legacyB.frames.pending).toEqual([]);
    } finally {
      networkListener.stop();
      legacyA.socket.close();
      legacyB.socket.close();
      await connectionA.client.dispose();
      await connectionB.client.dispose();
    }
  });

  it('the owner streams its state over /ws/stream with ?token=; no or a bad token closes with 4401', async () => {
    const wsBase = server.url.replace(/^http/, 'ws');
    const owner = openLegacySocket(`${wsBase}/ws/stream/${OWNED}?token=${tokenA}`);
    try {
      await primeStreams([textStream(owner.frames)], (text) =>
        network.publish(`tenant.tenant-a.processor.state.${OWNED}`, text),
      );
      await network.publish(`tenant.tenant-a.processor.state.${OWNED}`, 'for the owner');
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

  it("the network's states are the default tenant's: a token without a tenant sees them, tenants do not", async () => {
    const shared = `network${run}`;
    const noTenant = await signToken({ sub: 'ops', tenantId: null, roles: ['writer'] });
    await network.publish(
      SYNC_SUBJECT,
      JSON.stringify({ type: 'query_state_direct', state_id: shared, query_state: [{ from: 'processor' }] }),
    );
    await waitUntil(
      async () =>
        (
          await server.graphql(
            'query($id: ID!) { state(id: $id) { id } }',
            { id: shared },
            { token: noTenant },
          )
        ).data?.state != null,
      5_000,
      'the network state',
    );
    expect(
      (
        await server.graphql(
          'query($id: ID!) { stateEntries(stateId: $id) { totalCount } }',
          { id: shared },
          { token: noTenant },
        )
      ).data,
    ).toEqual({ stateEntries: { totalCount: 1 } });
    for (const token of [tokenA, tokenB]) {
      const state = await server.graphql(
        'query($id: ID!) { state(id: $id) { id } }',
        { id: shared },
        { token },
      );
      expect(state.data).toEqual({ state: null });
    }
    // The network writing OWNED writes the default tenant's OWNED, never A's.
    const countOfA = async () =>
      (
        await server.graphql<{ state: { entryCount: number } }>(
          'query($id: ID!) { state(id: $id) { entryCount } }',
          { id: OWNED },
          { token: tokenA },
        )
      ).data?.state.entryCount;
    const before = await countOfA();
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
            { token: noTenant },
          )
        ).data?.state?.entryCount === 1,
      5_000,
      "the processor entry in the default tenant's state",
    );
    expect(await countOfA()).toBe(before);
  });
});
