/**
 * Fan-out of one device to many graphql-ws subscribers, in one run, against three servers on
 * the same machine: (a) streamgate (src/main.ts as a real process: memory broker, its own
 * Postgres), (b) a stock graphql-yoga + graphql-ws + createPubSub server with a documented
 * `filter` (bench/support/stock-yoga-server.ts), (c) a bare `ws` server that serializes each
 * event once and sends it to every socket (bench/support/raw-ws-server.ts), the ceiling.
 *
 * Each server runs pinned to core 0 (`taskset`); this process (the publisher) pins itself to core 1,
 * and so does the load client that reads the subscribers: a Go process with GOMAXPROCS=1
 * (bench/support/go-load-client/, built on demand; one epoll loop, one read per ready socket), or
 * this process itself (bench/support/lean-ws-client.ts), whose event loop needs as much CPU to read
 * a message from 1,000 sockets as the raw ws ceiling needs to send it. The figure that matters is **server CPU µs per delivery**:
 * utime + stime of the server process (/proc/PID/stat) over the measured window divided by the
 * deliveries in it; it holds on a shared machine where wall-clock rates do not.
 *
 * Cases:
 *   fanout    1,000 subscribers of one device; 200-byte payloads published in batches (streamgate:
 *             `POST /monitor/{device}`, the baselines: an equivalent publish endpoint). Throughput:
 *             closed loop, one batch in flight. Latency: then one message per publish, paced at
 *             50 % of the maximum message rate measured that way (open loop; or at
 *             BENCH_LATENCY_RATE); p50/p99 publish-to-client, sampled on every 10th subscriber
 *             (bench/support/ws-subscribers.ts). A second table groups the samples by message
 *             (its sentAt): p50/p99 across messages of its first and its last sampled delivery,
 *             the messages with a sample over 20 ms, and each latency window's p99.
 *   filtered  1 and 1,000 subscribers of one topic, each with a different `equals` filter on the
 *             data's `key`; each message matches exactly one subscriber. Server CPU per message.
 *
 *   npm run bench -- fanout
 *   BENCH_TARGETS=streamgate BENCH_CASES=fanout BENCH_PROFILE_DIR=/tmp/prof npm run bench -- fanout
 *
 * Knobs: BENCH_SUBSCRIBERS (1000), BENCH_BATCH (10 messages per publish), BENCH_SECONDS (6, per
 * throughput window), BENCH_LATENCY_SECONDS (4), BENCH_LATENCY_BATCH (1; messages per publish in
 * the latency run), BENCH_LATENCY_SAMPLE_EVERY (10; every how many subscribers take latency
 * samples, all of them count deliveries), BENCH_LATENCY_RATE (unset: each server's latency run
 * at 50 % of its own measured maximum; a number of messages/s paces every server at that rate,
 * to compare servers at one rate), BENCH_LATENCY_WINDOWS (1; latency windows back to back on the
 * same subscribers, each one's p99 printed, and how many were under 20 ms), BENCH_TARGETS (streamgate,streamgate-sse,streamgate-topic,
 * streamgate-legacy-ws,streamgate-legacy-sse,stock,raw; the streamgate-* ones run the fan-out case
 * only: GraphQL over SSE on the device; graphql-ws, the legacy /ws/stream and the legacy
 * /sse/stream on one broker topic fed by POST /topics/{topic}/messages; NAME@DIR runs the
 * streamgate of another checkout, e.g. the commit before a change, in the same run),
 * BENCH_CASES (fanout,filtered), BENCH_PROFILE_DIR (every server runs under `node --cpu-prof`;
 * the measured windows, "<row> fanout" and "<row> latency" among them, are written beside the
 * profiles for bench/support/profile-summary.ts),
 * BENCH_STREAMGATE_DIR (run the streamgate of another checkout, e.g. a branch's worktree),
 * BENCH_CLIENT (go when a `go` binary is on PATH or in /usr/local/go/bin, else node: which load
 * client reads the WebSocket subscribers; SSE ones are always read by node; the table's header
 * names it, and its "client CPU" is this process's plus the Go process's).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { listFromEnv, numberFromEnv } from './support/bench-env.ts';
import { type BenchServer, startServer } from './support/bench-servers.ts';
import { type BenchTarget, benchEvents, startTarget } from './support/bench-targets.ts';
import { formatTable, type MessageBreakdown, messageBreakdown, percentile } from './support/latency-stats.ts';
import { chooseLoadClient, type LoadClient, openLoadClientSubscribers } from './support/load-client.ts';
import { CLIENT_CORE, pinThisProcess, SERVER_CORE, stopAllPinned } from './support/pinned-process.ts';
import { cpuWindow } from './support/proc-stats.ts';
import {
  closeSubscribers,
  DEFAULT_SAMPLE_EVERY,
  DeliveryTracker,
  type LatencySample,
  type Subscriber,
  waitUntilLive,
} from './support/ws-subscribers.ts';

const DEVICE = 'bench-fanout-device';
const DELIVERY_TIMEOUT_MS = 120_000;
/** Batches a measured window holds at least, however long they take on a busy machine. */
const MIN_BATCHES = 3;

