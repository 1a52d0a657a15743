/**
 * Device telemetry and topic publish throughput, with the server's CPU cost per unit of work.
 *
 * A real streamgate runs in its own process (`src/main.ts`, pinned to one core; this client runs
 * on the other) on its own Postgres (or PGlite) and broker, started by this benchmark. Per backend:
 * - HTTP monitor ingest from 8 devices posting concurrently, batches of 100 and of 1,000;
 * - the same with a recording active on each device;
 * - 8 posters to ONE device with a recording active (the recording replayed below);
 * - replay of that recording at speed 0 over one graphql-ws connection;
 * - topic `publish` (one per request, and batched) against a trivial authenticated query and
 *   `{ health }`.
 * Per database: recording writes (the ingest path's statement, batches of 1,000).
 * Baselines in the same run, written the obvious way from this process: ingest with one
 * transaction, one insert and one awaited publish per message; recording with one insert per row.
 * Every rate comes with CPU µs per unit: the server's from /proc/PID/stat, the baselines' from
 * this process (they run here).
 *
 *   npm run bench -- ingest
 *   BENCH_BACKENDS=memory,pglite npm run bench -- ingest      (memory|nats|redis|kafka|pglite)
 *   BENCH_PROFILE_DIR=/tmp/prof BENCH_ONLY=replay npm run bench -- ingest   (V8 profile of the
 *   server, one case; then npx tsx bench/support/profile-summary.ts /tmp/prof replay 40)
 *   BENCH_ONLY=replay BENCH_REPLAY_ROUNDS=5 npm run bench -- ingest   (the recording replayed 5
 *   times one after the other in the measured window: a longer window, steadier figures)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/config.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { pgliteSql, pgSql, type SqlClient } from '../src/db/sql-client.ts';
import { insertRecordingMessages, type MessageToRecord } from '../src/domain/devices/recording-store.ts';
import { monitorHeaders, monitorTimeOf } from '../src/formats/monitor-message.ts';
import { PrismaClient } from '../src/generated/prisma/client.ts';
import type { Broker } from '../src/pubsub/broker.ts';
import { createKafkaBroker } from '../src/pubsub/kafka/kafka-broker.ts';
import { createMemoryBroker } from '../src/pubsub/memory/memory-broker.ts';
import { createNatsBroker } from '../src/pubsub/nats/nats-broker.ts';
import { createRedisBroker } from '../src/pubsub/redis/redis-broker.ts';
import { type BenchServer, createDatabase, type ServerName, startServer } from './support/bench-servers.ts';
import { formatTable } from './support/latency-stats.ts';
import {
  CLIENT_CORE,
  pinThisProcess,
  type StreamgateProcess,
  startStreamgateProcess,
  stopAllPinned,
} from './support/pinned-process.ts';
import { cpuMicros, mainThreadSchedMicros } from './support/proc-stats.ts';

type BackendName = 'memory' | 'nats' | 'redis' | 'kafka' | 'pglite';

export interface IngestBenchResult {
  readonly backend: string;
  readonly name: string;
  readonly units: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** CPU µs per unit: the server's, or this process's for a baseline. */
  readonly cpuMicrosPerUnit: number;
  /** The broker server's CPU µs per unit (nats-server, redis-server), where measured. */
  readonly brokerCpuMicrosPerUnit: number | undefined;
  /** The machine's 1-minute load average as the case ended. */
  readonly load: number;
  /**
   * Shares of the wall time the server's main thread spent on a CPU and runnable but waiting
   * for one (mainThreadSchedMicros), where measured; the rest it waited for I/O.
   */
  readonly serverThread: { readonly onCpu: number; readonly waitingForCpu: number } | undefined;
}

/** Concurrent posters, each with its own device, as a fleet of devices would post. */
const POSTERS = 8;
const JWT_SECRET = 'streamgate-bench-secret-0123456789abcdef-xyz';
const TOPIC = 'bench.ticks';
const scale = Number(process.env.BENCH_SCALE ?? 1);
/** Replays of the recording, one after the other, in the replay case's measured window. */
const replayRounds = Math.max(1, Math.floor(Number(process.env.BENCH_REPLAY_ROUNDS ?? 1)));

