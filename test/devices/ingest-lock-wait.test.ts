/**
 * An ingest that waits for its device's row lock must see what the lock holder committed: a
 * recording started meanwhile records the message. The sequence upsert and the check for an
 * active recording (and outbox) go to Postgres in one round trip, as two statements; the check
 * must take its snapshot after the upsert got the lock, not before (real Postgres, READ COMMITTED).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { monitorEvents, postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('monitor ingest that waits for the device row lock (Postgres)', () => {
  let server: TestApp;
  let admin: pg.Client;
  beforeAll(async () => {
    server = await startTestApp({ database: 'postgres' });
    admin = new pg.Client({ connectionString: server.config.database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  it('records the message in a recording committed while it waited', async () => {
    const device = uniqueDevice();
    expect((await postMonitor(server, device, monitorEvents(1))).status).toBe(200);

    // Another writer holds the device row and starts a recording (as startRecording does).
    await admin.query('BEGIN');
    await admin.query('SELECT 1 FROM "Device" WHERE "id" = $1 FOR UPDATE', [device]);
    await admin.query(
      `INSERT INTO "Recording" ("id", "deviceId", "retentionMs", "seamSeq", "bufferCopiedAt")
       VALUES ($1, $2, 3600000, 1, now())`,
      [`rec-${device}`, device],
    );
    const posting = postMonitor(server, device, monitorEvents(1, { from: 1 }));
    // The ingest is waiting for the lock before the recording commits.
    await waitUntil(
      async () => {
        const { rows } = await admin.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return (rows[0]?.waiting ?? 0) > 0;
      },
      10_000,
      'the ingest waiting for the device row lock',
    );
    await admin.query('COMMIT');

    expect(await posting).toEqual({ status: 200, body: { accepted: 1 } });
    const { rows } = await admin.query<{ seq: string }>(
      'SELECT "seq"::text AS seq FROM "RecordingMessage" WHERE "recordingId" = $1 ORDER BY "seq"',
      [`rec-${device}`],
    );
    expect(rows.map((row) => Number(row.seq))).toEqual([2]);
  });
});