const SUBSCRIBERS = numberFromEnv('BENCH_SUBSCRIBERS', 1_000);
const BATCH = numberFromEnv('BENCH_BATCH', 10);
const SECONDS = numberFromEnv('BENCH_SECONDS', 6);
const LATENCY_SECONDS = numberFromEnv('BENCH_LATENCY_SECONDS', 4);
/**
 * Messages per publish in the latency run: one, as a device reports an event when it happens
 * (the throughput windows batch to measure CPU per delivery). Every delivery of a batch carries
 * the batch's publish time, so a batch's p99 includes writing the whole batch to every subscriber
 * (10,000 frames for 10 messages × 1,000): BENCH_LATENCY_BATCH=10 measures that instead. The
 * latency run's maximum rate is measured with these batches first when they differ from
 * BENCH_BATCH.
 */
const LATENCY_BATCH = numberFromEnv('BENCH_LATENCY_BATCH', 1);
/**
 * Every how many subscribers one takes latency samples (the others only count their deliveries):
 * 10 gives 100 samples per message from subscribers spread over the server's write order.
 */
const SAMPLE_EVERY = numberFromEnv('BENCH_LATENCY_SAMPLE_EVERY', DEFAULT_SAMPLE_EVERY);
/**
 * A fixed rate (messages/s) for every server's latency run instead of 50 % of its own measured
 * maximum (0: unset). Servers paced differently are hard to compare: CPU per message grows as the
 * rate falls (cold caches per burst, the client asleep between bursts).
 */
const FIXED_LATENCY_RATE = numberFromEnv('BENCH_LATENCY_RATE', 0);
/**
 * Latency windows run back to back on the same subscribers: with several, one run shows how
 * steady the p99 is (a 10 s window at 30–60 messages/s rests its p99 on its worst few messages).
 */
const LATENCY_WINDOWS = Math.round(numberFromEnv('BENCH_LATENCY_WINDOWS', 1));
/** The issue's latency target, ms: p99 under it; messages with a sample over it are counted. */
const TARGET_MS = 20;
/** Messages per publish request in the filtered case (one delivery each). */
const FILTERED_BATCH = numberFromEnv('BENCH_FILTERED_BATCH', 20);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/**
 * Where streamgate's Postgres runs (BENCH_DATABASE_CORE): `any` leaves it to the scheduler, which
 * puts its backends on either core, the load client's among them; `server` pins it beside the
 * server (everything of the server side on one core, the client's core left to the client);
 * `client` on the load client's core.
 */
const DATABASE_CORE = databaseCoreFromEnv(process.env.BENCH_DATABASE_CORE ?? 'any');

function databaseCoreFromEnv(value: string): number | undefined {
  if (value === 'any') return undefined;
  if (value === 'server') return SERVER_CORE;
  if (value === 'client') return CLIENT_CORE;
  throw new Error(`BENCH_DATABASE_CORE is ${value}: say any, server or client`);
}

