import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncQueue } from './async-queue.ts';

const root = new URL('../..', import.meta.url).pathname;

/** A streamgate started as `npm start` starts it; every output line is queued. */
export interface StreamgateProcess {
  readonly child: ChildProcess;
  readonly lines: AsyncQueue<string>;
  readonly exited: Promise<number | null>;
  output(): string;
}

/**
 * Starts and tracks real streamgate processes and their temporary directories; `cleanup` (in
 * afterAll) kills what is still running and removes the directories.
 */
export function createProcessRunner() {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  return {
    /**
     * Runs `src/main.ts` with only PATH and the given environment; `command` runs something else
     * from the repository root instead (`['npm', 'start']`, `[node, 'dist/main.js']`).
     */
    start(
      env: Record<string, string>,
      command: readonly string[] = [process.execPath, '--import', 'tsx', 'src/main.ts'],
    ): StreamgateProcess {
      const [file = process.execPath, ...args] = command;
      const child = spawn(file, args, {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const lines = new AsyncQueue<string>();
      let output = '';
      for (const stream of [child.stdout, child.stderr]) {
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          output += chunk;
          for (const line of chunk.split('\n')) if (line.trim()) lines.push(line);
        });
      }
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, lines, exited, output: () => output };
    },
    /** A temporary directory removed by `cleanup`. */
    async tempDir(prefix: string): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/** A TCP port free on loopback right now, for a process that must listen on a known port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves when the process logs that it listens (a loaded machine may want more than 60 s). */
export async function waitForListening(lines: AsyncQueue<string>, timeoutMs = 60_000): Promise<void> {
  for (;;) {
    const line = await lines.next(timeoutMs, 'the "listening" log line');
    if (line.includes('streamgate is listening')) return;
  }
}
