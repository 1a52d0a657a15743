import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsProtocolErrors } from '../../src/server/socket-guard.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import {
  buildFrame,
  closePayload,
  isRefused,
  OPCODES,
  type RawWsConnection,
  rawUpgrade,
} from '../helpers/ws-frames.ts';

/**
 * No client's bytes may stop the server (issue 14, item 1): every WebSocket protocol fault, on
 * every WebSocket route, with a good, a bad and no token, sent with the upgrade request itself
 * (before authentication) and after the server answered the token (mid-stream, with a
 * subscription running, for a good token). An 'error' event nobody handles would throw in this
 * process (vitest reports it and fails the run); the faulty client must see the RFC close code,
 * /metrics must count it, and the server must go on answering /health.
 */

const MAX_PAYLOAD = 64 * 1024;
const STATE = 'frames-state';
const TOPIC = 'frames.ticks';

const FAULTS = [
  {
    fault: 'a text frame that is not UTF-8',
    code: 1007,
    bytes: () => buildFrame({ opcode: OPCODES.TEXT, payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }),
  },
  { fault: 'a reserved opcode (0x3)', code: 1002, bytes: () => buildFrame({ opcode: 0x3, payload: 'x' }) },
  {
    fault: 'an unmasked client frame',
    code: 1002,
    bytes: () => buildFrame({ opcode: OPCODES.TEXT, payload: '{}', masked: false }),
  },
  {
    fault: 'a continuation frame with no message begun',
    code: 1002,
    bytes: () => buildFrame({ opcode: OPCODES.CONTINUATION, payload: 'tail' }),
  },
  {
    fault: 'a new text frame inside a fragmented message',
    code: 1002,
    bytes: () =>
      Buffer.concat([
        buildFrame({ opcode: OPCODES.TEXT, payload: '{"a":', fin: false }),
        buildFrame({ opcode: OPCODES.TEXT, payload: '1}' }),
      ]),
  },
  {
    fault: 'close code 999',
    code: 1002,
    bytes: () => buildFrame({ opcode: OPCODES.CLOSE, payload: closePayload(999) }),
  },
  {
    fault: 'a close reason that is not UTF-8',
    code: 1007,
    bytes: () =>
      buildFrame({ opcode: OPCODES.CLOSE, payload: closePayload(1000, Buffer.from([0xff, 0xfe, 0xfd])) }),
  },
  {
    fault: 'RSV1 without a negotiated extension',
    code: 1002,
    bytes: () => buildFrame({ opcode: OPCODES.TEXT, payload: '{}', rsv1: true }),
  },
  {
    fault: 'a 200-byte ping',
    code: 1002,
    bytes: () => buildFrame({ opcode: OPCODES.PING, payload: Buffer.alloc(200, 1) }),
  },
  {
    fault: 'a frame claiming 64 MiB (over MAX_PAYLOAD_BYTES)',
    code: 1009,
    bytes: () =>
      buildFrame({ opcode: OPCODES.BINARY, payload: Buffer.alloc(32), declaredLength: 64 * 1024 * 1024 }),
  },
] as const;

type TokenKind = 'good' | 'bad' | 'none';

interface Route {
  readonly name: string;
  /** The route's path pattern, as the metric labels it. */
  readonly label: string;
  readonly protocol?: string;
  /** The request target; a token rides in `?token=` on the legacy routes. */
  target(token: string | undefined, unique: string): string;
  /** Frames sent right behind the upgrade request (graphql-ws's connection_init with the token). */
  init?(token: string | undefined): Buffer;
  /**
   * Waits for the server's answer to the token: with a good one, until a subscription is running
   * (an event arrived, or the provider is registered); else until it closed or greeted.
   */
  settle(connection: RawWsConnection, token: TokenKind, unique: string): Promise<void>;
}