export interface FanoutRow {
  readonly target: string;
  /** The load client that read its subscribers. */
  readonly client: LoadClient['kind'];
  readonly subscribers: number;
  readonly messages: number;
  readonly deliveries: number;
  readonly deliveriesPerSecond: number;
  readonly serverCpuMicrosPerDelivery: number;
  readonly clientCpuMicrosPerDelivery: number;
  readonly latencyRatePerSecond: number;
  /** The maximum message rate measured with the latency run's batches (its pacing is relative to it). */
  readonly maxMessageRatePerSecond: number;
  /** Over every latency window's samples. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Latency samples behind p50/p99. */
  readonly latencySamples: number;
  /** Each latency window's own p99, in the order they ran. */
  readonly windowP99Ms: readonly number[];
  /** The samples grouped by message, over every window. */
  readonly perMessage: MessageBreakdown;
  /** Server / client CPU ms per published message during the latency run (see PacedLatency). */
  readonly latencyServerCpuMsPerMessage: number;
  readonly latencyClientCpuMsPerMessage: number;
  /** The 1-minute load average when the latency run ended. */
  readonly loadAverage: number;
}

export interface FilteredRow {
  readonly target: string;
  readonly subscribers: number;
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly serverCpuMicrosPerMessage: number;
}

/** A measured window in CLOCK_MONOTONIC µs, the clock of V8's CPU profiles. */
interface ProfileWindow {
  readonly name: string;
  readonly startMicros: number;
  readonly endMicros: number;
}
const profileWindows: ProfileWindow[] = [];
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

interface Measured {
  readonly messages: number;
  readonly deliveries: number;
  readonly seconds: number;
  readonly serverCpuMicros: number;
  readonly clientCpuMicros: number;
}

/**
 * Publishes batches for `seconds` (and at least MIN_BATCHES), each one once the previous one has
 * been delivered to every subscriber.
 */
async function closedLoop(
  target: BenchTarget,
  tracker: DeliveryTracker,
  seconds: number,
  publishBatch: () => Promise<number>,
  deliveriesPerMessage: number,
  windowName?: string,
): Promise<Measured> {
  const base = tracker.delivered;
  const cpu = cpuWindow(target.process.pid);
  const clientCpu = tracker.clientCpuMicros();
  const startMicros = monotonicMicros();
  const started = performance.now();
  let messages = 0;
  let batches = 0;
  while (performance.now() - started < seconds * 1000 || batches < MIN_BATCHES) {
    messages += await publishBatch();
    batches += 1;
    // Each batch is delivered in full before the next one is published: the server is idle only
    // for one HTTP round trip per batch, and no backlog builds up on a slow, shared machine
    // (the stock server cuts sockets whose keep-alive pong waits behind 12 s of queued frames).
    await tracker.waitFor(base + messages * deliveriesPerMessage, DELIVERY_TIMEOUT_MS);
  }
  const elapsed = (performance.now() - started) / 1000;
  const serverCpuMicros = cpu.stop();
  const clientCpuMicros = tracker.clientCpuMicros() - clientCpu;
  if (windowName) profileWindows.push({ name: windowName, startMicros, endMicros: monotonicMicros() });
  return {
    messages,
    deliveries: tracker.delivered - base,
    seconds: elapsed,
    serverCpuMicros,
    clientCpuMicros,
  };
}

/** One latency window: its samples and what it cost. */
interface PacedLatency {
  /** The sampled deliveries, each with the message (sentAt) it belongs to. */
  readonly samples: readonly LatencySample[];
  readonly messages: number;
  /**
   * CPU time (µs) over the window: per published message (all its deliveries) it bounds the
   * latency from below on a core of its own, whatever the machine's load does to wall-clock figures.
   */
  readonly serverCpuMicros: number;
  readonly clientCpuMicros: number;
}

/**
 * Batches of `batch` messages (as in the throughput window, so that the server does the same work
 * per message) at `ratePerSecond` messages per second, open loop; the sampled subscribers'
 * deliveries (every SAMPLE_EVERY-th) give their latency from the message's publish time to the
 * read of their chunk, and every subscriber's deliveries are counted.
 */
