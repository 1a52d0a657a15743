/**
 * What test files use to reach the real servers started by `global-setup.ts`.
 *
 * The shared servers serve every test file at once. A test that restarts or downs one
 * disturbs the other files running in parallel, so a fault test should start its own server
 * with `startService(name)`, unless it runs alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { runServiceScript, type ServiceDirs, type ServiceName, type ServiceUrls } from './service-scripts.ts';

export type { ServiceName, ServiceUrls } from './service-scripts.ts';

/** URLs of the shared servers that the global setup started (absent: not started). */
export function serviceUrls(): ServiceUrls {
  return inject('services');
}

/** URL of one shared server; throws if the global setup did not start it. */
export function serviceUrl(name: ServiceName): string {
  const url = serviceUrls()[name];
  if (url === undefined) throw notStarted(name);
  return url;
}

function serviceDir(name: ServiceName): string {
  const dirs: ServiceDirs = inject('serviceDirs');
  const dir = dirs[name];
  if (dir === undefined) throw notStarted(name);
  return dir;
}

function notStarted(name: ServiceName): Error {
  const { STREAMGATE_TEST_SERVICES } = process.env;
  return new Error(
    `the ${name} test server was not started: STREAMGATE_TEST_SERVICES=${STREAMGATE_TEST_SERVICES ?? ''} leaves it out`,
  );
}

/** Restarts a shared server (process stopped, data kept, same port); resolves when it is ready again. */
export function restartService(name: ServiceName): Promise<string> {
  return runServiceScript(name, 'restart', serviceDir(name));
}

/** Stops a shared server's process, keeping its data and port, until `bringServiceUp`. */
export async function takeServiceDown(name: ServiceName): Promise<void> {
  await runServiceScript(name, 'down', serviceDir(name));
}

/** Starts a server taken down by `takeServiceDown` again on its port; resolves with its URL when ready. */
export function bringServiceUp(name: ServiceName): Promise<string> {
  return runServiceScript(name, 'up', serviceDir(name));
}

/** A server of a test's own, for fault tests that must not disturb other test files. */
export interface PrivateService {
  readonly name: ServiceName;
  readonly url: string;
  readonly dir: string;
  /** Stop the process and start it again on the same port, data kept. */
  restart(): Promise<void>;
  /** Stop the process, keeping data and port. */
  down(): Promise<void>;
  /** Kill the process with SIGKILL, as a crash would (no shutdown work), keeping data and port. */
  kill(): Promise<void>;
  /** `kill()`, then start it again on the same port and data, as after a crash. */
  crash(): Promise<void>;
  /** Start again after `down()` or `kill()`, on the same port. */
  up(): Promise<void>;
  /** Stop the server and delete its data. Call it in `afterAll`. */
  stop(): Promise<void>;
}

export interface PrivateServiceOptions {
  /**
   * A configuration file in the server's own format, for what its script leaves alone (NATS:
   * users and their permissions); the script's own flags (ports, data) take precedence. Only
   * nats.sh reads it (DIR/server.conf).
   */
  readonly config?: string;
}

/** Starts a private server (Kafka takes a few seconds); stop it in `afterAll`. */
export async function startService(
  name: ServiceName,
  options: PrivateServiceOptions = {},
): Promise<PrivateService> {
  const dir = await mkdtemp(join(tmpdir(), `streamgate-${name}-`));
  if (options.config !== undefined) {
    if (name !== 'nats') throw new Error(`startService: only nats reads a config file, not ${name}`);
    await writeFile(join(dir, 'server.conf'), options.config);
  }
  // The watchdog stops it if this worker dies without calling stop().
  const url = await runServiceScript(name, 'start', dir, { ownerPid: process.pid });
  const run = async (command: 'restart' | 'down' | 'kill' | 'up' | 'stop'): Promise<void> => {
    await runServiceScript(name, command, dir);
  };
  return {
    name,
    url,
    dir,
    restart: () => run('restart'),
    down: () => run('down'),
    kill: () => run('kill'),
    crash: async () => {
      await run('kill');
      await run('up');
    },
    up: () => run('up'),
    stop: () => run('stop'),
  };
}

/**
 * Creates an empty database `sg_<random>` on the shared Postgres server and returns its URL,
 * so each test file gets its own schema and data. It disappears with the server at the end.
 */
export async function createTestDatabase(): Promise<string> {
  const serverUrl = serviceUrl('postgres');
  const name = `sg_${randomBytes(8).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    // The name is generated above, never user input, so interpolating it is safe.
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The test Postgres servers trade durability for speed (`synchronous_commit = off`), so a crash
 * there loses the last commits it acknowledged. A test that kills its private server and counts
 * what was stored needs what a production server does: this turns it back on for the database
 * of `url` (new connections).
 */
export async function requireDurableCommits(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const database = new URL(url).pathname.slice(1) || 'postgres';
    // The name comes from the test's own server URL, never user input.
    await client.query(`ALTER DATABASE "${database}" SET synchronous_commit = on`);
  } finally {
    await client.end();
  }
}
