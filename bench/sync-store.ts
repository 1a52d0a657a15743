/**
 * The state sync store (docs/ism.md) under a producer at full rate: a plain NATS client
 * publishes N `query_state_direct` messages (one entry each, over 8 states) on the sync-store
 * subject as fast as it can; streamgate (NATS + Postgres, pinned to SERVER_CORE) persists them.
 * Prints stored messages/s (first publish to the last row in StateEntry) and server CPU µs per
 * stored message (/proc/PID/stat), and what the store dropped (SYNC_STORE_BUFFER full).
 *
 * Baseline in the same run: BENCH_BASELINE_DIR, another checkout (e.g. a worktree of the commit
 * before the batches), measured the same way on its own database, with BENCH_BASELINE_MESSAGES
 * (default 300: one message per transaction pair is slow).
 *
 *   BENCH_SYNC_MESSAGES=5000 BENCH_BASELINE_DIR=/tmp/old npx tsx bench/sync-store.ts
 */
import os from 'node:os';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { numberFromEnv } from './support/bench-env.ts';
import { createDatabase, startServer } from './support/bench-servers.ts';
import { formatTable } from './support/latency-stats.ts';
import {
  CLIENT_CORE,
  pinThisProcess,
  startStreamgateProcess,
  stopAllPinned,
} from './support/pinned-process.ts';

const SUBJECT = 'processor.state.sync-bench';
const STATES = 8;

interface Row {
  readonly label: string;
  readonly messages: number;
  readonly stored: number;
  readonly perSecond: number;
  readonly cpuMicrosPerMessage: number;
  readonly dropped: string;
}

async function measure(
  label: string,
  natsUrl: string,
  postgresUrl: string,
  database: string,
  messages: number,
  cwd: string | undefined,
): Promise<Row> {
  const databaseUrl = await createDatabase(postgresUrl, database);
  const server = await startStreamgateProcess(
    {
      BROKER: 'nats',
      NATS_URL: natsUrl,
      DATABASE_URL: databaseUrl,
      SYNC_STORE_SUBJECT: SUBJECT,
      SYNC_STORE_BUFFER: '256mb',
    },
    cwd === undefined ? {} : { cwd },
  );
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const nc = await connect({ servers: natsUrl });
  try {
    const stored = async () => Number((await db.query('SELECT count(*) AS n FROM "StateEntry"')).rows[0].n);
    const cpuBefore = server.cpuMicros();
    const started = performance.now();
    for (let index = 0; index < messages; index++) {
      nc.publish(
        SUBJECT,
        JSON.stringify({
          type: 'query_state_direct',
          state_id: `bench-${index % STATES}`,
          query_state: [{ index, value: index * 0.1, at: Date.now() }],
        }),
      );
      if (index % 500 === 499) await nc.flush();
    }
    await nc.flush();
    // Done when every message is stored, or nothing moved for 10 s (dropped or stuck).
    let count = 0;
    let lastChange = performance.now();
    for (;;) {
      const now = await stored();
      if (now !== count) lastChange = performance.now();
      count = now;
      if (count >= messages || performance.now() - lastChange > 10_000) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = server.cpuMicros() - cpuBefore;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const dropped = /ism_sync_store_messages_total\{result="dropped",reason="buffer_full"\} (\d+)/.exec(
      metrics,
    )?.[1];
    return {
      label,
      messages,
      stored: count,
      perSecond: count / seconds,
      cpuMicrosPerMessage: cpu / Math.max(count, 1),
      dropped: dropped ?? '0',
    };
  } finally {
    await nc.drain();
    await db.end();
    await server.stop();
  }
}

async function main(): Promise<void> {
  pinThisProcess(CLIENT_CORE);
  const messages = numberFromEnv('BENCH_SYNC_MESSAGES', 5_000);
  const baselineMessages = numberFromEnv('BENCH_BASELINE_MESSAGES', 300);
  const baselineDir = process.env.BENCH_BASELINE_DIR;
  const nats = startServer('nats');
  const postgres = startServer('postgres');
  const rows: Row[] = [];
  try {
    if (baselineDir) {
      rows.push(
        await measure('baseline', nats.url, postgres.url, 'sync_baseline', baselineMessages, baselineDir),
      );
    }
    rows.push(await measure('this checkout', nats.url, postgres.url, 'sync_batches', messages, undefined));
  } finally {
    await stopAllPinned();
    nats.stop();
    postgres.stop();
  }
  process.stdout.write(
    `\nSync store, NATS + Postgres, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}\n`,
  );
  process.stdout.write(
    `${formatTable(
      ['checkout', 'published', 'stored', 'stored msg/s', 'server CPU µs/msg', 'dropped'],
      rows.map((row) => [
        row.label,
        String(row.messages),
        String(row.stored),
        Math.round(row.perSecond).toLocaleString('en'),
        row.cpuMicrosPerMessage.toFixed(0),
        row.dropped,
      ]),
    )}\n`,
  );
}

await main();