async function pacedLatency(
  target: BenchTarget,
  tracker: DeliveryTracker,
  ratePerSecond: number,
  seconds: number,
  deliveriesPerMessage: number,
  batch: number,
  windowName: string,
): Promise<PacedLatency> {
  const base = tracker.delivered;
  tracker.samples.length = 0;
  tracker.sampling = true;
  const cpu = cpuWindow(target.process.pid);
  const clientCpu = tracker.clientCpuMicros();
  const startMicros = monotonicMicros();
  const started = performance.now();
  const requestsPerSecond = ratePerSecond / batch;
  const count = Math.max(1, Math.round(requestsPerSecond * seconds));
  // Open loop, but never more than a quarter second of requests outstanding: a server (or a
  // shared machine) that falls behind would otherwise pile up a backlog until keep-alive pings
  // queued behind it time out. Waiting shows up in the latencies, as it should.
  const maxOutstanding = Math.max(2, Math.ceil(requestsPerSecond / 4));
  const perRequest = batch * deliveriesPerMessage;
  const publishes: Array<Promise<void>> = [];
  for (let index = 0; index < count; index++) {
    const due = started + (index * 1000) / requestsPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (index >= maxOutstanding)
      await tracker.waitFor(base + (index - maxOutstanding) * perRequest, DELIVERY_TIMEOUT_MS);
    publishes.push(
      target.publishDevice(
        DEVICE,
        benchEvents(batch, () => 'fanout'),
      ),
    );
  }
  await Promise.all(publishes);
  await tracker.waitFor(base + count * perRequest, DELIVERY_TIMEOUT_MS);
  tracker.sampling = false;
  profileWindows.push({ name: windowName, startMicros, endMicros: monotonicMicros() });
  return {
    samples: tracker.samples.splice(0),
    messages: count * batch,
    serverCpuMicros: cpu.stop(),
    clientCpuMicros: tracker.clientCpuMicros() - clientCpu,
  };
}

/** The latency part of a fan-out row, over every window. */
type LatencyFigures = Pick<
  FanoutRow,
  | 'p50Ms'
  | 'p99Ms'
  | 'latencySamples'
  | 'windowP99Ms'
  | 'perMessage'
  | 'latencyServerCpuMsPerMessage'
  | 'latencyClientCpuMsPerMessage'
>;

/**
 * LATENCY_WINDOWS latency windows back to back on the same subscribers, at `ratePerSecond`: each
 * window's p99 on its own (how steady it is), and p50/p99, the per-message breakdown and the CPU
 * per message over all of them.
 */
async function latencyWindows(
  target: BenchTarget,
  tracker: DeliveryTracker,
  ratePerSecond: number,
): Promise<LatencyFigures> {
  const windows: PacedLatency[] = [];
  for (let index = 1; index <= LATENCY_WINDOWS; index++) {
    // One window keeps its old name, so that profile summaries filtered by it still find it.
    const name = LATENCY_WINDOWS === 1 ? `${target.name} latency` : `${target.name} latency ${index}`;
    windows.push(
      await pacedLatency(target, tracker, ratePerSecond, LATENCY_SECONDS, SUBSCRIBERS, LATENCY_BATCH, name),
    );
  }
  const sortedLatencies = (samples: readonly LatencySample[]) =>
    samples.map((sample) => sample.latencyMs).sort((a, b) => a - b);
  const samples = windows.flatMap((window) => window.samples);
  const latencies = sortedLatencies(samples);
  const messages = windows.reduce((sum, window) => sum + window.messages, 0);
  const cpuMs = (of: (window: PacedLatency) => number) =>
    windows.reduce((sum, window) => sum + of(window), 0) / 1000 / messages;
  return {
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    latencySamples: latencies.length,
    windowP99Ms: windows.map((window) => percentile(sortedLatencies(window.samples), 0.99)),
    perMessage: messageBreakdown(samples, TARGET_MS),
    latencyServerCpuMsPerMessage: cpuMs((window) => window.serverCpuMicros),
    latencyClientCpuMsPerMessage: cpuMs((window) => window.clientCpuMicros),
  };
}

