/**
 * The database stopped and started again while a producer posts monitor events into a device that
 * is recording. What a user must see: during the outage every request is refused with 503
 * UNAVAILABLE and a Retry-After (as for a broker outage), never 500; afterwards ingest works again;
 * and every event that was acknowledged (200) is stored exactly once, nothing of a refused one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, startService } from '../setup/services.ts';

describe('a database outage', () => {
  let postgres: PrivateService;
  let server: TestApp;
  beforeAll(async () => {
    postgres = await startService('postgres');
    server = await startTestApp({ env: { DATABASE_URL: postgres.url } });
  });
  afterAll(async () => {
    await server?.stop();
    await postgres?.stop();
  });

  it('is 503 UNAVAILABLE with Retry-After while it lasts; every acknowledged event is stored once', async () => {
    const device = uniqueDevice();
    const started = await server.graphql<{ startRecording: { id: string } }>(
      'mutation($d: ID!) { startRecording(deviceId: $d) { id } }',
      { d: device },
    );
    expect(started.errors).toBeUndefined();
    const recordingId = started.data?.startRecording.id as string;

    const acknowledged: string[] = [];
    const refused: string[] = [];
    let next = 0;
    /** Posts one event; returns its HTTP status. Anything but 200 or 503 fails the test. */
    const post = async (): Promise<number> => {
      const id = `e${next++}`;
      const response = await fetch(`${server.url}/monitor/${device}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ id, type: 'signal', data: { id } }]),
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (response.status === 200) acknowledged.push(id);
      else {
        expect({ status: response.status, body }).toMatchObject({
          status: 503,
          body: { error: 'UNAVAILABLE', message: expect.stringMatching(/database/) },
        });
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(JSON.stringify(body)).not.toMatch(/\/work\/|\.ts:\d+|at .*\(/);
        refused.push(id);
      }
      return response.status;
    };
    /** Posts until `count` answers had `status`, at most `limit` posts. */
    const postUntil = async (status: number, count: number, limit: number) => {
      let seen = 0;
      for (let attempt = 0; attempt < limit && seen < count; attempt++) {
        if ((await post()) === status) seen += 1;
      }
      expect(seen).toBe(count);
    };

    await postUntil(200, 5, 5);
    await postgres.down();
    await postUntil(503, 5, 20);
    // GraphQL says the same, as UNAVAILABLE (HTTP 503), not INTERNAL.
    const query = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({
        query: 'query($id: ID!) { device(id: $id) { messageCount } }',
        variables: { id: device },
      }),
    });
    const answer = (await query.json()) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
    expect(answer.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(query.status).toBe(503);
    expect(Number(query.headers.get('retry-after'))).toBeGreaterThan(0);

    await postgres.up();
    // The pool reconnects on its own; a few more refusals may come while it does.
    await postUntil(200, 5, 50);

    const stopped = await server.graphql('mutation($id: ID!) { stopRecording(id: $id) { id } }', {
      id: recordingId,
    });
    expect(stopped.errors).toBeUndefined();
    const stored = await server.app.services.db.prisma.recordingMessage.findMany({
      where: { recordingId },
      select: { eventId: true },
      orderBy: { seq: 'asc' },
    });
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(stored.map((row) => row.eventId)).toEqual(acknowledged);
  });
});
