import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitRefusals } from '../../src/metrics.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

/**
 * docs/limits.md: every refusal is counted in limit_refusals_total under the limit's variable
 * (issue 14, item 12) — here the HTTP bodies: over MAX_PAYLOAD_BYTES on /graphql and on
 * POST /topics/{topic}/messages, over MONITOR_MAX_BODY_BYTES or MAX_JSON_DEPTH on
 * POST /monitor/{device}. A request within the limits is not counted.
 */
describe('HTTP body refusals are counted', () => {
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
});
