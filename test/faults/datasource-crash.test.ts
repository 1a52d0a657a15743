/**
 * Data-source providers across a broker crash (issue #14, item 2; docs/pubsub.md "A broker
 * restart, as a client sees it"): two streamgates on one NATS, a /ws/ds provider on A, requests
 * from B handed over the broker. NATS is killed (SIGKILL) and started again on the same port:
 * the provider connected before the crash answers again, and a provider connecting after it on
 * B is reached from A.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type PrivateService, startService } from '../setup/services.ts';

const QUERY = `query Ask($id: ID!, $query: JSON!, $timeoutMs: Int) {
  queryDataSource(id: $id, query: $query, timeoutMs: $timeoutMs)
}`;
const LIST = '{ dataSources { id connectedProviders } }';

describe('data-source providers: NATS killed (SIGKILL) and restarted', { timeout: 180_000 }, () => {
  let nats: PrivateService;
  let appA: TestApp;
  let appB: TestApp;
  const sockets: RawWsClient[] = [];

  beforeAll(async () => {
    nats = await startService('nats');
    const env = {
      BROKER: 'nats',
      NATS_URL: nats.url,
      DATABASE_URL: await createTestDatabase(),
      BROKER_RECONNECT_MAX_WAIT: '200ms',
    };
    [appA, appB] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
  }, 120_000);
  afterAll(async () => {
    for (const socket of sockets) await socket.close();
    await Promise.all([appA?.stop(), appB?.stop()]);
    await nats?.stop();
  });

  /** A /ws/ds provider that answers every request with its own name and the payload. */
  async function echoProvider(app: TestApp, dataSourceId: string, name: string) {
    const client = await connectRaw(`${app.url.replace(/^http/, 'ws')}/ws/ds/${dataSourceId}`);
    sockets.push(client);
    client.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { id: string; payload: unknown };
      client.send({ id: name, payload: [name, frame.payload], requestId: frame.id });
    });
    await waitUntil(
      async () => {
        const listed = await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
          LIST,
        );
        return (listed.data?.dataSources ?? []).some(
          (source) => source.id === dataSourceId && source.connectedProviders > 0,
        );
      },
      10_000,
      `provider ${name} of ${dataSourceId} registered`,
    );
  }

  /** Asks until an answer comes (the broker may still be reconnecting); returns it. */
  async function answerOf(app: TestApp, dataSourceId: string, query: string, timeoutMs: number) {
    let answer: unknown;
    await waitUntil(
      async () => {
        const result = await app.graphql(QUERY, { id: dataSourceId, query, timeoutMs: 2_000 });
        answer = result.data?.queryDataSource;
        return answer !== undefined && answer !== null;
      },
      timeoutMs,
      `an answer from ${dataSourceId}`,
    );
    return answer;
  }

  it('the provider connected before the crash answers requests from the other instance again; a new one is reached too', async () => {
    const before = `ds-${randomUUID().slice(0, 8)}`;
    await echoProvider(appA, before, 'A');
    expect(await appB.graphql(QUERY, { id: before, query: 'q1' })).toEqual({
      data: { queryDataSource: ['A', 'q1'] },
    });

    await nats.crash();
    // Requests made while the connections come back may fail (UNAVAILABLE); asked until answered.
    expect(await answerOf(appB, before, 'q2', 60_000)).toEqual(['A', 'q2']);

    const after = `ds-${randomUUID().slice(0, 8)}`;
    await echoProvider(appB, after, 'B');
    expect(await answerOf(appA, after, 'q3', 30_000)).toEqual(['B', 'q3']);
    // The old provider still serves its own instance's callers too.
    expect(await appA.graphql(QUERY, { id: before, query: 'q4' })).toEqual({
      data: { queryDataSource: ['A', 'q4'] },
    });
  });
});
