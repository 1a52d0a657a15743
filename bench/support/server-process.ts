/**
 * A real streamgate for a benchmark, in its own process as `npm start` runs it, pinned to one
 * core when `taskset` exists (the benchmark's client runs on the other), so its CPU time can be
 * read from /proc/PID/stat apart from the client's.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The core the server runs on; the client re-executes itself on the other one. */
export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** User + system CPU time of the server process so far, in microseconds. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

const hasTaskset = (): boolean => spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Runs the current benchmark again on CLIENT_CORE (once: BENCH_PINNED marks the pinned run)
 * and exits with its status; returns when already pinned or when there is no taskset.
 */
export function pinClientCore(): void {
  if (process.env.BENCH_PINNED || !hasTaskset()) return;
  const result = spawnSync(
    'taskset',
    ['-c', String(CLIENT_CORE), process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, BENCH_PINNED: '1' } },
  );
  process.exit(result.status ?? 1);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readCpuMicros(pid: number): number {
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / TICKS_PER_SECOND;
}

/**
 * Starts `src/main.ts` with `env` (PORT is chosen here) and resolves once it answers HTTP.
 * BENCH_CPU_PROF=DIR writes a V8 CPU profile of the server there when it stops.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const node = [
    ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    '--import',
    'tsx',
    'src/main.ts',
  ];
  const [command, args] = hasTaskset()
    ? ['taskset', ['-c', String(SERVER_CORE), process.execPath, ...node]]
    : [process.execPath, node];
  const child: ChildProcess = spawn(command as string, args as string[], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`streamgate exited with ${child.exitCode} at start-up`);
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('streamgate did not answer within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const pid = child.pid as number;
  return {
    url,
    pid,
    cpuMicros: () => readCpuMicros(pid),
    async stop() {
      // SIGTERM drains and exits (and lets --cpu-prof write its profile).
      child.kill('SIGTERM');
      await exited;
    },
  };
}
