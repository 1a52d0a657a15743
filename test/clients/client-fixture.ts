import { randomBytes } from 'node:crypto';
import { waitUntil } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

/**
 * What every client test needs: a streamgate in JWT mode, a writer's token, a state to stream,
 * and the server's own view of open subscriptions (the `open_subscriptions` gauge of /metrics),
 * so a test publishes only once the subscription is live and sees the unsubscribe take effect.
 */
export interface ClientFixture {
  readonly server: TestApp;
  /** http://127.0.0.1:PORT/graphql */
  readonly httpUrl: string;
  /** ws://127.0.0.1:PORT/graphql */
  readonly wsUrl: string;
  /** A token with the writer role (createState, publishStateEntries). */
  readonly token: string;
  /** Creates a state with a fresh id through GraphQL; returns its id. */
  newStateId(): Promise<string>;
  /** Publishes one JSON entry on the state through GraphQL. */
  publish(stateId: string, entry: Record<string, unknown>): Promise<void>;
  /** The gauge's value for a root field and transport (0 when the series does not exist). */
  openSubscriptions(rootField: string, transport: string): Promise<number>;
  /** Waits until the gauge shows `count` open subscriptions. */
  waitForOpenSubscriptions(rootField: string, transport: string, count: number): Promise<void>;
  stop(): Promise<void>;
}

/** The operations of the client tests: one query, one mutation, one subscription of each kind. */
export const OPERATIONS = {
  viewer: 'query Viewer { viewer { userId tenantId } }',
  createState:
    'mutation CreateState($id: ID!) { createState(input: { id: $id, name: "client test" }) { id } }',
  stateStream: 'subscription Live($stateId: ID!) { stateStream(stateId: $stateId) { stateId type data } }',
} as const;

export async function startClientFixture(env: Record<string, string> = {}): Promise<ClientFixture> {
  const server = await startTestApp({ env: authEnv(env) });
  const token = await signToken({ sub: 'alice', tenantId: 'tenant-a', roles: ['writer'] });
  const openSubscriptions = async (rootField: string, transport: string): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((row) =>
        row.startsWith(`open_subscriptions{root_field="${rootField}",transport="${transport}"}`),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return {
    server,
    httpUrl: `${server.url}/graphql`,
    wsUrl: server.wsUrl,
    token,
    async newStateId() {
      const id = `client${randomBytes(4).toString('hex')}`;
      const result = await server.graphql(OPERATIONS.createState, { id }, { token });
      if (result.errors) throw new Error(`createState failed: ${JSON.stringify(result.errors)}`);
      return id;
    },
    async publish(stateId, entry) {
      const result = await server.graphql(
        'mutation($s: ID!, $e: [JSONObject!]!) { publishStateEntries(stateId: $s, entries: $e) { accepted } }',
        { s: stateId, e: [entry] },
        { token },
      );
      if (result.errors) throw new Error(`publishStateEntries failed: ${JSON.stringify(result.errors)}`);
    },
    openSubscriptions,
    waitForOpenSubscriptions: (rootField, transport, count) =>
      waitUntil(
        async () => (await openSubscriptions(rootField, transport)) === count,
        10_000,
        `${count} open ${rootField} subscriptions over ${transport}`,
      ),
    stop: () => server.stop(),
  };
}
