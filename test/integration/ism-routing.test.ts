import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { type IsmNetwork, natsNetwork, syncMessagesHandled } from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, serviceUrl } from '../setup/services.ts';

const root = new URL('../..', import.meta.url).pathname;
const run = randomBytes(4).toString('hex');
const SYNC_SUBJECT = `processor.state.sync-${run}`;

/** The legacy layout: exact routes, `/*` prefixes, and one prefix nested in another. */
const ROUTING_FILE = `# routes of the ISM network
messageConfig:
  routes:
    - selector: ingest/orders
      name: orders
      subject: processor.state.orders${run}
    - selector: ingest/*
      name: catchall
      subject: processor.state.catchall${run}
      url: nats://localhost:4222
      queue: router
    - selector: ingest/eu/*
      name: eu
      subject: processor.state.eu${run}
`;

const ROUTES = '{ routes { id selector subject name origin } }';
const ENTRIES = 'query($id: ID!) { stateEntries(stateId: $id) { totalCount edges { node { data } } } }';

/** Runs `src/main.ts` with its own environment until it exits; returns its exit code and output. */
function runProcess(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      output += chunk;
    });
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe('the routing file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-routing-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    [
      'a route without a subject',
      'messageConfig:\n  routes:\n    - selector: ingest/*\n      name: x\n',
      'line 3: messageConfig.routes[0]: "subject" is missing',
    ],
    [
      'bad YAML',
      'messageConfig:\n  routes:\n    - selector: a/*\n\tsubject: x\n',
      'line 4: Tabs are not allowed as indentation',
    ],
    [
      'a subject with a wildcard',
      'messageConfig:\n  routes:\n    - selector: a/*\n      subject: out.*\n',
      'line 4: messageConfig.routes[0].subject: invalid subject "out.*"',
    ],
  ])('stops start-up with exit code 2 naming the line and reason: %s', async (_name, text, expected) => {
    const file = join(dir, `bad-${randomBytes(3).toString('hex')}.yaml`);
    await writeFile(file, text);
    const { code, output } = await runProcess({ ROUTING_FILE: file, PGLITE_DIR: join(dir, 'db'), PORT: '0' });
    expect(code).toBe(2);
    expect(output).toContain(`ROUTING_FILE="${file}"`);
    expect(output).toContain(expected);
  });

  it('stops start-up with exit code 2 when the file is missing', async () => {
    const file = join(dir, 'missing.yaml');
    const { code, output } = await runProcess({ ROUTING_FILE: file, PGLITE_DIR: join(dir, 'db'), PORT: '0' });
    expect(code).toBe(2);
    expect(output).toContain('cannot be read');
  });
});

