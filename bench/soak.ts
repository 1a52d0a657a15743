/**
 * Memory under churn: a streamgate (JWT mode, memory broker, PGlite; `--postgres` for a
 * Postgres of its own) with a producer posting device telemetry, state entries and topic
 * messages, and 200 clients cycling connect → subscribe → receive a few events → unsubscribe →
 * disconnect over every transport (graphql-ws, SSE on /graphql, graphql-sse, legacy /ws/stream,
 * /ws/stream/{state} and /sse/stream). Prints, per minute, RSS, heap used and live heap (after a
 * forced full GC), cycles/s, errors and server CPU; at the end, the same after the clients have
 * gone, against the figures after warm-up. Printed only: the suite never asserts it.
 *
 *   npm run bench -- soak                               # 10 minutes after a 1-minute warm-up
 *   npx tsx bench/soak.ts --minutes 2 --clients 100     # a shorter run while iterating
 *   npx tsx bench/soak.ts --postgres --snapshots /tmp/soak   # Postgres; heap snapshots before/during/after
 *
 * The server runs `node --expose-gc --inspect=127.0.0.1:0` pinned to core 0; this client reads
 * memory through an inspector session (bench/support/inspector-session.ts): the server has no
 * debug route or handler. Each cycle uses a new user id (tokens signed here), so maps keyed by
 * user or connection show up as growth. Device windows and topic retention are set to 30 s so
 * retained messages reach their steady size during the warm-up (they are data, not leaks).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/streamgate-process.ts';
import { authEnv, signToken } from '../test/helpers/tokens.ts';
import { type BenchServer, createDatabase, startServer } from './support/bench-servers.ts';
import { formatHeapGrowth, heapGrowth, summarizeHeapSnapshot } from './support/heap-snapshot-summary.ts';
import {
  type InspectorSession,
  inspectorUrl,
  type MemoryUsage,
  openInspector,
} from './support/inspector-session.ts';
import { formatTable } from './support/latency-stats.ts';
import {
  CLIENT_CORE,
  pinThisProcess,
  SERVER_CORE,
  startPinned,
  stopAllPinned,
} from './support/pinned-process.ts';
import { cpuMicros, rssBytes } from './support/proc-stats.ts';
import {
  runSoakCycle,
  SOAK_TRANSPORTS,
  type SoakSubject,
  type SoakTransport,
} from './support/soak-clients.ts';

const TENANT = 'soak';
const TOPIC = 'soak.telemetry';
const DEVICES = ['soak-device-0', 'soak-device-1'];
const STATES = ['soakstate0', 'soakstate1'];
const PRODUCER_INTERVAL_MS = 250;
const EVENTS_PER_CYCLE = 3;
const CYCLE_TIMEOUT_MS = 15_000;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: process.env.SOAK_MINUTES ?? '10' },
    'warmup-minutes': { type: 'string', default: process.env.SOAK_WARMUP_MINUTES ?? '1' },
    clients: { type: 'string', default: process.env.SOAK_CLIENTS ?? '200' },
    postgres: { type: 'boolean', default: process.env.SOAK_DATABASE === 'postgres' },
    snapshots: { type: 'string', default: process.env.SOAK_SNAPSHOTS ?? '' },
    transports: { type: 'string', default: process.env.SOAK_TRANSPORTS ?? SOAK_TRANSPORTS.join(',') },
  },
});
const MINUTES = Number(args.minutes);
const WARMUP_MINUTES = Number(args['warmup-minutes']);
const CLIENTS = Number(args.clients);
const TRANSPORTS = args.transports.split(',').map((name) => name.trim()) as SoakTransport[];
for (const name of TRANSPORTS)
  if (!SOAK_TRANSPORTS.includes(name))
    throw new Error(`unknown transport ${name} (${SOAK_TRANSPORTS.join(', ')})`);
if (!(MINUTES > 0) || !(WARMUP_MINUTES >= 0) || !(CLIENTS > 0)) {
  process.stderr.write(
    'usage: soak.ts [--minutes N] [--warmup-minutes N] [--clients N] [--postgres] [--snapshots DIR]\n',
  );
  process.exit(2);
}

/** Counters of the load, read and reset once a minute. */
class SoakLoad {
  cycles = 0;
  errors = 0;
  /** Errors by transport and message (numbers blanked), to tell load from faults. */
  readonly errorKinds = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];
  private userSeq = 0;

  constructor(
    private readonly http: string,
    private readonly clients: number,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.clients }, (_, index) => this.loop(index));
  }

  /** Lets every client finish its cycle (so nothing is left connected) and stop. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  take(): { cycles: number; errors: number } {
    const taken = { cycles: this.cycles, errors: this.errors };
    this.cycles = 0;
    this.errors = 0;
    return taken;
  }

  private async loop(index: number): Promise<void> {
    const transport = TRANSPORTS[index % TRANSPORTS.length] as SoakTransport;
    for (let round = 0; this.running; round++) {
      const pick = (list: readonly string[]) => list[(index + round) % list.length] as string;
      const subjects: SoakSubject[] = [
        { kind: 'device', id: pick(DEVICES) },
        { kind: 'state', id: pick(STATES) },
        { kind: 'topic', id: TOPIC },
      ];
      const subject = subjects[round % subjects.length] as SoakSubject;
      try {
        // A new user each cycle: per-user structures must not outlive the user's last connection.
        const token = await signToken({
          sub: `soak-user-${this.userSeq++}`,
          tenantId: TENANT,
          expiresIn: '2h',
        });
        await runSoakCycle({
          transport,
          http: this.http,
          token,
          subject,
          state: pick(STATES),
          topic: TOPIC,
          events: EVENTS_PER_CYCLE,
          timeoutMs: CYCLE_TIMEOUT_MS,
        });
        this.cycles += 1;
      } catch (error) {
        this.errors += 1;
        const about = transport.startsWith('legacy') ? '' : ` (${subject.kind})`;
        const kind = `${transport}: ${(error as Error).message.replace(/\d+/g, 'N').slice(0, 160)}${about}`;
        this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
      }
      // A little jitter so 200 clients do not move in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
    }
  }
}

async function postOk(url: string, body: unknown, token: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"errors"'))
    throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`);
}

/** Posts telemetry to every device, an entry to every state and a topic message every 250 ms. */
function startProducer(
  http: string,
  token: string,
): { stop(): Promise<void>; errors(): number; ticks(): number } {
  let running = true;
  let errors = 0;
  let seq = 0;
  const tick = async () => {
    seq += 1;
    const data = { seq, temperature: 20 + (seq % 10), pad: 'x'.repeat(120) };
    const posts = [
      ...DEVICES.map((device) =>
        postOk(
          `${http}/monitor/${device}`,
          [{ id: '', type: 'signal', symbol: 'soak.Telemetry', data }],
          token,
        ),
      ),
      ...STATES.map((state) =>
        postOk(
          `${http}/graphql`,
          {
            query:
              'mutation($s: ID!, $e: [JSONObject!]!) { publishStateEntries(stateId: $s, entries: $e) { accepted } }',
            variables: { s: state, e: [data] },
          },
          token,
        ),
      ),
      postOk(`${http}/topics/${TOPIC}/messages`, [data], token),
    ];
    for (const result of await Promise.allSettled(posts)) if (result.status === 'rejected') errors += 1;
  };
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      await tick();
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, PRODUCER_INTERVAL_MS - (Date.now() - started))),
      );
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
    errors: () => errors,
    ticks: () => seq,
  };
}

