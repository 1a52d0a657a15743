/**
 * A recording survives restarts: of streamgate (killed with SIGKILL mid-stream, then started
 * again on the same database) and of the broker. A producer keeps posting throughout; every
 * message the monitor acknowledged must be in the recording, once, in order.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import {
  expectComplete,
  recordedNumbers,
  startMonitorProducer as startProducer,
} from '../helpers/recorded-monitor.ts';
import { createProcessRunner, freePort, waitForListening } from '../helpers/streamgate-process.ts';
import { startTestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type PrivateService, serviceUrl, startService } from '../setup/services.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());

/** `src/main.ts` as a real process; resolves once it listens. */
async function startStreamgate(env: Record<string, string>): Promise<ChildProcess> {
  const run = processes.start({ LOG_LEVEL: 'info', ...env });
  await waitForListening(run.lines);
  return run.child;
}

async function graphql<T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

const START = 'mutation($d: ID!) { startRecording(deviceId: $d, includeBuffer: false) { id } }';
const STOP = 'mutation($id: ID!) { stopRecording(id: $id) { status messageCount } }';

describe('recording durability', () => {
  it('streamgate killed (SIGKILL) and restarted mid-recording: every acknowledged message is recorded', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      DATABASE_URL: await createTestDatabase(),
      BROKER: 'nats',
      NATS_URL: serviceUrl('nats'),
    };
    let child = await startStreamgate(env);
    const device = uniqueDevice('durable');
    const { startRecording } = await graphql<{ startRecording: { id: string } }>(url, START, { d: device });
    const producer = startProducer(() => url, device);
    try {
      await waitUntil(() => producer.acknowledged.length >= 300, 30_000, '300 acknowledged messages');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const refusedBefore = producer.refusedCount();
      child = await startStreamgate(env);
      const acknowledgedAtRestart = producer.acknowledged.length;
      await waitUntil(
        () => producer.acknowledged.length >= acknowledgedAtRestart + 300,
        30_000,
        '300 more acknowledged messages after the restart',
      );
      expect(producer.refusedCount()).toBeGreaterThan(refusedBefore); // the outage was real
    } finally {
      await producer.stop();
    }
    const stopped = await graphql<{ stopRecording: { status: string; messageCount: number } }>(url, STOP, {
      id: startRecording.id,
    });
    expect(stopped.stopRecording.status).toBe('STOPPED');
    expectComplete(await recordedNumbers(url, startRecording.id), producer.acknowledged);
    child.kill('SIGTERM');
  }, 180_000);

  describe('broker restarted mid-recording (private NATS)', () => {
    let nats: PrivateService;
    afterAll(() => nats?.stop());

    it('every acknowledged message is recorded; posts during the outage are refused with 503', async () => {
      nats = await startService('nats');
      const server = await startTestApp({
        database: 'postgres',
        env: { BROKER: 'nats', NATS_URL: nats.url, BROKER_RECONNECT_MAX_WAIT: '200ms' },
      });
      const device = uniqueDevice('broker');
      try {
        const started = await server.graphql<{ startRecording: { id: string } }>(START, { d: device });
        const id = started.data?.startRecording.id as string;
        const producer = startProducer(() => server.url, device);
        try {
          await waitUntil(() => producer.acknowledged.length >= 200, 30_000, '200 acknowledged messages');
          // Down until a post has been refused: a restart as quick as NATS's own (tens of ms) can
          // fall entirely within one post, which then waits for the reconnect and succeeds.
          await nats.down();
          await waitUntil(() => producer.refusedCount() > 0, 30_000, 'a post refused while NATS is down');
          await nats.up();
          const atRestart = producer.acknowledged.length;
          await waitUntil(
            () => producer.acknowledged.length >= atRestart + 200,
            30_000,
            '200 more acknowledged messages after the broker restart',
          );
        } finally {
          await producer.stop();
        }
        const stopped = await server.graphql<{ stopRecording: { status: string } }>(STOP, { id });
        expect(stopped.data?.stopRecording.status).toBe('STOPPED');
        expectComplete(await recordedNumbers(server.url, id), producer.acknowledged);
      } finally {
        await server.stop();
      }
    }, 120_000);
  });
});