function events(count: number): string {
  const start = Date.now();
  return JSON.stringify(
    Array.from({ length: count }, (_, index) => ({
      id: '',
      type: 'signal',
      symbol: 'demo.Counter',
      timestamp: new Date(start + index).toISOString(),
      data: { count: index, temperature: 21.5, label: 'bench' },
    })),
  );
}

/** Measured windows (monotonic µs, the clock of V8 profiles) for bench/support/profile-summary.ts. */
const profileWindows: Array<{ name: string; startMicros: number; endMicros: number }> = [];
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** Runs `work` and measures wall time and the CPU time of `cpu` (µs) around it. */
async function measure(
  backend: string,
  name: string,
  cpu: () => number,
  work: () => Promise<number>,
  brokerCpu?: () => number,
  serverPid?: number,
): Promise<IngestBenchResult | undefined> {
  // BENCH_ONLY=text runs only the cases whose name contains it (for profiling one case).
  if (process.env.BENCH_ONLY && !name.includes(process.env.BENCH_ONLY)) return undefined;
  const brokerBefore = brokerCpu?.();
  const schedBefore = serverPid === undefined ? undefined : mainThreadSchedMicros(serverPid);
  const clientBefore = selfCpuMicros();
  const cpuBefore = cpu();
  const startMicros = monotonicMicros();
  const started = performance.now();
  const units = await work();
  const seconds = (performance.now() - started) / 1000;
  const cpuMicros = cpu() - cpuBefore;
  const brokerMicros = brokerCpu && brokerBefore !== undefined ? brokerCpu() - brokerBefore : undefined;
  const schedAfter = serverPid === undefined ? undefined : mainThreadSchedMicros(serverPid);
  const wallMicros = seconds * 1_000_000;
  const serverThread =
    schedBefore && schedAfter
      ? {
          onCpu: (schedAfter.onCpu - schedBefore.onCpu) / wallMicros,
          waitingForCpu: (schedAfter.waitingForCpu - schedBefore.waitingForCpu) / wallMicros,
        }
      : undefined;
  profileWindows.push({ name: `${backend} | ${name}`, startMicros, endMicros: monotonicMicros() });
  const result = {
    backend,
    name,
    units,
    seconds,
    perSecond: units / seconds,
    cpuMicrosPerUnit: cpuMicros / units,
    brokerCpuMicrosPerUnit: brokerMicros === undefined ? undefined : brokerMicros / units,
    load: os.loadavg()[0] ?? 0,
    serverThread,
  };
  const brokerText =
    result.brokerCpuMicrosPerUnit === undefined
      ? ''
      : `, broker ${result.brokerCpuMicrosPerUnit.toFixed(1)} µs`;
  // The load client's own CPU (this process), beside the server's: what the whole pipeline costs.
  const clientText =
    serverPid === undefined ? '' : `, client ${((selfCpuMicros() - clientBefore) / units).toFixed(1)} µs`;
  const threadText = serverThread
    ? `${clientText}, main thread on a CPU ${percent(serverThread.onCpu)} / waiting for one ${percent(serverThread.waitingForCpu)} of the time`
    : '';
  process.stdout.write(
    `  ${backend} | ${name}: ${Math.round(result.perSecond).toLocaleString('en')}/s, ${result.cpuMicrosPerUnit.toFixed(1)} µs CPU/unit${brokerText}, load ${result.load.toFixed(1)}${threadText}\n`,
  );
  return result;
}

const percent = (share: number) => `${Math.round(share * 100)} %`;

const selfCpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

