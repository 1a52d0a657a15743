import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type ServerName = 'nats' | 'redis' | 'kafka' | 'postgres';

/** A throwaway server started with scripts/services/<name>.sh; `stop()` removes it. */
export interface BenchServer {
  readonly url: string;
  /** The server's process (DIR/pid of the service script), for its CPU time. */
  readonly pid: number;
  stop(): void;
}

const SCRIPTS = fileURLToPath(new URL('../../scripts/services/', import.meta.url));

export interface StartServerOptions {
  /**
   * Pins the server and every process it has started (Postgres' backends fork from the pinned
   * postmaster, so later connections stay on it) to this CPU core; unpinned by default.
   */
  readonly core?: number;
}

/** Starts a server of the benchmark's own (never a shared one); throws with the script's report. */
export function startServer(name: ServerName, options: StartServerOptions = {}): BenchServer {
  const dir = mkdtempSync(join(tmpdir(), `streamgate-bench-${name}-`));
  const script = `${SCRIPTS}${name}.sh`;
  const started = spawnSync('bash', [script, 'start', dir], {
    encoding: 'utf8',
    env: { ...process.env, STREAMGATE_SERVICES_OWNER_PID: String(process.pid) },
  });
  const url = /^URL=(.+)$/m.exec(started.stdout ?? '')?.[1];
  if (started.status !== 0 || url === undefined) {
    throw new Error(`${name}.sh start failed:\n${started.stderr}`);
  }
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
  if (options.core !== undefined) pinProcessTree(pid, options.core);
  return {
    url,
    pid,
    stop: () => {
      spawnSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
    },
  };
}

/** A fresh database on the benchmark's Postgres server. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Pins a process, its threads and its children's (as they are now) to one core. */
function pinProcessTree(pid: number, core: number): void {
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '';
  for (const each of [String(pid), ...children.split('\n').filter((line) => line.trim() !== '')]) {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), each.trim()], { stdio: 'ignore' });
  }
}
