import { type ChildProcess, spawn } from 'node:child_process';
import { AsyncQueue } from './async-queue.ts';

const root = new URL('../..', import.meta.url).pathname;
const running = new Set<ChildProcess>();

/** What a finished `streamgate` run left behind. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `streamgate` process still running; stdout lines are queued as they arrive. */
export interface CliRun {
  readonly child: ChildProcess;
  readonly lines: AsyncQueue<string>;
  readonly exited: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `node bin/streamgate.js ARGS` as a user would run it, with only PATH and `env` set (no
 * inherited STREAMGATE_URL or STREAMGATE_TOKEN).
 */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, ['bin/streamgate.js', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines = new AsyncQueue<string>();
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push(line);
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, lines, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `streamgate ARGS` to the end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).exited;
}

/** Kills every CLI process a test left running (for afterAll). */
export function killCliProcesses(): void {
  for (const child of running) child.kill('SIGKILL');
}