function token(): Promise<string> {
  return new SignJWT({ roles: ['writer', 'publisher'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

interface Client {
  readonly url: string;
  readonly token: string;
  post(path: string, body: string, contentType?: string): Promise<unknown>;
  graphql(query: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function httpClient(url: string, bearer: string): Client {
  const post = async (path: string, body: string, contentType = 'application/json') => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${bearer}` },
      body,
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url,
    token: bearer,
    post,
    async graphql(query, variables = {}) {
      const answer = (await post('/graphql', JSON.stringify({ query, variables }))) as {
        data?: Record<string, unknown>;
        errors?: unknown[];
      };
      if (answer.errors) throw new Error(JSON.stringify(answer.errors));
      return answer.data ?? {};
    },
  };
}

/** `total` events in batches of `batch` from one poster per device, concurrently; returns events sent. */
async function postConcurrently(client: Client, devices: readonly string[], batch: number, total: number) {
  const body = events(batch);
  const perPoster = Math.max(1, Math.ceil(total / batch / devices.length));
  await Promise.all(
    devices.map(async (device) => {
      for (let request = 0; request < perPoster; request++) await client.post(`/monitor/${device}`, body);
    }),
  );
  return perPoster * batch * devices.length;
}

/** `count` requests of `send`, `concurrency` at a time. */
async function repeat(count: number, concurrency: number, send: () => Promise<unknown>): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        await send();
      }
    }),
  );
  return count;
}

async function replayOverWs(client: Client, recordingId: string): Promise<number> {
  const ws = createClient({
    url: `${client.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${client.token}` },
    lazy: false,
  });
  let received = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      ws.subscribe(
        {
          query:
            'subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress message { seq data } } }',
          variables: { id: recordingId },
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
  } finally {
    await ws.dispose();
  }
  return received;
}

interface BackendSetup {
  readonly name: BackendName;
  readonly label: string;
  readonly env: Record<string, string>;
  /** A broker client of this process, for the baseline. */
  openBroker(): Promise<Broker>;
  /** The broker server's process, when it has one of its own. */
  readonly brokerPid?: number;
}

const START_RECORDING = `mutation($d: ID!) { startRecording(deviceId: $d, includeBuffer: false) { id } }`;

/** Every server-side case on one backend. */
async function serverCases(setup: BackendSetup, server: StreamgateProcess): Promise<IngestBenchResult[]> {
  const client = httpClient(server.url, await token());
  const run = `b${Date.now().toString(36)}`;
  const fleet = (label: string) => Array.from({ length: POSTERS }, (_, index) => `${run}-${label}-${index}`);
  const cpu = () => server.cpuMicros();
  const brokerPid = setup.brokerPid;
  const brokerCpu = brokerPid === undefined ? undefined : () => cpuMicros(brokerPid);
  const results: Array<IngestBenchResult | undefined> = [];
  const label = setup.label;
  const timed = (name: string, work: () => Promise<number>) =>
    measure(label, name, cpu, work, brokerCpu, server.process.pid);

  // Warm-up, not reported: JIT, connection pools, the start-up work of the app.
  await postConcurrently(client, fleet('warm'), 100, 10_000 * scale);
  await repeat(200, 8, () =>
    client.graphql(`mutation($m: JSON!) { publish(topic: "${TOPIC}", data: $m) { accepted } }`, {
      m: { w: 1 },
    }),
  );

  results.push(
    await timed('HTTP ingest, batches of 100, 8 devices', () =>
      postConcurrently(client, fleet('b100'), 100, 20_000 * scale),
    ),
  );
  results.push(
    await timed('HTTP ingest, batches of 1,000, 8 devices', () =>
      postConcurrently(client, fleet('b1000'), 1_000, 48_000 * scale),
    ),
  );
  const recorded = fleet('rec');
  for (const device of recorded) await client.graphql(START_RECORDING, { d: device });
  results.push(
    await timed('HTTP ingest, batches of 1,000, 8 devices, recording', () =>
      postConcurrently(client, recorded, 1_000, 48_000 * scale),
    ),
  );
  const one = `${run}-one`;
  const started = (await client.graphql(START_RECORDING, { d: one })) as { startRecording: { id: string } };
  const recordOne = () => postConcurrently(client, Array(POSTERS).fill(one), 1_000, 48_000 * scale);
  const onePosted = await timed('HTTP ingest, batches of 1,000, 8 posters → 1 device, recording', recordOne);
  // The replay below needs the recording even when BENCH_ONLY skipped its measured making.
  if (onePosted) results.push(onePosted);
  else await recordOne();
  results.push(
    await timed('replay at speed 0 over graphql-ws (messages)', async () => {
      let received = 0;
      const clientBefore = selfCpuMicros();
      for (let round = 0; round < replayRounds; round++)
        received += await replayOverWs(client, started.startRecording.id);
      // The one client's cost per message bounds the rate as much as the server's does.
      const clientMicros = (selfCpuMicros() - clientBefore) / Math.max(1, received);
      process.stdout.write(
        `  ${label} | replay: the graphql-ws client used ${clientMicros.toFixed(1)} µs CPU/message\n`,
      );
      return received;
    }),
  );

  const requests = Math.round(2_000 * scale);
  results.push(
    await timed('trivial authenticated query { viewer { userId } }', () =>
      repeat(requests, 8, () => client.graphql('{ viewer { userId } }')),
    ),
  );
  results.push(
    await timed('{ health { status } }', () =>
      repeat(requests, 8, () => client.graphql('{ health { status } }')),
    ),
  );
  results.push(
    await timed('publish, one message per request', () =>
      repeat(requests, 8, () =>
        client.graphql(`mutation($m: JSON!) { publish(topic: "${TOPIC}", data: $m) { accepted } }`, {
          m: { price: 101.5, symbol: 'ABC' },
        }),
      ),
    ),
  );
  const batchBody = JSON.stringify(
    Array.from({ length: 1_000 }, (_, index) => ({ price: index, symbol: 'ABC' })),
  );
  try {
    results.push(
      await timed('publish, batches of 1,000 over HTTP (messages)', async () => {
        await repeat(Math.round(48 * scale), 8, () => client.post(`/topics/${TOPIC}/messages`, batchBody));
        return Math.round(48 * scale) * 1_000;
      }),
    );
  } catch (error) {
    process.stdout.write(`  ${label} | batched publish failed: ${String(error).slice(0, 200)}\n`);
  }
  return results.filter((result) => result !== undefined);
}

/**
 * The obvious way, from this process against the same database and broker: per message one
 * transaction that takes the next sequence and inserts the recording row, then one awaited publish.
 */
async function ingestBaseline(
  setup: BackendSetup,
  prisma: PrismaClient,
  recordingDevice: string,
): Promise<IngestBenchResult | undefined> {
  const broker = await setup.openBroker();
  try {
    await prisma.device.create({
      data: { id: recordingDevice, firstSeenAt: new Date(), lastSeenAt: new Date() },
    });
    const recordingId = `rec_${randomUUID()}`;
    await prisma.recording.create({
      data: { id: recordingId, deviceId: recordingDevice, startedAt: new Date(), retentionMs: 60_000 },
    });
    await broker.retain(`monitor.${recordingDevice}`, { maxAgeMs: 60_000 });
    const total = Math.round(1_000 * scale);
    return await measure(
      setup.label,
      'baseline ingest: per message 1 tx + 1 insert + 1 awaited publish',
      selfCpuMicros,
      async () => {
        await repeat(total, POSTERS, async () => {
          const time = monitorTimeOf(new Date());
          const message = await prisma.$transaction(async (tx) => {
            const [row] = await tx.$queryRaw<Array<{ lastSeq: bigint }>>`
            UPDATE "Device" SET "lastSeq" = "lastSeq" + 1, "messageCount" = "messageCount" + 1
            WHERE "id" = ${recordingDevice} RETURNING "lastSeq"`;
            const seq = Number(row?.lastSeq);
            const headers = monitorHeaders(
              recordingDevice,
              { id: '', type: 'signal', symbol: 'demo.Counter' },
              time,
              seq,
            );
            const data = { count: seq, temperature: 21.5, label: 'bench' };
            await tx.recordingMessage.create({
              data: {
                recordingId,
                seq,
                timestamp: time.date,
                type: 'signal',
                symbol: 'demo.Counter',
                headers,
                data,
              },
            });
            return { headers, data };
          });
          await broker.publish(`monitor.${recordingDevice}`, Buffer.from(JSON.stringify(message.data)), {
            headers: message.headers,
          });
        });
        return total;
      },
    );
  } finally {
    await broker.close();
  }
}

/** Recording writes alone, batched (the ingest path's statement) and one insert per row. */
async function recordingCases(
  label: string,
  prisma: PrismaClient,
  sql: SqlClient,
  run: string,
): Promise<IngestBenchResult[]> {
  const deviceId = `${run}-writes`;
  await prisma.device.create({ data: { id: deviceId, firstSeenAt: new Date(), lastSeenAt: new Date() } });
  const recording = async () => {
    const id = `rec_${randomUUID()}`;
    await prisma.recording.create({ data: { id, deviceId, startedAt: new Date(), retentionMs: 60_000 } });
    return { tenantId: null, id }; // the default tenant's
  };
  const rows = (from: number, count: number): MessageToRecord[] =>
    Array.from({ length: count }, (_, index) => ({
      seq: from + index,
      time: { date: new Date(Date.now() + index) },
      eventId: `e${from + index}`,
      type: 'signal',
      symbol: 'demo.Counter',
      headers: { 'X-Monitor-Device': deviceId, 'X-Monitor-Seq': String(from + index) },
      data: { count: index, temperature: 21.5, label: 'bench' },
    }));
  const results: Array<IngestBenchResult | undefined> = [];
  const batched = await recording();
  const batches = Math.round(50 * scale);
  results.push(
    await measure(
      label,
      'recording writes, batches of 1,000, the ingest statement (rows)',
      selfCpuMicros,
      async () => {
        for (let batch = 0; batch < batches; batch++)
          await insertRecordingMessages(sql, batched, rows(batch * 1_000 + 1, 1_000));
        return batches * 1_000;
      },
    ),
  );
  const single = await recording();
  const singles = Math.round(1_000 * scale);
  results.push(
    await measure(label, 'baseline recording writes: one insert per row (rows)', selfCpuMicros, async () => {
      for (const row of rows(1, singles)) {
        await prisma.recordingMessage.create({
          data: {
            recordingId: single.id,
            seq: row.seq,
            timestamp: row.time.date,
            eventId: row.eventId,
            type: row.type,
            symbol: row.symbol,
            headers: row.headers,
            data: row.data as object,
          },
        });
      }
      return singles;
    }),
  );
  return results.filter((result) => result !== undefined);
}

function setupOf(name: BackendName, servers: Partial<Record<ServerName, BenchServer>>): BackendSetup {
  const url = (server: ServerName) => servers[server]?.url as string;
  const timeouts = { connectTimeoutMs: 10_000, reconnectMaxWaitMs: 5_000 };
  switch (name) {
    case 'memory':
    case 'pglite':
      return {
        name,
        label: name === 'memory' ? 'postgres + memory' : 'pglite + memory',
        env: { BROKER: 'memory' },
        openBroker: async () => createMemoryBroker(),
      };
    case 'nats':
      return {
        name,
        label: 'postgres + nats',
        brokerPid: servers.nats?.pid,
        env: { BROKER: 'nats', NATS_URL: url('nats') },
        openBroker: () => createNatsBroker({ url: url('nats'), name: 'bench-baseline', ...timeouts }),
      };
    case 'redis':
      return {
        name,
        label: 'postgres + redis',
        brokerPid: servers.redis?.pid,
        env: { BROKER: 'redis', REDIS_URL: url('redis') },
        openBroker: () => createRedisBroker({ url: url('redis'), name: 'bench-baseline', ...timeouts }),
      };
    case 'kafka':
      return {
        name,
        label: 'postgres + kafka',
        brokerPid: servers.kafka?.pid,
        env: { BROKER: 'kafka', KAFKA_BROKERS: url('kafka') },
        openBroker: () =>
          createKafkaBroker({
            brokers: [url('kafka')],
            clientId: 'bench-baseline',
            // The defaults of the KAFKA_* settings, as the server has them in this benchmark.
            kafka: loadConfig({}).broker.kafka,
            groupPrefix: 'bench-baseline',
            ...timeouts,
          }),
      };
  }
}

/** One backend: its server process, the server cases, the baselines, recording writes. */
async function runBackend(
  setup: BackendSetup,
  postgres: BenchServer | undefined,
  recordingDone: Set<string>,
): Promise<IngestBenchResult[]> {
  const run = `b${Date.now().toString(36)}${setup.name}`;
  const dbEnv: Record<string, string> = {};
  let prisma: PrismaClient | undefined;
  let closeDb = async () => {};
  if (setup.name === 'pglite') {
    dbEnv.PGLITE_DIR = mkdtempSync(join(os.tmpdir(), 'streamgate-bench-pglite-'));
  } else {
    dbEnv.DATABASE_URL = await createDatabase(postgres?.url as string, `bench_${run}`);
  }
  const topicsFile = join(mkdtempSync(join(os.tmpdir(), 'streamgate-bench-topics-')), 'topics.yaml');
  writeFileSync(topicsFile, `topics:\n  - name: ${TOPIC}\n    source: broker\n`);
  process.stdout.write(`${setup.label}: starting streamgate…\n`);
  const server = await startStreamgateProcess({
    ...setup.env,
    ...dbEnv,
    JWT_SECRET,
    TOPICS_FILE: topicsFile,
    MUTATION_RATE: '1000000',
    MUTATION_BURST: '1000000',
    MESSAGE_RATE: '1000000',
    MESSAGE_BURST: '1000000',
    TOPIC_PUBLISHER_ROLES: 'publisher',
  });
  const results: IngestBenchResult[] = [];
  try {
    results.push(...(await serverCases(setup, server)));
  } finally {
    await server.stop();
  }
  // The baselines run from this process, on the same database and broker, with the server gone.
  // The ingest path's SqlClient: COPY on pg, the multi-row INSERT on PGlite.
  let sql: SqlClient;
  if (setup.name === 'pglite') {
    const pglite = await PGlite.create(dbEnv.PGLITE_DIR as string);
    await applyMigrations(pglite, { advisoryLock: false });
    sql = pgliteSql(pglite);
    prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    closeDb = async () => {
      await prisma?.$disconnect();
      await pglite.close();
    };
  } else {
    const pool = new pg.Pool({ connectionString: dbEnv.DATABASE_URL, max: 10 });
    sql = pgSql(pool);
    prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    closeDb = async () => {
      await prisma?.$disconnect();
      await pool.end();
    };
  }
  try {
    const baseline = await ingestBaseline(setup, prisma, `${run}-baseline`);
    if (baseline) results.push(baseline);
    const database = setup.name === 'pglite' ? 'pglite' : 'postgres';
    if (!recordingDone.has(database)) {
      recordingDone.add(database);
      results.push(...(await recordingCases(database, prisma, sql, run)));
    }
  } finally {
    await closeDb();
  }
  return results;
}

/** Runs the cases on each backend and prints one table. */
export async function runIngestBench(): Promise<IngestBenchResult[]> {
  const backends = (process.env.BENCH_BACKENDS ?? 'memory,pglite,nats,redis,kafka')
    .split(',')
    .map((name) => name.trim())
    .filter((name): name is BackendName => ['memory', 'nats', 'redis', 'kafka', 'pglite'].includes(name));
  const servers: Partial<Record<ServerName, BenchServer>> = {};
  const results: IngestBenchResult[] = [];
  const recordingDone = new Set<string>();
  try {
    if (backends.some((name) => name !== 'pglite')) servers.postgres = startServer('postgres');
    for (const name of backends) {
      if (name === 'nats' || name === 'redis' || name === 'kafka') servers[name] = startServer(name);
      try {
        results.push(...(await runBackend(setupOf(name, servers), servers.postgres, recordingDone)));
      } finally {
        if (name === 'nats' || name === 'redis' || name === 'kafka') {
          servers[name]?.stop();
          delete servers[name];
        }
      }
    }
  } finally {
    for (const server of Object.values(servers)) server?.stop();
  }
  if (process.env.BENCH_PROFILE_DIR) {
    writeFileSync(
      join(process.env.BENCH_PROFILE_DIR, 'windows.json'),
      `${JSON.stringify(profileWindows, null, 2)}\n`,
    );
  }
  process.stdout.write(
    `\nDevices and topics, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}\n\n`,
  );
  process.stdout.write(
    `${formatTable(
      [
        'backend',
        'case',
        'units',
        's',
        'units/s',
        'CPU µs/unit',
        'broker CPU µs/unit',
        'load',
        'main thread on a CPU / waiting for one',
      ],
      results.map((line) => [
        line.backend,
        line.name,
        line.units.toLocaleString('en'),
        line.seconds.toFixed(2),
        Math.round(line.perSecond).toLocaleString('en'),
        line.cpuMicrosPerUnit.toFixed(1),
        line.brokerCpuMicrosPerUnit?.toFixed(1) ?? '',
        line.load.toFixed(1),
        line.serverThread
          ? `${percent(line.serverThread.onCpu)} / ${percent(line.serverThread.waitingForCpu)}`
          : '',
      ]),
    )}\n`,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  pinThisProcess(CLIENT_CORE);
  try {
    await runIngestBench();
  } finally {
    await stopAllPinned();
  }
  process.exit(0);
}
