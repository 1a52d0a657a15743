/**
 * The real servers tests run against, and how to drive `scripts/services/<name>.sh`.
 * Shared by the global setup (main process) and `services.ts` (test workers).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SERVICE_NAMES = ['postgres', 'nats', 'redis', 'kafka'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Connection URL per started service: postgres://…, nats://…, redis://…, and Kafka's `host:port`. */
export type ServiceUrls = Readonly<Partial<Record<ServiceName, string>>>;
/** Data directory per started service: the argument for `scripts/services/<name>.sh restart DIR`. */
export type ServiceDirs = Readonly<Partial<Record<ServiceName, string>>>;

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceUrls;
    serviceDirs: ServiceDirs;
  }
}

/** Commands every service script understands (see scripts/services/lib.sh). */
export type ServiceCommand = 'start' | 'restart' | 'down' | 'kill' | 'up' | 'stop';

/** Environment variables the global setup sets for each service: its URL and its DIR. */
export const SERVICE_ENV: Readonly<Record<ServiceName, { url: string; dir: string }>> = {
  postgres: { url: 'TEST_DATABASE_URL', dir: 'TEST_POSTGRES_DIR' },
  nats: { url: 'TEST_NATS_URL', dir: 'TEST_NATS_DIR' },
  redis: { url: 'TEST_REDIS_URL', dir: 'TEST_REDIS_DIR' },
  kafka: { url: 'TEST_KAFKA_BROKERS', dir: 'TEST_KAFKA_DIR' },
};

const SCRIPTS_DIR = fileURLToPath(new URL('../../scripts/services/', import.meta.url));

// The scripts have their own readiness timeouts (Kafka 120 s); these only catch a hung
// install (apt-get, Maven) or shutdown, so they are generous.
const COMMAND_TIMEOUT_MS: Readonly<Record<ServiceCommand, number>> = {
  start: 15 * 60_000,
  restart: 5 * 60_000,
  down: 2 * 60_000,
  kill: 60_000,
  up: 5 * 60_000,
  stop: 2 * 60_000,
};

/** The server could not be started, restarted or stopped; the message carries the script's own report. */
export class ServiceScriptError extends Error {
  override readonly name = 'ServiceScriptError';
  constructor(
    readonly service: ServiceName,
    readonly command: ServiceCommand,
    message: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  /** Pid whose exit makes the server's watchdog stop it (only read by `start`). */
  readonly ownerPid?: number;
}

/**
 * Runs `scripts/services/<name>.sh <command> <dir>` and resolves with the URL it prints
 * (`''` for `down`, `kill` and `stop`). Its stderr is passed through and, on failure, quoted in the error.
 */
export function runServiceScript(
  service: ServiceName,
  command: ServiceCommand,
  dir: string,
  options: RunOptions = {},
): Promise<string> {
  const env =
    options.ownerPid === undefined
      ? process.env
      : { ...process.env, STREAMGATE_SERVICES_OWNER_PID: String(options.ownerPid) };
  // Own process group, so a timeout can kill the script together with apt-get or mvn.
  const child = spawn('bash', [`${SCRIPTS_DIR}${service}.sh`, command, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    process.stderr.write(chunk);
  });

  return new Promise((resolve, reject) => {
    const timeoutMs = COMMAND_TIMEOUT_MS[command];
    const timer = setTimeout(() => {
      stderr += `\n[${service}] ${command} took longer than ${timeoutMs / 1000}s; killed it\n`;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone: nothing left to kill.
      }
    }, timeoutMs);
    // 'close' waits for EOF on stdout/stderr. Should a server ever inherit them, EOF would
    // only come when it exits: once the script itself has exited, stop waiting for that.
    child.on('exit', () => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 2000).unref();
    });
    const failWith = (why: string) =>
      reject(
        new ServiceScriptError(
          service,
          command,
          `${service}.sh ${command} ${dir} ${why}\n${stderr.trimEnd()}`,
        ),
      );

    child.on('error', (error) => {
      clearTimeout(timer);
      failWith(`could not run: ${error.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return failWith(signal ? `was killed by ${signal}` : `exited with ${code}`);
      const url = /^URL=(.+)$/m.exec(stdout)?.[1];
      if ((command === 'down' || command === 'kill' || command === 'stop') && url === undefined)
        return resolve('');
      if (url === undefined) return failWith('printed no URL= line');
      resolve(url);
    });
  });
}

/**
 * Parses STREAMGATE_TEST_SERVICES: unset or `all` means every service, `none` none,
 * otherwise a comma list such as `postgres,nats`. Unknown names are an error, not ignored.
 */
export function selectedServices(value: string | undefined): ServiceName[] {
  const text = (value ?? '').trim();
  if (text === '' || text === 'all') return [...SERVICE_NAMES];
  if (text === 'none') return [];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(SERVICE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `STREAMGATE_TEST_SERVICES names unknown services: ${unknown.join(', ')} (known: ${SERVICE_NAMES.join(', ')}, or all, none)`,
    );
  }
  return SERVICE_NAMES.filter((name) => names.includes(name));
}