describe('routes from the file and from setRoute (NATS, Postgres)', () => {
  let dir: string;
  let file: string;
  let databaseUrl: string;
  let server: TestApp;
  let network: IsmNetwork;

  const start = () =>
    startTestApp({
      env: {
        DATABASE_URL: databaseUrl,
        BROKER: 'nats',
        NATS_URL: serviceUrl('nats'),
        ROUTING_FILE: file,
        SYNC_STORE_SUBJECT: SYNC_SUBJECT,
      },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-routing-'));
    file = join(dir, 'routing.yaml');
    await writeFile(file, ROUTING_FILE);
    databaseUrl = await createTestDatabase();
    server = await start();
    network = await natsNetwork(serviceUrl('nats'));
  });
  afterAll(async () => {
    await network.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the file into the routes table at start-up', async () => {
    const result = await server.graphql<{ routes: Array<{ id: string }> }>(ROUTES);
    // Routes loaded together may share a creation time: compare them by id.
    const byId = [...(result.data?.routes ?? [])].sort((a, b) => a.id.localeCompare(b.id));
    expect(byId).toEqual([
      {
        id: 'route:catchall',
        selector: 'ingest/*',
        subject: `processor.state.catchall${run}`,
        name: 'catchall',
        origin: 'FILE',
      },
      {
        id: 'route:eu',
        selector: 'ingest/eu/*',
        subject: `processor.state.eu${run}`,
        name: 'eu',
        origin: 'FILE',
      },
      {
        id: 'route:orders',
        selector: 'ingest/orders',
        subject: `processor.state.orders${run}`,
        name: 'orders',
        origin: 'FILE',
      },
    ]);
    const state = await server.graphql('{ node(id: "route:eu") { id ... on Route { selector } } }');
    expect(state.data).toEqual({ node: { id: 'route:eu', selector: 'ingest/eu/*' } });
  });

  it('forwards entries along every matching route, exact and prefix', async () => {
    const catchall = network.observe(`processor.state.catchall${run}`);
    const eu = network.observe(`processor.state.eu${run}`);
    const orders = network.observe(`processor.state.orders${run}`);
    await Promise.all([catchall.ready, eu.ready, orders.ready]);

    const publish = (stateId: string) =>
      server.graphql(
        'mutation($id: ID!) { publishStateEntries(stateId: $id, entries: [{ x: 1 }]) { accepted } }',
        {
          id: stateId,
        },
      );
    expect((await publish('ingest/eu/7')).errors).toBeUndefined();
    const toEu = JSON.parse(await eu.messages.next(5_000, 'the eu copy'));
    const toCatchall = JSON.parse(await catchall.messages.next(5_000, 'the catch-all copy'));
    expect(toEu).toMatchObject({ type: 'query_state_entry', state_id: 'ingest/eu/7', route_id: 'route:eu' });
    expect(toCatchall).toMatchObject({ state_id: 'ingest/eu/7', route_id: 'route:catchall' });

    expect((await publish('ingest/orders')).errors).toBeUndefined();
    expect(JSON.parse(await orders.messages.next(5_000, 'the orders copy'))).toMatchObject({
      state_id: 'ingest/orders',
      route_id: 'route:orders',
    });
    expect(JSON.parse(await catchall.messages.next(5_000, 'the catch-all copy'))).toMatchObject({
      state_id: 'ingest/orders',
    });

    const routes = await server.graphql('{ state(id: "ingest/eu/7") { routes { id } } }');
    expect(routes.data).toEqual({ state: { routes: [{ id: 'route:catchall' }, { id: 'route:eu' }] } });
    for (const observed of [catchall, eu, orders]) {
      expect(observed.messages.pending).toEqual([]);
      observed.stop();
    }
  });

  it('resolves query_state_route through the routes: exact wins, one prefix match, several are rejected', async () => {
    const sync = server.app.services.syncStore;
    const before = sync.stats();
    const send = (routeId: string, value: string) =>
      network.publish(
        SYNC_SUBJECT,
        JSON.stringify({ type: 'query_state_route', route_id: routeId, query_state: [{ value }] }),
      );
    await send('ingest/orders', 'exact');
    await send('ingest/us/1', 'prefix');
    await send('ingest/eu/1', 'two prefixes');
    await send('nowhere/1', 'no route');
    await waitUntil(
      () => syncMessagesHandled(sync.stats()) - syncMessagesHandled(before) === 4,
      5_000,
      'four sync messages',
    );
    const after = sync.stats();
    expect(after.persisted - before.persisted).toBe(2);
    expect((after.rejected.ambiguous_route ?? 0) - (before.rejected.ambiguous_route ?? 0)).toBe(1);
    expect((after.rejected.unknown_route ?? 0) - (before.rejected.unknown_route ?? 0)).toBe(1);

    const orders = await server.graphql(ENTRIES, { id: `orders${run}` });
    expect(orders.data).toEqual({
      stateEntries: { totalCount: 1, edges: [{ node: { data: { value: 'exact' } } }] },
    });
    const catchall = await server.graphql(ENTRIES, { id: `catchall${run}` });
    expect(catchall.data).toEqual({
      stateEntries: { totalCount: 1, edges: [{ node: { data: { value: 'prefix' } } }] },
    });
    const eu = await server.graphql(ENTRIES, { id: `eu${run}` });
    expect(eu.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('sets, replaces and deletes routes; bad selectors and subjects are BAD_USER_INPUT', async () => {
    const set = await server.graphql(
      'mutation { setRoute(input: { id: "route:mine", selector: "audit.>", subject: "audit.copy", name: "audit" }) { id selector subject name origin } }',
    );
    expect(set.data).toEqual({
      setRoute: {
        id: 'route:mine',
        selector: 'audit.>',
        subject: 'audit.copy',
        name: 'audit',
        origin: 'API',
      },
    });
    const replaced = await server.graphql(
      'mutation { setRoute(input: { id: "route:mine", selector: "audit.*", subject: "audit.copy" }) { selector } }',
    );
    expect(replaced.data).toEqual({ setRoute: { selector: 'audit.*' } });

    for (const [input, field] of [
      ['{ selector: "a/b.c", subject: "x" }', 'selector'],
      ['{ selector: "ab*", subject: "x" }', 'selector'],
      ['{ selector: "a", subject: "x.>" }', 'subject'],
      ['{ selector: "a", subject: "" }', 'subject'],
    ] as const) {
      const bad = await server.graphql(`mutation { setRoute(input: ${input}) { id } }`);
      expect(bad.errors?.[0]?.extensions, input).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }

    expect(await server.graphql('mutation { deleteRoute(id: "route:mine") }')).toEqual({
      data: { deleteRoute: true },
    });
    expect(await server.graphql('mutation { deleteRoute(id: "route:mine") }')).toEqual({
      data: { deleteRoute: false },
    });
  });

  it('reloads the file at the next start-up: file routes replaced, API routes kept', async () => {
    await server.graphql(
      'mutation { setRoute(input: { id: "route:kept", selector: "kept", subject: "kept.out" }) { id } }',
    );
    await server.stop();
    await writeFile(
      file,
      `messageConfig:\n  routes:\n    - selector: ingest/*\n      name: catchall\n      subject: processor.state.other${run}\n`,
    );
    server = await start();
    const result = await server.graphql<{ routes: Array<{ id: string; subject: string; origin: string }> }>(
      ROUTES,
    );
    expect(result.data?.routes.map((route) => [route.id, route.subject, route.origin])).toEqual([
      ['route:catchall', `processor.state.other${run}`, 'FILE'],
      ['route:kept', 'kept.out', 'API'],
    ]);
  });
});
