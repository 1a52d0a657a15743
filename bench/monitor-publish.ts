/**
 * The cost of one single-event `POST /monitor/{device}` with one graphql-ws subscriber of the
 * device: server CPU per publish (all threads, /proc/PID/task/TID/schedstat, ns precision) and
 * the request's round trip, A/B between checkouts **interleaved**: every target runs at once
 * (pinned to the server core, idle but for its own slice), and the rounds alternate between them
 * in rotating order, so a shared machine's slow and fast moments fall on all of them alike. That
 * is what tells a 10 % change apart on a machine whose absolute figures swing 2× in a minute.
 *
 *   BENCH_TARGETS=streamgate,streamgate@/path/to/other/checkout npm run bench -- monitor-publish
 *
 * The topic publish route the same way: `streamgate-topic` targets publish each message with
 * `POST /topics/bench.fanout/messages` (Bearer token) to one graphql-ws subscriber of the topic,
 * e.g. BENCH_TARGETS=streamgate-topic@/path/to/other/checkout,streamgate-topic; both routes in one
 * run are fine (every target is its own server).
 *
 * Each round publishes BENCH_PUBLISHES (300) single-event requests to one target, closed loop
 * (the next once the previous was answered and delivered), after BENCH_WARMUP unmeasured
 * ones. Knobs: BENCH_ROUNDS (6 per target), BENCH_PUBLISHES, BENCH_WARMUP (200), BENCH_TARGETS
 * (streamgate entries and NAME@DIR of bench/fanout.ts; stock and raw for their own publish
 * endpoints), BENCH_PROFILE_DIR (servers under `node --cpu-prof`; windows "<target> publish" for
 * bench/support/profile-summary.ts).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { listFromEnv, numberFromEnv } from './support/bench-env.ts';
import { type BenchServer, startServer } from './support/bench-servers.ts';
import { type BenchTarget, benchEvents, startTarget } from './support/bench-targets.ts';
import { formatTable, percentile } from './support/latency-stats.ts';
import { CLIENT_CORE, pinThisProcess, stopAllPinned } from './support/pinned-process.ts';
import {
  closeSubscribers,
  DeliveryTracker,
  openSubscribers,
  type Subscriber,
  waitUntilLive,
} from './support/ws-subscribers.ts';

const DEVICE = 'bench-monitor-publish';
const DELIVERY_TIMEOUT_MS = 60_000;
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 6);
const PUBLISHES = numberFromEnv('BENCH_PUBLISHES', 300);
const WARMUP = numberFromEnv('BENCH_WARMUP', 200);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/** Measured rounds in CLOCK_MONOTONIC µs (V8's profile clock), "<target> publish", for profile-summary.ts. */
const profileWindows: Array<{ name: string; startMicros: number; endMicros: number }> = [];
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** CPU time of every thread of a process so far, in µs (schedstat: ns on a CPU). */
function threadsCpuMicros(pid: number): number {
  let nanos = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return nanos / 1_000;
}

interface Running {
  readonly target: BenchTarget;
  readonly tracker: DeliveryTracker;
  readonly sockets: Subscriber[];
  cpuMicros: number;
  publishes: number;
  readonly roundTrips: number[];
  readonly perRound: number[];
}

async function open(target: BenchTarget): Promise<Running> {
  const tracker = new DeliveryTracker(1);
  const sockets = await openSubscribers([target.deviceSubscriber(DEVICE)], tracker);
  await waitUntilLive(tracker, 1, async () => {
    await target.publishDevice(
      DEVICE,
      benchEvents(1, () => 'monitor', true),
    );
    return 1;
  });
  return { target, tracker, sockets, cpuMicros: 0, publishes: 0, roundTrips: [], perRound: [] };
}

/** `count` single-event publishes, each answered and delivered before the next. */
async function publish(running: Running, count: number, measure: boolean): Promise<void> {
  const { target, tracker } = running;
  const before = measure ? threadsCpuMicros(target.process.pid) : 0;
  const startMicros = monotonicMicros();
  for (let index = 0; index < count; index++) {
    const base = tracker.delivered;
    const started = performance.now();
    await target.publishDevice(
      DEVICE,
      benchEvents(1, () => 'monitor'),
    );
    if (measure) running.roundTrips.push(performance.now() - started);
    await tracker.waitFor(base + 1, DELIVERY_TIMEOUT_MS);
  }
  if (!measure) return;
  profileWindows.push({ name: `${target.name} publish`, startMicros, endMicros: monotonicMicros() });
  const used = threadsCpuMicros(target.process.pid) - before;
  running.cpuMicros += used;
  running.publishes += count;
  running.perRound.push(used / count);
}

async function main(): Promise<void> {
  pinThisProcess(CLIENT_CORE);
  const names = listFromEnv('BENCH_TARGETS', 'streamgate');
  let postgres: BenchServer | undefined;
  // BENCH_PROFILE_DIR runs every server under --cpu-prof (pinned-process.ts).
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const running: Running[] = [];
  try {
    for (const name of names) {
      const target = await startTarget(name, () => {
        postgres ??= startServer('postgres');
        return postgres;
      });
      running.push(await open(target));
    }
    for (const each of running) await publish(each, WARMUP, false);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating order: no target always follows the same one.
      for (let index = 0; index < running.length; index++) {
        const each = running[(round + index) % running.length] as Running;
        await publish(each, PUBLISHES, true);
      }
      process.stderr.write(
        `[monitor-publish] round ${round + 1}/${ROUNDS}, load ${loadavg()[0]?.toFixed(2)}\n`,
      );
    }
  } finally {
    for (const each of running) await closeSubscribers(each.sockets);
    await stopAllPinned();
    postgres?.stop();
  }
  if (PROFILE_DIR)
    writeFileSync(join(PROFILE_DIR, 'windows.json'), `${JSON.stringify(profileWindows, null, 2)}\n`);
  const first = running[0];
  console.log(
    `\nsingle-event publish: POST /monitor/{device} (topic rows: POST /topics/{topic}/messages), 1 graphql-ws subscriber, ${ROUNDS} interleaved rounds of ${PUBLISHES} per target; load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    formatTable(
      [
        'server',
        'publishes',
        'server CPU µs/publish',
        'vs first',
        'per round (µs)',
        'round trip p50 ms',
        'p99 ms',
      ],
      running.map((each) => {
        const perPublish = each.cpuMicros / each.publishes;
        const sorted = [...each.roundTrips].sort((a, b) => a - b);
        return [
          each.target.name,
          each.publishes.toLocaleString('en-US'),
          perPublish.toFixed(0),
          first ? (perPublish / (first.cpuMicros / first.publishes)).toFixed(3) : '',
          each.perRound.map((value) => value.toFixed(0)).join(' '),
          percentile(sorted, 0.5).toFixed(2),
          percentile(sorted, 0.99).toFixed(2),
        ];
      }),
    ),
  );
}

await main();
