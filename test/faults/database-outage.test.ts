/**
 * The database stopped (fast shutdown) or killed (`pg_ctl -m immediate`, a crash) and started again
 * while a producer posts monitor events into a device that is recording. What a user must see:
 * during the outage every request is refused with 503 UNAVAILABLE and a Retry-After (as for a
 * broker outage), never 500; afterwards ingest works again; and every event that was acknowledged
 * (200) is stored exactly once, nothing of a refused one. The same on every other write path
 * (publishStateEntries, createState, recordings, importRecording): UNAVAILABLE, nothing half-written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, requireDurableCommits, startService } from '../setup/services.ts';

describe('a database outage', () => {
  let postgres: PrivateService;
  let server: TestApp;
  beforeAll(async () => {
    postgres = await startService('postgres');
    await requireDurableCommits(postgres.url);
    server = await startTestApp({ env: { DATABASE_URL: postgres.url } });
  });
  afterAll(async () => {
    await server?.stop();
    await postgres?.stop();
  });

  it.each([
    ['stopped', () => postgres.down()],
    ['killed', () => postgres.kill()],
  ])(
    '%s: 503 UNAVAILABLE with Retry-After while it lasts; every acknowledged event is stored once',
    async (_how, takeDown) => {
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
      await takeDown();
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
    },
  );
  it('after a crash (kill -9) every write path is UNAVAILABLE with Retry-After and writes nothing', async () => {
    const device = uniqueDevice('crash');
    const stateId = uniqueDevice('crash-state');
    const ok = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await server.graphql(query, variables);
      expect(result.errors).toBeUndefined();
      return result.data as Record<string, { id: string; expiresAt?: string }>;
    };
    await ok('mutation($id: ID!) { createState(input: { id: $id }) { id } }', { id: stateId });
    await ok('mutation($s: ID!) { publishStateEntries(stateId: $s, entries: [{ n: 0 }]) { accepted } }', {
      s: stateId,
    });
    const started = await ok('mutation($d: ID!) { startRecording(deviceId: $d) { id } }', { d: device });
    const recording = started.startRecording?.id as string;
    const exported = (from: number, count: number) =>
      Array.from({ length: count }, (_, index) => ({
        headers: {
          'X-Monitor-Id': `i${from + index}`,
          'X-Monitor-Type': 'signal',
          'X-Monitor-Symbol': 'demo.Counter',
          'X-Monitor-Timestamp': new Date(Date.UTC(2026, 0, 15, 10, 0, from + index)).toISOString(),
        },
        data: { n: from + index },
      }));
    const imported = `import-${device}`;

    await postgres.kill();
    /** A GraphQL request over HTTP, as a client sends it: must be 503 UNAVAILABLE with Retry-After. */
    const refused = async (name: string, query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      expect({ name, status: response.status, code: body.errors?.[0]?.extensions?.code }).toEqual({
        name,
        status: 503,
        code: 'UNAVAILABLE',
      });
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(JSON.stringify(body)).not.toMatch(/\/work\/|\.ts:\d+|at .*\(/);
    };
    const monitor = await fetch(`${server.url}/monitor/${device}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'x1', type: 'signal', data: {} }]),
    });
    expect(monitor.status).toBe(503);
    expect(Number(monitor.headers.get('retry-after'))).toBeGreaterThan(0);
    await refused(
      'ingest',
      'mutation($d: ID!) { ingest(deviceId: $d, messages: [{ id: "x2", type: "signal" }]) { accepted } }',
      {
        d: device,
      },
    );
    await refused(
      'publishStateEntries',
      'mutation($s: ID!) { publishStateEntries(stateId: $s, entries: [{ n: 1 }]) { accepted } }',
      { s: stateId },
    );
    await refused('createState', 'mutation($id: ID!) { createState(input: { id: $id }) { id } }', {
      id: `${stateId}-new`,
    });
    await refused(
      'startRecording',
      'mutation($d: ID!, $id: ID!) { startRecording(deviceId: $d, id: $id) { id } }',
      {
        d: device,
        id: `${device}-second`,
      },
    );
    await refused('stopRecording', 'mutation($id: ID!) { stopRecording(id: $id) { id } }', { id: recording });
    await refused(
      'importRecording',
      'mutation($input: ImportRecordingInput!, $m: [RecordedMessageInput!]!) { importRecording(input: $input, messages: $m) { id } }',
      { input: { deviceId: device, id: imported }, m: exported(0, 3) },
    );

    await postgres.up();
    await waitUntil(
      async () => (await server.graphql('{ health { status } }')).errors === undefined,
      30_000,
      'the database back',
    );
    // Nothing of a refused write is there: no entry, state, recording, imported message.
    const { prisma } = server.app.services.db;
    await waitUntil(
      async () => {
        try {
          await prisma.$queryRaw`SELECT 1`;
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      'a query to go through',
    );
    expect(await prisma.stateEntry.count({ where: { stateId } })).toBe(1);
    expect(await prisma.state.count({ where: { id: `${stateId}-new` } })).toBe(0);
    expect(await prisma.recording.count({ where: { id: { in: [`${device}-second`, imported] } } })).toBe(0);
    expect(await prisma.recordingMessage.count({ where: { recordingId: imported } })).toBe(0);
    // The recording that could not be stopped is still recording, whole; stopping it works now.
    const stopped = await ok('mutation($id: ID!) { stopRecording(id: $id) { id expiresAt } }', {
      id: recording,
    });
    expect(stopped.stopRecording).toMatchObject({ id: recording, expiresAt: expect.any(String) });
    // And every path writes again.
    await ok('mutation($s: ID!) { publishStateEntries(stateId: $s, entries: [{ n: 1 }]) { accepted } }', {
      s: stateId,
    });
    await ok(
      'mutation($input: ImportRecordingInput!, $m: [RecordedMessageInput!]!) { importRecording(input: $input, messages: $m) { id } }',
      { input: { deviceId: device, id: imported }, m: exported(0, 3) },
    );
    expect(await prisma.stateEntry.count({ where: { stateId } })).toBe(2);
    expect(await prisma.recordingMessage.count({ where: { recordingId: imported } })).toBe(3);
  });
});