describe('WebSocket protocol faults never stop the server (JWT mode)', () => {
  let server: TestApp;
  let dir: string;
  let base: string;
  let wsBase: string;
  let writer: string;
  let stopped = false;
  let producing: Promise<void> | undefined;
  const tokens: Record<TokenKind, string | undefined> = { good: '', bad: '', none: undefined };

  const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${writer}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };
  const protocolErrors = async (route: string, code: number): Promise<number> => {
    const metric = await wsProtocolErrors(server.app.services.metrics).get();
    return (
      metric.values.find((value) => value.labels.route === route && value.labels.code === String(code))
        ?.value ?? 0
    );
  };
  /** The first text frame or the close, whichever comes first. */
  const firstAnswer = (connection: RawWsConnection) =>
    Promise.race([connection.texts.next(5_000, 'the first frame'), connection.closed.then(() => 'closed')]);

  /** connection_init with the token in its payload: graphql-ws and the old Apollo protocol alike. */
  const connectionInit = (token: string | undefined) =>
    buildFrame({
      opcode: OPCODES.TEXT,
      payload: JSON.stringify({
        type: 'connection_init',
        payload: token === undefined ? {} : { authorization: `Bearer ${token}` },
      }),
    });
  /** Starts a stateStream subscription and waits for its first event, a frame of `eventType`. */
  const firstEvent = async (connection: RawWsConnection, startType: string, eventType: string) => {
    connection.sendText(
      JSON.stringify({
        id: '1',
        type: startType,
        payload: { query: `subscription { stateStream(stateId: "${STATE}") { raw } }` },
      }),
    );
    for (;;) {
      const frame = JSON.parse(await connection.texts.next(10_000, 'a stateStream event')) as {
        type: string;
      };
      if (frame.type === eventType) return;
    }
  };

  const ROUTES: readonly Route[] = [
    {
      name: 'graphql-ws /graphql',
      label: '/graphql',
      protocol: 'graphql-transport-ws',
      target: () => '/graphql',
      init: connectionInit,
      async settle(connection, token) {
        if ((await firstAnswer(connection)) === 'closed' || token !== 'good') return;
        await firstEvent(connection, 'subscribe', 'next');
      },
    },
    {
      name: 'old Apollo protocol (subscriptions-transport-ws) /graphql',
      label: '/graphql',
      protocol: 'graphql-ws',
      target: () => '/graphql',
      init: connectionInit,
      async settle(connection, token) {
        const first = await firstAnswer(connection);
        if (first === 'closed') return;
        // A refused token: connection_error, then the close.
        if ((JSON.parse(first) as { type: string }).type === 'connection_error') {
          await connection.closed;
          return;
        }
        if (token === 'good') await firstEvent(connection, 'start', 'data');
      },
    },
    {
      name: 'legacy topics /ws/stream',
      label: '/ws/stream',
      target: (token) => `/ws/stream${token === undefined ? '' : `?token=${token}`}`,
      async settle(connection, token) {
        // Without a good token: an error frame, then the close.
        if (token !== 'good') {
          await connection.closed;
          return;
        }
        await connection.texts.next(5_000, 'connection_established');
        connection.sendText(JSON.stringify({ action: 'subscribe', data: { topics: [TOPIC] } }));
        for (;;) {
          const frame = JSON.parse(await connection.texts.next(10_000, 'a topic message')) as {
            type: string;
          };
          if (frame.type === 'data') return;
        }
      },
    },
    {
      name: 'ISM /ws/stream/{state}',
      label: '/ws/stream/:state',
      target: (token) => `/ws/stream/${STATE}${token === undefined ? '' : `?token=${token}`}`,
      async settle(connection) {
        // A good token gets the producer's next entry; any other is closed.
        await firstAnswer(connection);
      },
    },
    {
      name: 'ISM /ws/stream/{state}/{session}',
      label: '/ws/stream/:state/:session',
      target: (token) => `/ws/stream/${STATE}/s1${token === undefined ? '' : `?token=${token}`}`,
      async settle(connection, token) {
        if (token !== 'good') await connection.closed;
        // No producer on the session: the subscription runs once the broker has it, which a
        // publish to the session shows by arriving.
        else {
          const received = connection.texts.next(10_000, 'a session entry');
          let arrived = false;
          void received.then(
            () => {
              arrived = true;
            },
            () => undefined,
          );
          while (!arrived) {
            await publishEntry('s1');
            await Promise.race([
              received.catch(() => undefined),
              new Promise((resolve) => setTimeout(resolve, 200)),
            ]);
          }
          await received;
        }
      },
    },
    {
      name: 'data source /ws/ds/{ds}',
      label: '/ws/ds/:ds',
      target: (token, unique) => `/ws/ds/ds-${unique}${token === undefined ? '' : `?token=${token}`}`,
      async settle(connection, token, unique) {
        if (token !== 'good') {
          await connection.closed;
          return;
        }
        await waitUntil(
          async () => {
            const result = await graphql('{ dataSources { id connectedProviders } }');
            const sources = (result.data?.dataSources ?? []) as Array<{
              id: string;
              connectedProviders: number;
            }>;
            return sources.some((source) => source.id === `ds-${unique}` && source.connectedProviders > 0);
          },
          5_000,
          `provider ds-${unique} registered`,
        );
      },
    },
  ];

  const publishEntry = (session?: string) =>
    graphql(
      'mutation($stateId: ID!, $sessionId: ID, $entries: [JSONObject!]!) { publishStateEntries(stateId: $stateId, sessionId: $sessionId, entries: $entries) { __typename } }',
      { stateId: STATE, sessionId: session ?? null, entries: [{ type: 'tick', at: Date.now() }] },
    ).catch(() => undefined);

  beforeAll(async () => {
    writer = await signToken({ sub: 'writer', roles: ['writer', 'publisher'] });
    tokens.good = await signToken({ sub: 'alice' });
    tokens.bad = await signToken({ sub: 'alice', secret: 'not-the-secret-of-this-server-0123456789' });
    dir = await mkdtemp(join(tmpdir(), 'streamgate-frames-'));
    const topicsFile = join(dir, 'topics.yaml');
    await writeFile(topicsFile, `topics:\n  - name: ${TOPIC}\n`);
    server = await startTestApp({
      env: authEnv({
        TOPICS_FILE: topicsFile,
        MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
        MAX_CONNECTIONS_PER_USER: '1000',
      }),
    });
    base = server.url;
    wsBase = server.url.replace(/^http/, 'ws');
    const created = await graphql('mutation { createState(input: { id: "frames-state" }) { id } }');
    expect(created.errors).toBeUndefined();
    // A producer posting all along, one request at a time: entries on the state, messages on the topic.
    producing = (async () => {
      while (!stopped) {
        await publishEntry();
        await server.app.services.broker
          .publish(`topic.${TOPIC}`, Buffer.from(JSON.stringify({ at: Date.now() })))
          .catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
  }, 90_000);

  afterAll(async () => {
    stopped = true;
    await producing;
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let counter = 0;
  for (const route of ROUTES) {
    describe(route.name, () => {
      for (const token of ['good', 'bad', 'none'] as const) {
        it.each(FAULTS)(
          `${token} token, with the upgrade request: $fault closes the client with $code`,
          async ({ bytes, code }) => {
            counter += 1;
            const unique = String(counter);
            const before = await protocolErrors(route.label, code);
            const connection = await rawUpgrade(`${wsBase}${route.target(tokens[token], unique)}`, {
              ...(route.protocol ? { protocol: route.protocol } : {}),
              early: Buffer.concat([route.init?.(tokens[token]) ?? Buffer.alloc(0), bytes()]),
            });
            if (isRefused(connection)) throw new Error(`upgrade refused: ${connection.status}`);
            expect((await connection.closed).code).toBe(code);
            expect(await protocolErrors(route.label, code)).toBe(before + 1);
            connection.destroy();
            await expectServing();
          },
        );

        it.each(FAULTS)(
          `${token} token, after the server answered the token${token === 'good' ? ' (mid-stream)' : ''}: $fault`,
          async ({ bytes, code }) => {
            counter += 1;
            const unique = String(counter);
            const connection = await rawUpgrade(`${wsBase}${route.target(tokens[token], unique)}`, {
              ...(route.protocol ? { protocol: route.protocol } : {}),
              ...(route.init ? { early: route.init(tokens[token]) } : {}),
            });
            if (isRefused(connection)) throw new Error(`upgrade refused: ${connection.status}`);
            await route.settle(connection, token, unique);
            const refusedFirst = await Promise.race([
              connection.closed.then(() => true),
              new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
            ]);
            const before = await protocolErrors(route.label, code);
            // A refused client that does not answer the close frame and sends a fault instead.
            connection.write(bytes());
            const { code: seen } = await connection.closed;
            if (refusedFirst) {
              expect(token).not.toBe('good');
              expect([4401, 4403]).toContain(seen);
              // ws still reads until the client's close: the fault after the refusal is counted.
              await waitUntil(
                async () => (await protocolErrors(route.label, code)) === before + 1,
                5_000,
                'the fault counted',
              );
            } else {
              // The socket was live (a good token mid-stream, or graphql-ws's anonymous
              // connection): the fault is what closed it.
              expect(seen).toBe(code);
              expect(await protocolErrors(route.label, code)).toBe(before + 1);
            }
            connection.destroy();
            await expectServing();
          },
        );
      }
    });
  }

  async function expectServing(): Promise<void> {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
  }
});