interface MemoryRow {
  readonly label: string;
  readonly rss: number;
  readonly heapUsed: number;
  readonly liveHeap: number;
  readonly external: number;
  readonly cyclesPerSecond: number | undefined;
  readonly errors: number | undefined;
  readonly cpuPercent: number | undefined;
  readonly load: number;
  readonly producerTicksPerSecond: number | undefined;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function readMemory(
  pid: number,
  inspector: InspectorSession,
): Promise<{ rss: number; used: MemoryUsage; live: MemoryUsage }> {
  const used = await inspector.memoryUsage({ collect: false });
  const live = await inspector.memoryUsage({ collect: true });
  return { rss: rssBytes(pid), used, live };
}

/** /stats of the server: what an operator sees open (0 when every client has gone). */
async function openCounts(http: string, token: string): Promise<string> {
  const response = await fetch(`${http}/stats`, { headers: { authorization: `Bearer ${token}` } });
  const stats = (await response.json()) as {
    websocket?: { active_connections?: number };
    sse?: { active_connections?: number };
    graphql?: { active_subscriptions?: number };
  };
  return `websocket ${stats.websocket?.active_connections}, sse ${stats.sse?.active_connections}, subscriptions ${stats.graphql?.active_subscriptions}`;
}

async function waitForLive(http: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const response = await fetch(`${http}/livez`);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('streamgate did not answer /livez within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitForQuiet(http: string, token: string): Promise<string> {
  // Servers notice a closed SSE stream or socket a moment after the client: allow it a few seconds.
  let last = '';
  for (let attempt = 0; attempt < 50; attempt++) {
    last = await openCounts(http, token);
    if (/^websocket 0, sse 0, subscriptions 0$/.test(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return last;
}

export async function runSoak(): Promise<void> {
  pinThisProcess(CLIENT_CORE);
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-soak-'));
  const topicsFile = join(dir, 'topics.yaml');
  writeFileSync(topicsFile, `topics:\n  - name: ${TOPIC}\n    source: broker\n`);
  let postgres: BenchServer | undefined;
  let database: Record<string, string> = { PGLITE_DIR: join(dir, 'db') };
  if (args.postgres) {
    postgres = startServer('postgres');
    database = { DATABASE_URL: await createDatabase(postgres.url, `soak_${Date.now().toString(36)}`) };
  }
  const port = await freePort();
  const http = `http://127.0.0.1:${port}`;
  let inspector: InspectorSession | undefined;
  try {
    const { process: server } = await startPinned({
      core: SERVER_CORE,
      nodeArgs: ['--expose-gc', '--inspect=127.0.0.1:0', 'src/main.ts'],
      env: {
        ...authEnv(),
        ...database,
        LOG_LEVEL: 'warn',
        LOG_PRETTY: 'false',
        HOST: '127.0.0.1',
        PORT: String(port),
        GRAPHIQL: 'false',
        BROKER: 'memory',
        TOPICS_FILE: topicsFile,
        BUFFER_WINDOW_DEFAULT: '30s',
        TOPIC_RETENTION: '30s',
        MUTATION_RATE: '1000000',
        MUTATION_BURST: '1000000',
        MAX_WS_CONNECTIONS: '5000',
        MAX_SSE_CONNECTIONS: '5000',
        MAX_CONNECTIONS_PER_TENANT: '5000',
      },
      // The inspector prints first; start-up is over when /livez answers (the log stays at warn).
      ready: /Debugger listening on ws:\S+/,
    });
    const pid = server.pid;
    await waitForLive(http);
    inspector = await openInspector(inspectorUrl(server.output()));
    const producerToken = await signToken({
      sub: 'soak-producer',
      tenantId: TENANT,
      roles: ['writer', 'publisher'],
      expiresIn: '4h',
    });
    for (const state of STATES)
      await postOk(
        `${http}/graphql`,
        { query: 'mutation($id: ID!) { createState(input: { id: $id }) { id } }', variables: { id: state } },
        producerToken,
      );
    const producer = startProducer(http, producerToken);
    const load = new SoakLoad(http, CLIENTS);
    const rows: MemoryRow[] = [];
    const snapshots: string[] = [];
    const snapshot = async (name: string) => {
      if (!args.snapshots || !inspector) return;
      const file = join(args.snapshots, `soak-${name}.heapsnapshot`);
      await inspector.heapSnapshot(file);
      snapshots.push(file);
      console.log(`heap snapshot ${file}`);
    };
    let ticksMark = 0;
    const record = async (label: string, minuteMs: number | undefined) => {
      const counts = load.take();
      const memory = await readMemory(pid, inspector as InspectorSession);
      rows.push({
        label,
        rss: memory.rss,
        heapUsed: memory.used.heapUsed,
        liveHeap: memory.live.heapUsed,
        external: memory.live.external,
        cyclesPerSecond: minuteMs === undefined ? undefined : counts.cycles / (minuteMs / 1000),
        errors: minuteMs === undefined ? undefined : counts.errors,
        cpuPercent: minuteMs === undefined ? undefined : cpuPercentSince(pid, minuteMs),
        load: loadavg()[0] ?? 0,
        producerTicksPerSecond:
          minuteMs === undefined ? undefined : (producer.ticks() - ticksMark) / (minuteMs / 1000),
      });
      ticksMark = producer.ticks();
      const row = rows.at(-1) as MemoryRow;
      console.log(
        `${label.padEnd(12)} RSS ${mb(row.rss)} MB, heap used ${mb(row.heapUsed)} MB, live heap ${mb(row.liveHeap)} MB` +
          (row.cyclesPerSecond === undefined
            ? ''
            : `, ${row.cyclesPerSecond.toFixed(1)} cycles/s, ${row.errors} errors, ` +
              `producer ${row.producerTicksPerSecond?.toFixed(1)} rounds/s, server cpu ${row.cpuPercent?.toFixed(0)} %`) +
          `, load ${row.load.toFixed(1)}`,
      );
    };
    let cpuMark = cpuMicros(pid);
    const cpuPercentSince = (serverPid: number, windowMs: number) => {
      const now = cpuMicros(serverPid);
      const percent = ((now - cpuMark) / 1000 / windowMs) * 100;
      cpuMark = now;
      return percent;
    };
    console.log(
      `soak: ${CLIENTS} clients over ${TRANSPORTS.join(', ')}; ${WARMUP_MINUTES} min warm-up, ${MINUTES} min soak; ` +
        `${args.postgres ? 'Postgres' : 'PGlite'}, memory broker, JWT; server pid ${pid} on core ${SERVER_CORE}`,
    );

    // Warm-up: the same churn, so compiled code, pools and retained windows reach their size.
    load.start();
    await sleepMinutes(WARMUP_MINUTES);
    await load.stop();
    const quietAtStart = await waitForQuiet(http, producerToken);
    load.take();
    cpuMark = cpuMicros(pid);
    await record('start', undefined);
    console.log(`  open after warm-up: ${quietAtStart}`);
    await snapshot('before');

    load.start();
    for (let minute = 1; minute <= MINUTES; minute++) {
      const started = Date.now();
      await sleepMinutes(1);
      await record(`minute ${minute}`, Date.now() - started);
      if (minute === Math.ceil(MINUTES / 2)) await snapshot('during');
    }
    await load.stop();
    const quietAtEnd = await waitForQuiet(http, producerToken);
    load.take();
    await record('end', undefined);
    console.log(`  open after the soak: ${quietAtEnd}`);
    await snapshot('after');
    await producer.stop();

    const start = rows[0] as MemoryRow;
    const end = rows.at(-1) as MemoryRow;
    const change = (after: number, before: number) => `${(((after - before) / before) * 100).toFixed(1)} %`;
    console.log(
      `\nsoak (${CLIENTS} clients, ${MINUTES} min, ${args.postgres ? 'Postgres' : 'PGlite'}, memory broker, JWT); ` +
        'live heap = heapUsed after a forced full GC; cpu = server CPU time / wall time of the minute',
    );
    console.log(
      formatTable(
        [
          'when',
          'RSS MB',
          'heap used MB',
          'live heap MB',
          'external MB',
          'cycles/s',
          'errors',
          'producer rounds/s',
          'server cpu %',
          'load avg',
        ],
        rows.map((row) => [
          row.label,
          mb(row.rss),
          mb(row.heapUsed),
          mb(row.liveHeap),
          mb(row.external),
          row.cyclesPerSecond === undefined ? '' : row.cyclesPerSecond.toFixed(1),
          row.errors === undefined ? '' : String(row.errors),
          row.producerTicksPerSecond === undefined ? '' : row.producerTicksPerSecond.toFixed(1),
          row.cpuPercent === undefined ? '' : row.cpuPercent.toFixed(0),
          row.load.toFixed(1),
        ]),
      ),
    );
    const cycles = rows.reduce((sum, row) => sum + (row.cyclesPerSecond ?? 0) * 60, 0);
    console.log(
      `end vs start: RSS ${change(end.rss, start.rss)}, live heap ${change(end.liveHeap, start.liveHeap)} (target within 10 %); ` +
        `≈ ${Math.round(cycles).toLocaleString('en')} cycles, producer errors ${producer.errors()}`,
    );
    for (const [kind, count] of [...load.errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`  ${count} × ${kind}`);
    if (snapshots.length >= 2) {
      console.log(`\nheap growth by constructor, ${snapshots[0]} → ${snapshots.at(-1)}:`);
      console.log(
        formatHeapGrowth(
          heapGrowth(
            summarizeHeapSnapshot(snapshots[0] as string),
            summarizeHeapSnapshot(snapshots.at(-1) as string),
          ),
          30,
        ),
      );
    }
  } catch (error) {
    process.stderr.write(`soak failed: ${(error as Error).stack}\n`);
    process.exitCode = 1;
  } finally {
    inspector?.close();
    await stopAllPinned();
    postgres?.stop();
  }
}

function sleepMinutes(minutes: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
}

if (import.meta.url === `file://${process.argv[1]}`) await runSoak();