/** Progress on stderr: a run takes minutes on a shared machine. */
function progress(message: string): void {
  process.stderr.write(`[fanout ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function runFanout(target: BenchTarget, client: LoadClient): Promise<FanoutRow> {
  progress(`${target.name}: fan-out, opening ${SUBSCRIBERS} subscribers`);
  const tracker = new DeliveryTracker(SAMPLE_EVERY);
  const specs = Array.from({ length: SUBSCRIBERS }, () => target.deviceSubscriber(DEVICE));
  let sockets: Subscriber[] = [];
  try {
    const opened = await openLoadClientSubscribers(client, specs, tracker);
    sockets = opened.subscribers;
    await waitUntilLive(tracker, SUBSCRIBERS, async () => {
      await target.publishDevice(
        DEVICE,
        benchEvents(1, () => 'fanout', true),
      );
      return SUBSCRIBERS;
    });
    const publishBatch = async () => {
      await target.publishDevice(
        DEVICE,
        benchEvents(BATCH, () => 'fanout'),
      );
      return BATCH;
    };
    progress(`${target.name}: fan-out throughput`);
    // Warm-up (JIT, pools), not reported.
    await closedLoop(target, tracker, Math.min(2, SECONDS), publishBatch, SUBSCRIBERS);
    const measured = await closedLoop(
      target,
      tracker,
      SECONDS,
      publishBatch,
      SUBSCRIBERS,
      `${target.name} fanout`,
    );
    let maxMessageRate = measured.messages / measured.seconds;
    if (LATENCY_BATCH !== BATCH) {
      const single = await closedLoop(
        target,
        tracker,
        Math.min(3, SECONDS),
        async () => {
          await target.publishDevice(
            DEVICE,
            benchEvents(LATENCY_BATCH, () => 'fanout'),
          );
          return LATENCY_BATCH;
        },
        SUBSCRIBERS,
      );
      maxMessageRate = single.messages / single.seconds;
    }
    const latencyRate = FIXED_LATENCY_RATE > 0 ? FIXED_LATENCY_RATE : maxMessageRate / 2;
    progress(
      `${target.name}: fan-out latency at ${latencyRate.toFixed(1)} messages/s ` +
        `(${percentOf(latencyRate, maxMessageRate)} of its maximum), ${LATENCY_WINDOWS} × ${LATENCY_SECONDS} s`,
    );
    const latency = await latencyWindows(target, tracker, latencyRate);
    return {
      target: target.name,
      client: opened.reader,
      subscribers: SUBSCRIBERS,
      messages: measured.messages,
      deliveries: measured.deliveries,
      deliveriesPerSecond: measured.deliveries / measured.seconds,
      serverCpuMicrosPerDelivery: measured.serverCpuMicros / measured.deliveries,
      clientCpuMicrosPerDelivery: measured.clientCpuMicros / measured.deliveries,
      latencyRatePerSecond: latencyRate,
      maxMessageRatePerSecond: maxMessageRate,
      ...latency,
      loadAverage: loadavg()[0] ?? Number.NaN,
    };
  } finally {
    await closeSubscribers(sockets);
  }
}

async function runFiltered(
  target: BenchTarget,
  subscribers: number,
  client: LoadClient,
): Promise<FilteredRow> {
  progress(`${target.name}: filtered, ${subscribers} subscribers`);
  const tracker = new DeliveryTracker();
  const keyOf = (index: number) => `k${index % subscribers}`;
  const specs = Array.from({ length: subscribers }, (_, index) => target.topicSubscriber(keyOf(index)));
  let sockets: Subscriber[] = [];
  try {
    sockets = (await openLoadClientSubscribers(client, specs, tracker)).subscribers;
    // One chunk of keys per probe round, so that a round is delivered before the next is sent.
    let probed = 0;
    await waitUntilLive(tracker, subscribers, async () => {
      const from = probed % subscribers;
      const count = Math.min(FILTERED_BATCH, subscribers - from);
      probed = from + count;
      await target.publishTopic(benchEvents(count, (index) => keyOf(from + index), true));
      return count;
    });
    let next = 0;
    const publishBatch = async () => {
      const from = next;
      next += FILTERED_BATCH;
      await target.publishTopic(benchEvents(FILTERED_BATCH, (index) => keyOf(from + index)));
      return FILTERED_BATCH;
    };
    await closedLoop(target, tracker, 1, publishBatch, 1);
    const measured = await closedLoop(
      target,
      tracker,
      Math.max(2, SECONDS / 2),
      publishBatch,
      1,
      `${target.name} filtered ${subscribers}`,
    );
    return {
      target: target.name,
      subscribers,
      messages: measured.messages,
      messagesPerSecond: measured.messages / measured.seconds,
      serverCpuMicrosPerMessage: measured.serverCpuMicros / measured.messages,
    };
  } finally {
    await closeSubscribers(sockets);
  }
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const whole = (value: number) => Math.round(value).toLocaleString('en');
const percentOf = (part: number, all: number) => `${Math.round((100 * part) / all)} %`;

/** How the latency runs were paced, for the table's header and the target lines. */
function latencyPacing(): string {
  return FIXED_LATENCY_RATE > 0
    ? `every server at ${fixed(FIXED_LATENCY_RATE)} messages/s (BENCH_LATENCY_RATE)`
    : 'each server at 50 % of its own measured maximum rate';
}

function printFanout(rows: readonly FanoutRow[]): void {
  console.log(
    `\nfan-out: ${SUBSCRIBERS.toLocaleString('en')} graphql-ws (or SSE) subscribers of one device, 200-byte payloads, ` +
      `batches of ${BATCH} (latency: batches of ${LATENCY_BATCH}, every ${SAMPLE_EVERY}th subscriber sampled); ` +
      `server on core ${SERVER_CORE}, load client on core ${CLIENT_CORE}: ${loadClients(rows)}; ` +
      `streamgate's Postgres on ${DATABASE_CORE === undefined ? 'any core' : `core ${DATABASE_CORE}`}; ` +
      `latency paced ${latencyPacing()}, ${LATENCY_WINDOWS} window(s) of ${LATENCY_SECONDS} s`,
  );
  console.log(
    formatTable(
      [
        'server',
        'messages',
        'deliveries',
        'deliveries/s',
        'server CPU µs/delivery',
        'client CPU µs/delivery',
        'latency at msg/s',
        'p50 ms',
        'p99 ms',
        'samples',
        'latency run: server / client CPU ms/msg',
        'load avg',
      ],
      rows.map((row) => [
        row.target,
        whole(row.messages),
        whole(row.deliveries),
        whole(row.deliveriesPerSecond),
        fixed(row.serverCpuMicrosPerDelivery, 2),
        fixed(row.clientCpuMicrosPerDelivery, 2),
        fixed(row.latencyRatePerSecond),
        fixed(row.p50Ms, 2),
        fixed(row.p99Ms, 2),
        whole(row.latencySamples),
        `${fixed(row.latencyServerCpuMsPerMessage, 2)} / ${fixed(row.latencyClientCpuMsPerMessage, 2)}`,
        fixed(row.loadAverage, 2),
      ]),
    ),
  );
  printPerMessage(rows);
  const cost = (name: string) => rows.find((row) => row.target === name)?.serverCpuMicrosPerDelivery;
  const streamgate = cost('streamgate');
  const stock = cost('stock yoga');
  const raw = cost('raw ws');
  if (streamgate !== undefined && stock !== undefined)
    console.log(
      `streamgate / stock yoga, server CPU per delivery: ${fixed(streamgate / stock, 3)} (target ≤ 0.200)`,
    );
  if (streamgate !== undefined && raw !== undefined)
    console.log(
      `streamgate / raw ws, server CPU per delivery: ${fixed(streamgate / raw, 3)} (target ≤ 1.250)`,
    );
  // Every other streamgate transport against graphql-ws: on the device (GraphQL over SSE), and
  // the legacy routes against graphql-ws on the same topic and publish path.
  const topic = cost('streamgate topic graphql-ws');
  for (const row of rows) {
    if (!row.target.startsWith('streamgate ') || row.target === 'streamgate topic graphql-ws') continue;
    const own = row.serverCpuMicrosPerDelivery;
    const against =
      row.target.startsWith('streamgate topic') && topic !== undefined
        ? ` = ${fixed(own / topic, 2)}× graphql-ws on the topic`
        : '';
    const ws = streamgate !== undefined ? `, ${fixed(own / streamgate, 2)}× graphql-ws on the device` : '';
    console.log(`${row.target}: ${fixed(own, 2)} µs per delivery${against}${ws}`);
  }
  // The latency target beside the raw ws ceiling's figure of the same run: the ceiling does no
  // work per message beyond one send per socket, so it is the floor of this machine and client.
  const ceiling = rows.find((row) => row.target === 'raw ws');
  for (const row of rows) {
    if (!row.target.startsWith('streamgate')) continue;
    const against = ceiling ? `, raw ws ceiling p99 ${fixed(ceiling.p99Ms, 2)} ms` : '';
    const under = row.windowP99Ms.filter((p99) => p99 < TARGET_MS).length;
    console.log(
      `${row.target} p99 at ${fixed(row.latencyRatePerSecond)} messages/s, ` +
        `${percentOf(row.latencyRatePerSecond, row.maxMessageRatePerSecond)} of its maximum rate ` +
        `(batches of ${LATENCY_BATCH}): ${fixed(row.p99Ms, 2)} ms (target < ${TARGET_MS} ms); ` +
        `windows under ${TARGET_MS} ms: ${under} of ${row.windowP99Ms.length}${against}; ` +
        `load average ${fixed(row.loadAverage, 2)}`,
    );
  }
  console.log(`load average now ${loadAverage()}`);
}

