/**
 * Device telemetry throughput, in one run: HTTP monitor ingest (batches of 100 and of 1,000),
 * the same with a recording active (every message also written to Postgres in the request),
 * recording writes on their own, and replay at speed 0 over graphql-ws.
 *
 * It starts its own Postgres and NATS (scripts/services/*.sh) and runs a real streamgate in
 * this process twice: on NATS and on the memory broker, both on Postgres.
 *
 *   npm run bench -- ingest
 *   BENCH_BACKENDS=memory npm run bench -- ingest
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { insertRecordingMessages } from '../src/domain/devices/recording-store.ts';
import { buildApp } from '../src/server/app.ts';
import { type BenchServer, createDatabase, startServer } from './support/bench-servers.ts';

export interface IngestBenchResult {
  readonly backend: string;
  readonly name: string;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
}

/** Concurrent posters, each with its own device, as a fleet of devices would post. */
const POSTERS = 8;

function events(count: number, from: number): string {
  const start = Date.now();
  return JSON.stringify(
    Array.from({ length: count }, (_, index) => ({
      id: '',
      type: 'signal',
      symbol: 'demo.Counter',
      timestamp: new Date(start + index).toISOString(),
      data: { count: from + index, temperature: 21.5, label: 'bench' },
    })),
  );
}

function result(backend: string, name: string, messages: number, started: number): IngestBenchResult {
  const seconds = (performance.now() - started) / 1000;
  return { backend, name, messages, seconds, messagesPerSecond: messages / seconds };
}

/** Runs every case on one backend. */
async function runOn(broker: 'memory' | 'nats', postgres: BenchServer, nats: BenchServer | undefined) {
  const backend = `postgres + ${broker}`;
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    PORT: '0',
    DATABASE_URL: await createDatabase(postgres.url, `bench_${broker}_${Date.now().toString(36)}`),
    BROKER: broker,
    ...(nats ? { NATS_URL: nats.url } : {}),
  });
  const app = await buildApp(config);
  const { url } = await app.listen(0, '127.0.0.1');
  const run = `b${Date.now().toString(36)}`;
  const results: IngestBenchResult[] = [];
  try {
    const post = async (device: string, body: string) => {
      const response = await fetch(`${url}/monitor/${device}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (response.status !== 200)
        throw new Error(`monitor answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    };
    const ingest = async (name: string, batch: number, total: number, devices: string[]) => {
      const body = events(batch, 0);
      const perPoster = Math.ceil(total / batch / POSTERS);
      await post(devices[0] as string, events(1, 0)); // warm-up: JIT, pools, device rows
      const started = performance.now();
      await Promise.all(
        devices.map(async (device) => {
          for (let request = 0; request < perPoster; request++) await post(device, body);
        }),
      );
      results.push(result(backend, name, perPoster * batch * devices.length, started));
    };
    const fleet = (label: string) =>
      Array.from({ length: POSTERS }, (_, index) => `${run}-${label}-${index}`);

    // Warm-up, not reported: JIT, connection pools, device rows, the start-up work of the app.
    await ingest('warm-up', 100, 20_000, fleet('warm'));
    results.pop();
    await ingest('HTTP monitor ingest, batches of 100', 100, 50_000, fleet('b100'));
    await ingest('HTTP monitor ingest, batches of 1,000', 1_000, 100_000, fleet('b1000'));

    const recorded = fleet('rec');
    for (const device of recorded)
      await app.services.devices.startRecording({ tenantId: null }, { deviceId: device });
    await ingest('HTTP ingest, batches of 1,000, recording active', 1_000, 100_000, recorded);

    // Recording writes alone: the statement the ingest path and the buffer copy use.
    const target = await app.services.devices.startRecording(
      { tenantId: null },
      { deviceId: `${run}-writes` },
    );
    const rows = Array.from({ length: 1_000 }, (_, index) => ({
      seq: 0,
      time: { date: new Date(Date.now() + index) },
      eventId: `e${index}`,
      type: 'signal',
      symbol: 'demo.Counter',
      headers: { 'X-Monitor-Device': `${run}-writes` },
      data: { count: index, temperature: 21.5, label: 'bench' },
    }));
    const batches = 100;
    let started = performance.now();
    for (let batch = 0; batch < batches; batch++) {
      await insertRecordingMessages(
        app.services.db.prisma,
        target.id,
        rows.map((row, index) => ({ ...row, seq: batch * 1_000 + index + 1 })),
      );
    }
    results.push(
      result(backend, 'recording writes into the database, batches of 1,000', batches * 1_000, started),
    );

    // Replay at speed 0 of that recording, over a real graphql-ws connection.
    const client = createClient({
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      lazy: false,
    });
    let received = 0;
    started = performance.now();
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        {
          query:
            'subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress message { seq data } } }',
          variables: { id: target.id },
        },
        {
          next: () => {
            received += 1;
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    await client.dispose();
    results.push(result(backend, 'replay at speed 0 over graphql-ws', received, started));
  } finally {
    await app.stop();
  }
  return results;
}

/** Runs the cases on each backend and prints one line each. */
export async function runIngestBench(): Promise<IngestBenchResult[]> {
  const backends = (process.env.BENCH_BACKENDS ?? 'nats,memory')
    .split(',')
    .filter((name): name is 'memory' | 'nats' => name === 'memory' || name === 'nats');
  const postgres = startServer('postgres');
  const nats = backends.includes('nats') ? startServer('nats') : undefined;
  const results: IngestBenchResult[] = [];
  try {
    for (const broker of backends) results.push(...(await runOn(broker, postgres, nats)));
  } finally {
    nats?.stop();
    postgres.stop();
  }
  for (const line of results) {
    console.log(
      `devices | ${line.backend.padEnd(17)} | ${line.name.padEnd(52)} | ${line.messages.toLocaleString('en').padStart(8)} messages | ` +
        `${line.seconds.toFixed(2).padStart(6)} s | ${Math.round(line.messagesPerSecond).toLocaleString('en').padStart(8)} messages/s`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runIngestBench();
