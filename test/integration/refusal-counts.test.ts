import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { limitRefusals } from '../../src/metrics.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

/**
 * docs/limits.md: every refusal is counted in limit_refusals_total under the limit's variable
 * (issue 14, item 12) — here the HTTP bodies: over MAX_PAYLOAD_BYTES on /graphql and on
 * POST /topics/{topic}/messages, over MONITOR_MAX_BODY_BYTES or MAX_JSON_DEPTH on
 * POST /monitor/{device}; a WebSocket frame over MAX_PAYLOAD_BYTES on the legacy routes (as on
 * graphql-ws: test/auth/limits.test.ts). A request within the limits is not counted.
 */
describe('body and frame refusals are counted', () => {
  let server: TestApp;
  let dir: string;
  let token: string;
  beforeAll(async () => {
    token = await signToken({ sub: 'feeder', roles: ['writer', 'publisher'] });
    dir = await mkdtemp(join(tmpdir(), 'streamgate-refusals-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, 'topics:\n  - name: open.v1\n');
    server = await startTestApp({
      env: authEnv({
        TOPICS_FILE: file,
        MAX_PAYLOAD_BYTES: '2kb',
        MONITOR_MAX_BODY_BYTES: '1kb',
        MAX_JSON_DEPTH: '8',
      }),
    });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const counts = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await limitRefusals(server.app.services.metrics).get()).values.map((value) => [
        String(value.labels.limit),
        value.value,
      ]),
    );
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  const big = 'x'.repeat(3_000);
  const deep = (levels: number): unknown => (levels === 0 ? 1 : { a: deep(levels - 1) });

  it.each([
    {
      what: '/graphql, a body over MAX_PAYLOAD_BYTES',
      good: () => post('/graphql', { query: '{ __typename }' }),
      bad: () => post('/graphql', { query: '{ __typename }', variables: { big } }),
      status: 413,
      limit: 'MAX_PAYLOAD_BYTES',
    },
    {
      what: 'POST /topics/{topic}/messages, a body over MAX_PAYLOAD_BYTES',
      good: () => post('/topics/open.v1/messages', [{ n: 1 }]),
      bad: () => post('/topics/open.v1/messages', [{ big }]),
      status: 413,
      limit: 'MAX_PAYLOAD_BYTES',
    },
    {
      what: 'POST /monitor/{device}, a body over MONITOR_MAX_BODY_BYTES',
      good: () => post('/monitor/refusal-dev', [{ data: { n: 1 } }]),
      bad: () => post('/monitor/refusal-dev', [{ data: { big: big.slice(0, 1_500) } }]),
      status: 413,
      limit: 'MONITOR_MAX_BODY_BYTES',
    },
    {
      what: 'POST /monitor/{device}, an event nested deeper than MAX_JSON_DEPTH',
      good: () => post('/monitor/refusal-dev', [{ data: deep(3) }]),
      bad: () => post('/monitor/refusal-dev', [{ data: deep(20) }]),
      status: 400,
      limit: 'MAX_JSON_DEPTH',
    },
  ])('$what', async ({ good, bad, status, limit }) => {
    const before = await counts();
    const accepted = await good();
    await accepted.arrayBuffer();
    expect(accepted.status).toBe(200);
    expect(await counts()).toEqual(before);

    const refused = await bad();
    await refused.arrayBuffer();
    expect(refused.status).toBe(status);
    expect(await counts()).toEqual({ ...before, [limit]: (before[limit] ?? 0) + 1 });
  });

  it('a topic message over MAX_PAYLOAD_BYTES handed to the topics service (as the legacy paths do) is counted', async () => {
    const publisher = { userId: 'feeder', tenantId: null, roles: ['publisher'] };
    const before = await counts();
    await expect(
      server.app.services.topics.publish(publisher, 'open.v1', { n: 1 }, null),
    ).resolves.toMatchObject({
      accepted: 1,
    });
    expect(await counts()).toEqual(before);
    await expect(
      server.app.services.topics.publish(publisher, 'open.v1', { big }, null),
    ).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(await counts()).toEqual({ ...before, MAX_PAYLOAD_BYTES: (before.MAX_PAYLOAD_BYTES ?? 0) + 1 });
  });

  /** A legacy socket with the token in `?token=`: its text frames, and its close. */
  const openLegacy = async (path: string) => {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}${path}?token=${token}`);
    const texts = new AsyncQueue<string>();
    socket.on('message', (data) => texts.push(String(data)));
    socket.on('error', () => undefined); // the close says what happened
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return { socket, texts, closed };
  };

  it('/ws/stream: a frame over MAX_PAYLOAD_BYTES gets its error frame and is counted; a small one is not', async () => {
    const legacy = await openLegacy('/ws/stream');
    try {
      expect(JSON.parse(await legacy.texts.next(5_000, 'connection_established'))).toMatchObject({
        type: 'connection_established',
      });
      const before = await counts();
      legacy.socket.send(JSON.stringify({ action: 'ping' }));
      expect(JSON.parse(await legacy.texts.next(5_000, 'the pong'))).toMatchObject({ type: 'pong' });
      expect(await counts()).toEqual(before);
      legacy.socket.send(JSON.stringify({ action: 'ping', data: { big } }));
      expect(JSON.parse(await legacy.texts.next(5_000, 'the error frame'))).toMatchObject({
        type: 'error',
        error: 'INVALID_FORMAT',
      });
      expect(await counts()).toEqual({ ...before, MAX_PAYLOAD_BYTES: (before.MAX_PAYLOAD_BYTES ?? 0) + 1 });
    } finally {
      legacy.socket.terminate();
    }
  });

  it('/ws/ds/{ds}: a frame over MAX_PAYLOAD_BYTES closes with 1009 and is counted', async () => {
    const provider = await openLegacy('/ws/ds/refusal-ds');
    const before = await counts();
    provider.socket.send(big);
    expect(await provider.closed).toBe(1009);
    expect(await counts()).toEqual({ ...before, MAX_PAYLOAD_BYTES: (before.MAX_PAYLOAD_BYTES ?? 0) + 1 });
  });
});
