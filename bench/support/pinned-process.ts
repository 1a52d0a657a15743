/**
 * The processes of a benchmark: each server under test in its own process, pinned to
 * SERVER_CORE with `taskset` (its CPU time then reads apart from the load's, from /proc/PID/stat),
 * and the benchmark itself on CLIENT_CORE. Every bench starts its servers here.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/streamgate-process.ts';
import { cpuMicros } from './proc-stats.ts';

/** The repository root, where servers are started (src/main.ts, node_modules). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The core the servers under test run on; the benchmark's load runs on the other. */
export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;

/** A server process of the benchmark, pinned to one core; `stop()` ends it and waits. */
export interface PinnedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote so far (stdout and stderr), for error reports. */
  output(): string;
  /** SIGTERM (a graceful exit, which lets `--cpu-prof` write its profile), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface PinnedProcessOptions {
  /** CPU core the process runs on (`taskset -c`). */
  readonly core: number;
  /** Arguments of `node` (before them: `--import tsx` so TypeScript runs as is). */
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Resolves start-up when a line of its output matches; the match is returned. */
  readonly ready: RegExp;
  readonly startTimeoutMs?: number;
  /** Working directory (default: this repository), e.g. another checkout's streamgate. */
  readonly cwd?: string;
}

const running = new Set<PinnedProcess>();

/** Pins this process (every thread) to one core, so the load it generates stays off the server's. */
export function pinThisProcess(core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

/**
 * Starts `node --import tsx …` under `taskset -c core` (taskset execs node: the PID is node's,
 * so /proc/PID/stat is the server's own CPU time) and waits for its ready line.
 */
export async function startPinned(
  options: PinnedProcessOptions,
): Promise<{ process: PinnedProcess; match: RegExpExecArray }> {
  const child = spawn(
    'taskset',
    ['-c', String(options.core), process.execPath, '--import', 'tsx', ...options.nodeArgs],
    {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pinned: PinnedProcess = {
    pid: child.pid as number,
    child,
    output: () => output,
    stop: async (graceMs = 15_000) => {
      running.delete(pinned);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(pinned);
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ready line within ${options.startTimeoutMs ?? 60_000} ms:\n${output}`)),
      options.startTimeoutMs ?? 60_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const found = options.ready.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await pinned.stop(1_000);
    throw error;
  });
  // Keep collecting output after start-up: it is the report if the process dies mid-run.
  return { process: pinned, match };
}

/** Stops every pinned process still running (on the way out, even after a failure). */
export async function stopAllPinned(): Promise<void> {
  await Promise.all([...running].map((pinned) => pinned.stop(5_000)));
}

/** streamgate as `npm start` runs it, in a pinned process of a benchmark. */
export interface StreamgateProcess {
  readonly url: string;
  readonly process: PinnedProcess;
  /** The output line(s) its ready pattern matched (e.g. the dev token's). */
  readonly match: RegExpExecArray;
  /** User + system CPU time of the server so far, in µs (/proc/PID/stat). */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/** Ready once it listens. */
const LISTENING = /streamgate is listening/;

/**
 * `--cpu-prof` into BENCH_PROFILE_DIR when it is set: the server writes a V8 CPU profile there
 * when it stops (read it with profile-summary.ts and the windows.json the bench writes beside).
 */
export function profileNodeArgs(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * Starts `src/main.ts` pinned to `core` (SERVER_CORE) with `env` (HOST and PORT are chosen here;
 * NODE_ENV=production and logs at info unless `env` says otherwise), under profileNodeArgs(), and
 * waits for `ready` in its output. BENCH_STREAMGATE_DIR measures another checkout (a branch's worktree) with the same
 * benchmark.
 */
export async function startStreamgateProcess(
  env: Readonly<Record<string, string>>,
  options: {
    readonly core?: number;
    readonly nodeArgs?: readonly string[];
    readonly ready?: RegExp;
    /** The checkout to run (default BENCH_STREAMGATE_DIR, else this repository). */
    readonly cwd?: string;
  } = {},
): Promise<StreamgateProcess> {
  const port = await freePort();
  const { process: server, match } = await startPinned({
    core: options.core ?? SERVER_CORE,
    ...((options.cwd ?? process.env.BENCH_STREAMGATE_DIR)
      ? { cwd: options.cwd ?? process.env.BENCH_STREAMGATE_DIR }
      : {}),
    nodeArgs: [...profileNodeArgs(), ...(options.nodeArgs ?? []), 'src/main.ts'],
    // As deployed (the Dockerfile's NODE_ENV, which the baselines run with too).
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
    ready: options.ready ?? LISTENING,
    startTimeoutMs: 120_000,
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: server,
    match,
    cpuMicros: () => cpuMicros(server.pid),
    stop: () => server.stop(),
  };
}
