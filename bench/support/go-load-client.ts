/**
 * The fan-out benchmark's load client in Go (bench/support/go-load-client/, standard library
 * only): built here on demand, run pinned to CLIENT_CORE with GOMAXPROCS=1 (one core, as the Node
 * client has), and driven over stdin/stdout lines (the protocol is in its main.go). Its counts and
 * latency samples feed a DeliveryTracker, so fanout.ts's waits, readiness probes, sampling and
 * windows work as with the Node subscribers; its CPU time joins this process's in the tracker's
 * client CPU.
 *
 * Why: the Node client needs 10–22 µs per socket read (event loop + libuv), 10–14 ms to read one
 * message from 1,000 sockets, as much as the raw ws ceiling needs to send it: its p99 was its own
 * queueing as much as the server's (docs/benchmarks.md, "A load client in Go").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_CORE } from './pinned-process.ts';
import { cpuMicros } from './proc-stats.ts';
import type { DeliveryTracker, LatencySample, Subscriber, SubscriberSpec } from './ws-subscribers.ts';

const SOURCE_DIR = fileURLToPath(new URL('./go-load-client/', import.meta.url));
/** Handshakes in flight at once, as openSubscribers does. */
const CONCURRENCY = 50;

/** The `go` binary: on PATH, else where the official tarball installs it; undefined if none. */
export function findGo(): string | undefined {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'go')),
    '/usr/local/go/bin/go',
  ];
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Builds the client once per source (and Go version) into ~/.cache/streamgate/ and returns the
 * binary's path. No network: no dependencies, GOTOOLCHAIN=local, GOPROXY=off.
 */
export function buildGoClient(go: string): string {
  const hash = createHash('sha256');
  hash.update(execFileSync(go, ['version'], { encoding: 'utf8' }));
  for (const name of readdirSync(SOURCE_DIR).sort()) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(SOURCE_DIR, name)));
  }
  const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'streamgate');
  const binary = join(cacheDir, `go-load-client-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  // Built beside and renamed: two benches building at once never run a half-written binary.
  const building = `${binary}.${process.pid}.tmp`;
  execFileSync(go, ['build', '-trimpath', '-o', building, '.'], {
    cwd: SOURCE_DIR,
    env: {
      ...process.env,
      GOTOOLCHAIN: 'local',
      GOPROXY: 'off',
      CGO_ENABLED: '0',
      // Go's own build cache needs HOME or XDG_CACHE_HOME; a bare CI environment may have neither.
      ...(process.env.HOME || process.env.XDG_CACHE_HOME ? {} : { GOCACHE: join(cacheDir, 'go-build') }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  renameSync(building, binary);
  return binary;
}

/**
 * Opens `specs` (WebSocket kinds only) in one Go process and resolves once every subscriber is
 * subscribed; the one Subscriber returned closes them all and ends the process.
 */
export async function openGoSubscribers(
  binary: string,
  specs: readonly SubscriberSpec[],
  tracker: DeliveryTracker,
): Promise<Subscriber> {
  const child = spawn('taskset', ['-c', String(CLIENT_CORE), binary], {
    env: { PATH: process.env.PATH ?? '', GOMAXPROCS: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid as number;
  const replies = new GoReplies(child, tracker);
  const send = (command: unknown) => child.stdin?.write(`${JSON.stringify(command)}\n`);
  try {
    send({ op: 'open', specs, sampleEvery: tracker.sampleEvery, concurrency: CONCURRENCY });
    await replies.next('opened');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const ownCpu = tracker.clientCpuMicros;
  tracker.clientCpuMicros = () => ownCpu() + cpuMicros(pid);
  const atOpen = { go: cpuMicros(pid), bench: ownCpu() };
  tracker.onSamplingChange = (on) => send({ op: 'sampling', on });
  return {
    close: async () => {
      // The Go process's CPU beside this process's (publisher, reading the reports), in the log.
      const goMs = (cpuMicros(pid) - atOpen.go) / 1000;
      const benchMs = (ownCpu() - atOpen.bench) / 1000;
      process.stderr.write(`[go load client] CPU while open: Go ${goMs} ms, bench process ${benchMs} ms\n`);
      tracker.onSamplingChange = undefined;
      tracker.clientCpuMicros = ownCpu;
      send({ op: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await replies.exited;
      clearTimeout(timer);
    },
  };
}

/** One sample of an `s` line: `LATENCY_MS@SENTAT`, the sentAt as the payload carried it. */
function parseSample(text: string): LatencySample {
  const at = text.indexOf('@');
  return { latencyMs: Number(text.slice(0, at)), sentAt: Number(text.slice(at + 1)) };
}

/** Reads the Go client's stdout lines into `tracker`, and its answers for whoever waits. */
class GoReplies {
  readonly exited: Promise<void>;
  private waiting: { word: string; resolve(): void; reject(error: Error): void } | undefined;
  private rest = '';
  private stderr = '';
  private closed = false;

  constructor(
    child: ChildProcess,
    private readonly tracker: DeliveryTracker,
  ) {
    child.stdout?.setEncoding('latin1');
    child.stdout?.on('data', (chunk: string) => this.onChunk(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const error = new Error(`the Go load client exited (${code ?? signal}): ${this.stderr}`);
        this.waiting?.reject(error);
        if (!this.closed) tracker.fail(error);
        resolve();
      }),
    );
  }

  /** Resolves at the next `word …` line; rejects at `open-failed`, or if the process ends. */
  next(word: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting = { word, resolve, reject };
    });
  }

  private onChunk(chunk: string): void {
    this.rest += chunk;
    let end = this.rest.indexOf('\n');
    while (end >= 0) {
      this.onLine(this.rest.slice(0, end));
      this.rest = this.rest.slice(end + 1);
      end = this.rest.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    const space = line.indexOf(' ');
    const word = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    const tracker = this.tracker;
    switch (word) {
      case 's':
        if (tracker.sampling) for (const sample of rest.split(' ')) tracker.samples.push(parseSample(sample));
        return;
      case 'r': {
        const [delivered = 0, live = 0, probes = 0] = rest.split(' ').map(Number);
        if (delivered !== tracker.delivered || probes !== tracker.probes)
          tracker.lastFrameAt = performance.now();
        tracker.live = live;
        tracker.probes = probes;
        tracker.onDeliveries(delivered - tracker.delivered);
        return;
      }
      case 'fail':
        tracker.fail(new Error(`Go load client: ${rest}`));
        return;
      case 'open-failed':
        this.waiting?.reject(new Error(`Go load client: ${rest}`));
        this.waiting = undefined;
        return;
      case 'closed':
        // With what its loop did over the whole run (CPU, wake-ups, reads, reports), for the log.
        this.closed = true;
        process.stderr.write(`[go load client] ${rest}\n`);
        return;
      default:
        if (this.waiting?.word === word) {
          this.waiting.resolve();
          this.waiting = undefined;
        }
    }
  }
}