/**
 * The latency runs per message (samples grouped by the message's sentAt): when each message reached
 * its first and its last sampled subscriber and the span between, how many had a sample over the
 * target, and each window's p99 with their range. A late "first" is a message that started late
 * (queued behind the previous one or for the database); a wide "last − first" is its own writes
 * (and the client's reads of them).
 */
function printPerMessage(rows: readonly FanoutRow[]): void {
  console.log(
    `\nlatency per message, over all windows ("first" / "last": a message's earliest / latest ` +
      `sampled delivery, and last − first of each, p50 / p99 across messages; "> ${TARGET_MS} ms": messages with a sample ` +
      'over it, and of them those already over it at their first)',
  );
  console.log(
    formatTable(
      [
        'server',
        'msg/s (of max)',
        'messages',
        'first p50 / p99 ms',
        'last p50 / p99 ms',
        'last − first p50 / p99 ms',
        `> ${TARGET_MS} ms: messages / at first`,
        'window p99s ms',
        'p99 min / median / max ms',
      ],
      rows.map((row) => {
        const breakdown = row.perMessage;
        const p99s = [...row.windowP99Ms].sort((a, b) => a - b);
        return [
          row.target,
          `${fixed(row.latencyRatePerSecond)} (${percentOf(row.latencyRatePerSecond, row.maxMessageRatePerSecond)})`,
          whole(breakdown.messages),
          `${fixed(breakdown.firstP50Ms, 2)} / ${fixed(breakdown.firstP99Ms, 2)}`,
          `${fixed(breakdown.lastP50Ms, 2)} / ${fixed(breakdown.lastP99Ms, 2)}`,
          `${fixed(breakdown.spreadP50Ms, 2)} / ${fixed(breakdown.spreadP99Ms, 2)}`,
          `${breakdown.slowMessages} / ${breakdown.slowFromTheStart}`,
          row.windowP99Ms.map((p99) => fixed(p99, 1)).join(' '),
          [0, 0.5, 1].map((fraction) => fixed(percentile(p99s, fraction), 2)).join(' / '),
        ];
      }),
    ),
  );
}

