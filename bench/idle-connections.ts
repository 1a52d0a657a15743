/**
 * What an idle subscriber costs: 10,000 graphql-ws connections with one `deviceMessages`
 * subscription each (spread over 50 devices), against streamgate, the stock graphql-yoga +
 * graphql-ws + createPubSub server and a bare `ws` server (the same three as bench/fanout.ts,
 * started the same way, server on core 0, this load client on core 1).
 *
 * RSS per connection = (RSS with every subscription live − RSS before) / connections, both read
 * from /proc/PID/status once RSS has settled. "Before" is taken after 200 warm-up connections
 * have come and gone, so that lazily compiled code and first-use allocations are not charged to
 * the connections. Every subscription is checked live (one probe message per device reaches it).
 *
 *   npm run bench -- idle-connections
 *   BENCH_CONNECTIONS=2000 BENCH_TARGETS=streamgate npm run bench -- idle-connections
 */
import { listFromEnv, numberFromEnv } from './support/bench-env.ts';
import { type BenchServer, startServer } from './support/bench-servers.ts';
import { type BenchTarget, benchEvents, startTarget } from './support/bench-targets.ts';
import { formatTable } from './support/latency-stats.ts';
import { CLIENT_CORE, pinThisProcess, stopAllPinned } from './support/pinned-process.ts';
import { rssBytes } from './support/proc-stats.ts';
import {
  closeSubscribers,
  DeliveryTracker,
  openSubscribers,
  type Subscriber,
  waitUntilLive,
} from './support/ws-subscribers.ts';

const WARM_UP_CONNECTIONS = 200;

const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 10_000);
const DEVICES = numberFromEnv('BENCH_DEVICES', 50);

export interface IdleRow {
  readonly target: string;
  readonly connections: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly bytesPerConnection: number;
  readonly connectSeconds: number;
}

/** RSS once it stops moving (two reads 1 s apart within 0.5 %), or the last of 15 reads. */
async function settledRss(pid: number): Promise<number> {
  let last = rssBytes(pid);
  for (let read = 0; read < 15; read++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = rssBytes(pid);
    if (Math.abs(now - last) <= last * 0.005) return now;
    last = now;
  }
  return last;
}

const deviceOf = (index: number) => `idle-device-${index % DEVICES}`;

/** Opens `count` subscribers and waits until each has received a probe of its device. */
async function openLive(target: BenchTarget, count: number, tracker: DeliveryTracker): Promise<Subscriber[]> {
  const sockets = await openSubscribers(
    Array.from({ length: count }, (_, index) => target.deviceSubscriber(deviceOf(index))),
    tracker,
  );
  await waitUntilLive(tracker, count, async () => {
    const devices = Math.min(DEVICES, count);
    for (let device = 0; device < devices; device++)
      await target.publishDevice(
        deviceOf(device),
        benchEvents(1, () => 'idle', true),
      );
    return count;
  });
  return sockets;
}

async function measure(target: BenchTarget): Promise<IdleRow> {
  const pid = target.process.pid;
  const warmUp = await openLive(target, WARM_UP_CONNECTIONS, new DeliveryTracker());
  await closeSubscribers(warmUp);
  const rssBefore = await settledRss(pid);
  const started = performance.now();
  const sockets = await openLive(target, CONNECTIONS, new DeliveryTracker());
  const connectSeconds = (performance.now() - started) / 1000;
  try {
    const rssAfter = await settledRss(pid);
    return {
      target: target.name,
      connections: CONNECTIONS,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      bytesPerConnection: (rssAfter - rssBefore) / CONNECTIONS,
      connectSeconds,
    };
  } finally {
    await closeSubscribers(sockets);
  }
}

const megabytes = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Measures each server in turn and prints one table. */
export async function runIdleConnectionsBench(): Promise<IdleRow[]> {
  pinThisProcess(CLIENT_CORE);
  const targets = listFromEnv('BENCH_TARGETS', 'streamgate,stock,raw');
  const rows: IdleRow[] = [];
  let postgres: BenchServer | undefined;
  try {
    for (const name of targets) {
      const target = await startTarget(name, () => {
        postgres ??= startServer('postgres');
        return postgres;
      });
      try {
        rows.push(await measure(target));
      } catch (error) {
        process.stderr.write(`${target.name} output:\n${target.process.output().slice(-3000)}\n`);
        throw error;
      } finally {
        await target.process.stop();
      }
    }
  } finally {
    await stopAllPinned();
    postgres?.stop();
  }
  console.log(
    `\nidle connections: ${CONNECTIONS.toLocaleString('en')} graphql-ws connections, one subscription each, ` +
      `over ${DEVICES} devices (raw ws: one socket per subscription)`,
  );
  console.log(
    formatTable(
      ['server', 'connections', 'RSS before MB', 'RSS after MB', 'RSS per connection KB', 'connect s'],
      rows.map((row) => [
        row.target,
        row.connections.toLocaleString('en'),
        megabytes(row.rssBeforeBytes),
        megabytes(row.rssAfterBytes),
        (row.bytesPerConnection / 1024).toFixed(1),
        row.connectSeconds.toFixed(1),
      ]),
    ),
  );
  const streamgate = rows.find((row) => row.target === 'streamgate');
  if (streamgate)
    console.log(
      `streamgate RSS per connection: ${(streamgate.bytesPerConnection / 1024).toFixed(1)} KB (target ≤ 15 KB)`,
    );
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await runIdleConnectionsBench();