/** Which load client read the rows' subscribers (SSE rows are always read by Node's). */
function loadClients(rows: readonly FanoutRow[]): string {
  const describe = (kind: LoadClient['kind']) =>
    kind === 'go'
      ? 'go (bench/support/go-load-client, GOMAXPROCS=1)'
      : 'node (bench/support/lean-ws-client.ts)';
  const kinds = [...new Set(rows.map((row) => row.client))];
  if (kinds.length === 1) return describe(kinds[0] as LoadClient['kind']);
  return kinds
    .map(
      (kind) =>
        `${describe(kind)} for ${rows
          .filter((row) => row.client === kind)
          .map((row) => row.target)
          .join(', ')}`,
    )
    .join('; ');
}

/** The 1-, 5- and 15-minute load averages: how shared the machine was. */
function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

function printFiltered(rows: readonly FilteredRow[]): void {
  console.log(
    `\nfiltered: one topic, N subscribers each with a different equals filter; every message matches one; ` +
      `batches of ${FILTERED_BATCH}`,
  );
  console.log(
    formatTable(
      ['server', 'subscribers', 'messages', 'messages/s', 'server CPU µs/message'],
      rows.map((row) => [
        row.target,
        whole(row.subscribers),
        whole(row.messages),
        whole(row.messagesPerSecond),
        fixed(row.serverCpuMicrosPerMessage, 1),
      ]),
    ),
  );
  for (const name of new Set(rows.map((row) => row.target))) {
    const one = rows.find((row) => row.target === name && row.subscribers === 1);
    const many = rows.find((row) => row.target === name && row.subscribers > 1);
    if (one && many)
      console.log(
        `${name}: CPU per message with ${whole(many.subscribers)} subscribers / with 1: ` +
          `${fixed(many.serverCpuMicrosPerMessage / one.serverCpuMicrosPerMessage, 2)}` +
          (name === 'streamgate' ? ' (target ≤ 2)' : ''),
      );
  }
}

/** Runs the cases against each server, one server at a time, and prints the tables. */
export async function runFanoutBench(): Promise<{ fanout: FanoutRow[]; filtered: FilteredRow[] }> {
  pinThisProcess(CLIENT_CORE);
  const { client, note } = chooseLoadClient();
  if (note) console.log(note);
  const targets = listFromEnv(
    'BENCH_TARGETS',
    'streamgate,streamgate-sse,streamgate-topic,streamgate-legacy-ws,streamgate-legacy-sse,stock,raw',
  );
  const cases = listFromEnv('BENCH_CASES', 'fanout,filtered');
  const fanout: FanoutRow[] = [];
  const filtered: FilteredRow[] = [];
  const failures: string[] = [];
  let postgres: BenchServer | undefined;
  try {
    for (const name of targets) {
      if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
      // BENCH_PROFILE_DIR runs every server under --cpu-prof (pinned-process.ts).
      const target = await startTarget(name, () => {
        postgres ??= startServer('postgres', { core: DATABASE_CORE });
        return postgres;
      });
      try {
        // A case that fails is reported and the others still run: one lost socket on a busy
        // machine should not cost the whole table.
        const attempt = async (name: string, run: () => Promise<void>) => {
          try {
            await run();
          } catch (error) {
            failures.push(
              `${target.name} ${name}: ${error instanceof Error ? error.message : String(error)}`,
            );
            process.stderr.write(`${target.name} output:\n${target.process.output().slice(-2000)}\n`);
          }
        };
        if (cases.includes('fanout'))
          await attempt('fan-out', async () => void fanout.push(await runFanout(target, client)));
        // The filtered case subscribes over graphql-ws whatever the target: once is enough.
        if (cases.includes('filtered') && !target.fanoutOnly)
          for (const count of [1, SUBSCRIBERS])
            await attempt(
              `filtered ${count}`,
              async () => void filtered.push(await runFiltered(target, count, client)),
            );
      } finally {
        await target.process.stop();
      }
    }
  } finally {
    await stopAllPinned();
    postgres?.stop();
  }
  if (fanout.length > 0) printFanout(fanout);
  if (filtered.length > 0) printFiltered(filtered);
  for (const failure of failures) console.log(`FAILED ${failure}`);
  if (failures.length > 0) process.exitCode = 1;
  if (PROFILE_DIR) {
    writeFileSync(join(PROFILE_DIR, 'windows.json'), `${JSON.stringify(profileWindows, null, 2)}\n`);
    console.log(`\nCPU profile and measured windows in ${PROFILE_DIR}`);
  }
  return { fanout, filtered };
}

if (import.meta.url === `file://${process.argv[1]}`) await runFanoutBench();
